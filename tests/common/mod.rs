//! Helpers shared by the integration tests: temp dirs, generated OCI layouts, archives, chunks,
//! the `zarf-injector` process and a raw HTTP client.
//!
//! Everything is generated in Rust (no network, no registry tools), so `cargo test` runs
//! anywhere; only the GNU `tar` archives need the `tar` program.
#![allow(dead_code)] // each test file uses a different subset

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ----------------------------------------------------------------------------------------------
// Temp dirs

static NEXT_TEMP: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under `std::env::temp_dir()`, removed with everything in it on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/zit-<label>-<pid>-<n>-<nanos>`; `label` keeps leftovers recognisable.
    pub fn new(label: &str) -> TempDir {
        for _ in 0..1000 {
            let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = format!("zit-{label}-{}-{n}-{nanos}", std::process::id());
            let path = std::env::temp_dir().join(name);
            match fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
        panic!("no unique temp dir name found");
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/name`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ----------------------------------------------------------------------------------------------
// Deterministic data

/// xorshift64*: deterministic, fast enough for test data, not for anything else.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, including 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fills `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// `len` incompressible bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        self.fill(&mut buf);
        buf
    }

    /// `len` bytes of a 16-letter alphabet: deflate compresses them with Huffman codes (so a
    /// flipped byte breaks the stream) to about half their size.
    pub fn text(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.bytes(len);
        for byte in &mut buf {
            *byte = b"abcdefghijklmnop"[usize::from(*byte & 15)];
        }
        buf
    }
}

/// Streams `len` bytes of cheap data: one random 1 MiB block repeated, each copy stamped with
/// its number every 4 KiB, so no two MiB (and no two 768 KiB chunks) are equal.
pub struct PatternReader {
    block: Vec<u8>,
    number: u64,
    pos: usize,
    remaining: u64,
}

impl PatternReader {
    /// `len` bytes from `rng`'s block.
    pub fn new(rng: &mut Rng, len: u64) -> PatternReader {
        let mut reader = PatternReader {
            block: rng.bytes(1 << 20),
            number: 0,
            pos: 0,
            remaining: len,
        };
        reader.stamp();
        reader
    }

    /// Writes the block's number every 4 KiB, so that every chunk-sized window differs.
    fn stamp(&mut self) {
        let number = self.number.to_le_bytes();
        for at in (0..self.block.len()).step_by(4096) {
            self.block[at..at + 8].copy_from_slice(&number);
        }
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.block.len() {
            self.number += 1;
            self.pos = 0;
            self.stamp();
        }
        let left = self.block.len() - self.pos;
        let n = buf
            .len()
            .min(left)
            .min(usize::try_from(self.remaining).unwrap_or(left));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

// ----------------------------------------------------------------------------------------------
// Hashing

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// SHA-256 of a file's content, lowercase hex, streaming.
pub fn sha256_file(path: &Path) -> String {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut writer = HashingWriter::new(io::sink());
    io::copy(&mut BufReader::with_capacity(1 << 20, file), &mut writer)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    writer.finish().1
}

/// Passes writes through to `inner` while hashing and counting them.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The inner writer, the SHA-256 (hex) and the length of everything written.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

// ----------------------------------------------------------------------------------------------
// OCI layouts

/// `application/vnd.oci.image.manifest.v1+json`.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// An uncompressed tar layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip'd tar layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The annotation naming an image in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The content of `oci-layout`.
pub const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
/// The mtime of every generated tar entry.
pub const MTIME: u64 = 1_700_000_000;

/// A path over 100 bytes that ustar can still store, split into prefix (<= 155) and name (<= 100).
pub const LONG_SPLIT_PATH: &str = concat!(
    "annotations/",
    "split-0123456789012345678901234567890123456789012345678901234567890/",
    "split-0123456789012345678901234567890123456789012345678901234567890/",
    "name-01234567890123456789012345678901234567890123456789012345678901234567.txt",
);
/// A path whose last component alone is 150 bytes: only PAX or GNU long names can store it.
pub const LONG_NAME_PATH: &str = concat!(
    "annotations/",
    "long-0123456789012345678901234567890123456789012345678901234567890123456789",
    "0123456789012345678901234567890123456789012345678901234567890123456789.txt",
);

/// What [`build_layout`] generates.
#[derive(Clone, Copy, Debug)]
pub struct LayoutOptions {
    /// Seeds all content; the same options give the same bytes.
    pub seed: u64,
    /// The size of each small layer's file (layers are 1 to 3 per image).
    pub layer_size: usize,
    /// If non-zero, the first image gets one more layer holding a file of this many bytes,
    /// streamed to disk (use for payloads of hundreds of MB).
    pub big_layer: u64,
    /// Compressible layer content instead of random bytes.
    pub text: bool,
    /// Extra files (relative paths) written next to `index.json`, 64 random bytes each.
    pub extra_files: &'static [&'static str],
}

impl LayoutOptions {
    /// About 2 MB of random layers: a few 786432-byte chunks.
    pub const DEFAULT: LayoutOptions = LayoutOptions {
        seed: 1,
        layer_size: 300_000,
        big_layer: 0,
        text: false,
        extra_files: &[],
    };
    /// A few KB: for cases where only the structure matters.
    pub const TINY: LayoutOptions = LayoutOptions {
        seed: 2,
        layer_size: 1_000,
        big_layer: 0,
        text: false,
        extra_files: &[],
    };
}

/// A blob of the layout, as its descriptor.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The descriptor's media type.
    pub media_type: &'static str,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Blob {
    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    /// Where the blob is stored under the layout `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join("blobs/sha256").join(self.hex())
    }

    /// The descriptor as JSON; `extra` is appended inside the object (starts with `,`).
    pub fn descriptor(&self, extra: &str) -> String {
        format!(
            "{{\"mediaType\":\"{}\",\"digest\":\"{}\",\"size\":{}{extra}}}",
            self.media_type, self.digest, self.size
        )
    }
}

/// An image named in `index.json`.
#[derive(Clone, Debug)]
pub struct Image {
    /// The `org.opencontainers.image.ref.name` annotation.
    pub reference: String,
    /// The manifest or image index that `index.json` points at.
    pub manifest: Blob,
    /// For an image index, its platform manifests (empty for a manifest).
    pub children: Vec<Blob>,
    /// Every layer of the image (of all platforms).
    pub layers: Vec<Blob>,
}

/// What [`build_layout`] wrote.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The images in `index.json`, in order: a single-platform image then a multi-arch one.
    pub images: Vec<Image>,
    /// Every blob written.
    pub blobs: Vec<Blob>,
}

/// Writes an OCI image layout into `dir` (created if needed): `oci-layout`, `index.json`
/// naming `docker.io/library/app:1.0` (a manifest) and `ghcr.io/example/multi:latest` (an image
/// index of linux/amd64 and linux/arm64/v8 manifests), and `blobs/sha256/<hex>` for every config,
/// layer, manifest and index.
pub fn build_layout(dir: &Path, options: &LayoutOptions) -> Layout {
    fs::create_dir_all(dir.join("blobs/sha256")).expect("create blobs/sha256");
    fs::write(dir.join("oci-layout"), OCI_LAYOUT).expect("write oci-layout");
    let mut writer = LayoutWriter {
        dir,
        options,
        rng: Rng::new(options.seed),
        blobs: Vec::new(),
        files: 0,
    };
    let app = writer.single_image("docker.io/library/app:1.0");
    let multi = writer.multi_arch_image("ghcr.io/example/multi:latest");
    writer.extra_files();
    let images = vec![app, multi];
    fs::write(dir.join("index.json"), index_json(&images)).expect("write index.json");
    Layout {
        images,
        blobs: writer.blobs,
    }
}

/// `index.json` for `images`, each with its reference annotation.
pub fn index_json(images: &[Image]) -> String {
    let entries: Vec<String> = images
        .iter()
        .map(|image| {
            let note = format!(
                ",\"annotations\":{{\"{REF_NAME}\":\"{}\"}}",
                image.reference
            );
            image.manifest.descriptor(&note)
        })
        .collect();
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{INDEX}\",\"manifests\":[{}]}}",
        entries.join(",")
    )
}

struct LayoutWriter<'a> {
    dir: &'a Path,
    options: &'a LayoutOptions,
    rng: Rng,
    blobs: Vec<Blob>,
    files: usize,
}

impl LayoutWriter<'_> {
    fn put(&mut self, media_type: &'static str, data: &[u8]) -> Blob {
        let blob = Blob {
            media_type,
            digest: format!("sha256:{}", sha256_hex(data)),
            size: data.len() as u64,
        };
        fs::write(blob.path(self.dir), data).expect("write blob");
        self.blobs.push(blob.clone());
        blob
    }

    /// A layer: a tar holding one file, gzip'd for the first layer of each image.
    fn layer(&mut self, gzip: bool) -> (Blob, String) {
        self.files += 1;
        let size = self.options.layer_size;
        let content = if self.options.text {
            self.rng.text(size)
        } else {
            self.rng.bytes(size)
        };
        let mut builder = tar::Builder::new(Vec::new());
        let name = format!("files/layer-{}.bin", self.files);
        append_entry(&mut builder, &name, tar::EntryType::Regular, &content);
        let tar = builder.into_inner().expect("finish layer tar");
        let diff_id = format!("sha256:{}", sha256_hex(&tar));
        if !gzip {
            return (self.put(LAYER_TAR, &tar), diff_id);
        }
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&tar).expect("gzip layer");
        let gz = encoder.finish().expect("finish gzip layer");
        (self.put(LAYER_GZIP, &gz), diff_id)
    }

    /// An uncompressed tar layer holding one `size`-byte file, streamed to disk.
    fn big_layer(&mut self, size: u64) -> (Blob, String) {
        let partial = self.dir.join("blobs/sha256/partial");
        let file = BufWriter::with_capacity(1 << 20, File::create(&partial).expect("create"));
        let mut builder = tar::Builder::new(HashingWriter::new(file));
        let mut header = file_header(tar::EntryType::Regular, size);
        let data = PatternReader::new(&mut self.rng, size);
        builder
            .append_data(&mut header, "files/big.bin", data)
            .expect("write big layer");
        let hashing = builder.into_inner().expect("finish big layer");
        let (mut file, hex, len) = hashing.finish();
        file.flush().expect("flush big layer");
        let blob = Blob {
            media_type: LAYER_TAR,
            digest: format!("sha256:{hex}"),
            size: len,
        };
        fs::rename(&partial, blob.path(self.dir)).expect("rename big layer");
        self.blobs.push(blob.clone());
        let diff_id = blob.digest.clone();
        (blob, diff_id)
    }

    fn config(&mut self, arch: &str, diff_ids: &[String]) -> Blob {
        let ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
        let json = format!(
            "{{\"architecture\":\"{arch}\",\"os\":\"linux\",\"config\":{{\"Cmd\":[\"/bin/sh\"]}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            ids.join(",")
        );
        self.put(CONFIG, json.as_bytes())
    }

    /// Config, layers and manifest of one platform; returns the manifest and the layers.
    fn platform(&mut self, arch: &str, big: u64) -> (Blob, Vec<Blob>) {
        let count = 1 + self.rng.below(3);
        let (mut layers, mut diff_ids) = (Vec::new(), Vec::new());
        for n in 0..count {
            let (layer, diff_id) = self.layer(n == 0);
            layers.push(layer);
            diff_ids.push(diff_id);
        }
        if big > 0 {
            let (layer, diff_id) = self.big_layer(big);
            layers.push(layer);
            diff_ids.push(diff_id);
        }
        let config = self.config(arch, &diff_ids);
        let descriptors: Vec<String> = layers.iter().map(|l| l.descriptor("")).collect();
        let json = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{MANIFEST}\",\"config\":{},\"layers\":[{}]}}",
            config.descriptor(""),
            descriptors.join(",")
        );
        (self.put(MANIFEST, json.as_bytes()), layers)
    }

    fn single_image(&mut self, reference: &str) -> Image {
        let (manifest, layers) = self.platform("amd64", self.options.big_layer);
        Image {
            reference: reference.to_string(),
            manifest,
            children: Vec::new(),
            layers,
        }
    }

    fn multi_arch_image(&mut self, reference: &str) -> Image {
        let (amd64, mut layers) = self.platform("amd64", 0);
        let (arm64, arm_layers) = self.platform("arm64", 0);
        layers.extend(arm_layers);
        let json = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{INDEX}\",\"manifests\":[{},{}]}}",
            amd64.descriptor(",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"),
            arm64.descriptor(
                ",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}"
            ),
        );
        Image {
            reference: reference.to_string(),
            manifest: self.put(INDEX, json.as_bytes()),
            children: vec![amd64, arm64],
            layers,
        }
    }

    fn extra_files(&mut self) {
        for name in self.options.extra_files {
            let path = self.dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("create extra file's directory");
            }
            fs::write(&path, self.rng.bytes(64)).expect("write extra file");
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Archives

/// How [`append_tree`] names entries.
#[derive(Clone, Copy, Debug)]
pub struct TarOptions {
    /// Prepended to every entry name, e.g. `./`.
    pub prefix: &'static str,
    /// Whether directories get their own entries (files' parents are implied otherwise).
    pub dir_entries: bool,
}

impl TarOptions {
    /// Plain relative names with directory entries.
    pub const PLAIN: TarOptions = TarOptions {
        prefix: "",
        dir_entries: true,
    };
}

/// A GNU-format header with fixed metadata: mode 0755/0644, uid 0, [`MTIME`].
pub fn file_header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header
}

/// Appends one entry holding `data`.
pub fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    kind: tar::EntryType,
    data: &[u8],
) {
    append_stream(builder, name, kind, data.len() as u64, data);
}

/// Appends one entry of `size` bytes read from `data`. Names under 100 bytes go into the header
/// as they are (so a `./` prefix stays); longer ones through a GNU long-name entry.
pub fn append_stream<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    kind: tar::EntryType,
    size: u64,
    data: impl Read,
) {
    let mut header = file_header(kind, size);
    let result = if name.len() < 100 {
        set_raw_name(&mut header, name.as_bytes());
        header.set_cksum();
        builder.append(&header, data)
    } else {
        builder.append_data(&mut header, name, data)
    };
    result.unwrap_or_else(|e| panic!("append {name} to tar: {e}"));
}

/// Writes `name` into the header's 100-byte name field as it is: no normalisation, so `..`
/// and absolute names (which `set_path` refuses) can be written. Call `set_cksum` after.
pub fn set_raw_name(header: &mut tar::Header, name: &[u8]) {
    let field = &mut header.as_old_mut().name;
    assert!(name.len() <= field.len(), "raw tar name too long");
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
}

/// Appends an entry written byte for byte: `name` and `link` unchecked, device 1:3 for
/// character and block devices. For hostile archives.
pub fn append_raw<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &[u8],
    kind: tar::EntryType,
    link: &[u8],
    data: &[u8],
) {
    let mut header = file_header(kind, data.len() as u64);
    set_raw_name(&mut header, name);
    let field = &mut header.as_old_mut().linkname;
    field[..link.len()].copy_from_slice(link);
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        header.set_device_major(1).expect("device major");
        header.set_device_minor(3).expect("device minor");
    }
    header.set_cksum();
    builder.append(&header, data).expect("append raw entry");
}

/// One PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = 3 + key.len() + value.len(); // " ", "=", "\n"
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    assert_eq!(record.len(), len, "PAX record length");
    record
}

/// Appends a PAX extended header (`x`) setting the next entry's `path` to `path`.
pub fn append_pax_path<W: Write>(builder: &mut tar::Builder<W>, path: &[u8]) {
    let record = pax_record("path", path);
    append_raw(
        builder,
        b"PaxHeaders/entry",
        tar::EntryType::XHeader,
        b"",
        &record,
    );
}

/// Appends a GNU long-name entry (`L`, `././@LongLink`) naming the next entry `name`.
pub fn append_gnu_long_name<W: Write>(builder: &mut tar::Builder<W>, name: &[u8]) {
    let mut data = name.to_vec();
    data.push(0);
    append_raw(
        builder,
        b"././@LongLink",
        tar::EntryType::GNULongName,
        b"",
        &data,
    );
}

/// The paths under `root` (relative, `/`-separated), sorted, directories before their content,
/// with the type of each (symlinks not followed).
pub fn tree(root: &Path) -> Vec<(String, fs::FileType)> {
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, fs::FileType)>) {
    let read = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    let mut names: Vec<String> = read
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let kind = fs::symlink_metadata(&path).expect("lstat").file_type();
        let rel = format!("{rel}{name}");
        out.push((rel.clone(), kind));
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), out);
        }
    }
}

/// Appends the tree under `src` (files and, if asked, directories) in sorted order.
pub fn append_tree<W: Write>(builder: &mut tar::Builder<W>, src: &Path, options: &TarOptions) {
    for (rel, kind) in tree(src) {
        let name = format!("{}{rel}", options.prefix);
        if kind.is_dir() && options.dir_entries {
            append_entry(builder, &format!("{name}/"), tar::EntryType::Directory, &[]);
        } else if kind.is_file() {
            let file = File::open(src.join(&rel)).expect("open file to tar");
            let size = file.metadata().expect("stat file to tar").len();
            let data = BufReader::with_capacity(1 << 20, file);
            append_stream(builder, &name, tar::EntryType::Regular, size, data);
        }
    }
}

/// A buffered file for an archive.
pub fn create(path: &Path) -> BufWriter<File> {
    let file = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    BufWriter::with_capacity(1 << 20, file)
}

/// Writes a gzip'd tar of `src` to `out`, streaming; `level` 0 stores without compressing.
pub fn tar_gz_dir(src: &Path, out: &Path, level: u32, options: &TarOptions) {
    tar_gz_into(src, create(out), level, options)
        .flush()
        .expect("flush");
}

/// Streams a gzip'd tar of `src` into `out` and returns it.
pub fn tar_gz_into<W: Write>(src: &Path, out: W, level: u32, options: &TarOptions) -> W {
    let encoder = GzEncoder::new(out, Compression::new(level));
    let mut builder = tar::Builder::new(encoder);
    append_tree(&mut builder, src, options);
    let encoder = builder.into_inner().expect("finish tar");
    encoder.finish().expect("finish gzip")
}

/// Writes an uncompressed tar of `src` to `out`, streaming.
pub fn tar_dir(src: &Path, out: &Path, options: &TarOptions) {
    let mut builder = tar::Builder::new(create(out));
    append_tree(&mut builder, src, options);
    builder
        .into_inner()
        .expect("finish tar")
        .flush()
        .expect("flush");
}

/// Archives `src` with GNU tar: `tar --format=FORMAT -C src -c[z]f out .` (so every entry
/// starts with `./`). `format` is `ustar`, `pax`, `gnu`, ...
pub fn gnu_tar(src: &Path, out: &Path, format: &str, gzip: bool) {
    let output = Command::new("tar")
        .arg(format!("--format={format}"))
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
        ])
        .arg(src)
        .arg(if gzip { "-czf" } else { "-cf" })
        .arg(out)
        .arg(".")
        .output()
        .expect("run GNU tar (is `tar` installed?)");
    assert!(
        output.status.success(),
        "tar --format={format} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// gzip'd `data` at the default level.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("finish gzip")
}

// ----------------------------------------------------------------------------------------------
// Chunks

/// `zarf-payload-%03d`, as Zarf names its ConfigMaps: 1000 gives `zarf-payload-1000`.
pub fn chunk_name(index: usize) -> String {
    format!("zarf-payload-{index:03}")
}

/// Writes what it is given into `dir/name(0)`, `dir/name(1)`, ..., `size` bytes each.
pub struct ChunkWriter {
    dir: PathBuf,
    size: u64,
    name: fn(usize) -> String,
    file: Option<File>,
    used: u64,
    count: usize,
}

impl ChunkWriter {
    /// Chunks of `size` bytes named by `name`.
    pub fn new(dir: &Path, size: u64, name: fn(usize) -> String) -> ChunkWriter {
        assert!(size > 0, "chunk size 0");
        ChunkWriter {
            dir: dir.to_path_buf(),
            size,
            name,
            file: None,
            used: 0,
            count: 0,
        }
    }

    /// The number of chunk files written.
    pub fn finish(mut self) -> usize {
        self.flush().expect("flush chunk");
        self.count
    }

    /// Starts the next chunk file if there is none yet or the current one is full.
    fn rotate(&mut self) -> io::Result<()> {
        if self.file.is_none() || self.used == self.size {
            self.flush()?;
            let path = self.dir.join((self.name)(self.count));
            self.file = Some(File::create(path)?);
            self.used = 0;
            self.count += 1;
        }
        Ok(())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.rotate()?;
        let room = usize::try_from(self.size - self.used).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("no chunk"))?;
        file.write_all(&buf[..n])?;
        self.used += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// Splits `file` into `zarf-payload-000`, `-001`, ... of `chunk_size` bytes in `init_dir`;
/// returns the number of chunks.
pub fn split_into_chunks(file: &Path, init_dir: &Path, chunk_size: u64) -> usize {
    split_into_chunks_named(file, init_dir, chunk_size, chunk_name)
}

/// [`split_into_chunks`] with other chunk names.
pub fn split_into_chunks_named(
    file: &Path,
    init_dir: &Path,
    chunk_size: u64,
    name: fn(usize) -> String,
) -> usize {
    let mut input = File::open(file).unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    let mut chunks = ChunkWriter::new(init_dir, chunk_size, name);
    io::copy(&mut input, &mut chunks).expect("write chunks");
    chunks.finish()
}

// ----------------------------------------------------------------------------------------------
// The injector process

/// How long an unpack may take before `listening on` (big payloads through a debug binary).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a failing run may take before it exits.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// `zarf-injector <checksum> 127.0.0.1:0` with the init and seed directories in its environment.
pub fn unpack_command(checksum: &str, init: &Path, seed: &Path) -> Command {
    let mut command = Command::new(injector_binary());
    command
        .arg(checksum)
        .arg("127.0.0.1:0")
        .env("ZARF_INJECTOR_INIT_ROOT", init)
        .env("ZARF_INJECTOR_SEED_ROOT", seed);
    command
}

/// The `zarf-injector` under test: this package's, or the build named by the environment
/// variable `ZARF_INJECTOR_TEST_BIN` (to run the same tests against a release binary, or
/// against an earlier build to see a new test fail there).
pub fn injector_binary() -> PathBuf {
    match std::env::var_os("ZARF_INJECTOR_TEST_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_zarf-injector")),
    }
}

/// `zarf-injector serve <layout> 127.0.0.1:0`.
pub fn serve_command(layout: &Path) -> Command {
    let mut command = Command::new(injector_binary());
    command.arg("serve").arg(layout).arg("127.0.0.1:0");
    command
}

/// `zarf-injector serve <layout> 127.0.0.1:0` with its descriptor limit (soft and hard) set to
/// `descriptors` by the shell's `ulimit -n`, as in a container with that limit.
pub fn serve_command_with_descriptors(layout: &Path, descriptors: u64) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {descriptors} && exec \"$0\" \"$@\""))
        .arg(injector_binary())
        .arg("serve")
        .arg(layout)
        .arg("127.0.0.1:0");
    command
}

/// The descriptor limit that makes the server's connection cap `cap`.
pub fn descriptors_for_cap(cap: usize) -> u64 {
    cap as u64 + zarf_injector::connections::RESERVED_DESCRIPTORS
}

/// `zarf-injector ARGS...` with the init and seed directories in its environment (so that a
/// mistakenly accepted command line never touches `/zarf-init` or `/zarf-seed`).
pub fn injector_command(args: &[&str], init: &Path, seed: &Path) -> Command {
    let mut command = Command::new(injector_binary());
    command
        .args(args)
        .env("ZARF_INJECTOR_INIT_ROOT", init)
        .env("ZARF_INJECTOR_SEED_ROOT", seed);
    command
}

/// A child process killed (and reaped) on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(mut command: Command) -> (ChildGuard, ChildStdout, ChildStderr) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    (ChildGuard(child), stdout, stderr)
}

/// Sends each line of `out` to the channel, draining to EOF even when nobody listens any more
/// (a closed pipe would make the server's next `println!` fail).
fn line_reader(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            match line {
                Ok(line) => {
                    let _ = tx.send(line);
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// Collects all of `out` (to EOF) into the shared string.
fn text_collector(out: impl Read + Send + 'static) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let text = Arc::new(Mutex::new(String::new()));
    let shared = Arc::clone(&text);
    let handle = thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let mut text = shared.lock().unwrap_or_else(|e| e.into_inner());
            text.push_str(&line);
            text.push('\n');
        }
    });
    (text, handle)
}

/// A running server: killed on drop.
pub struct Running {
    guard: ChildGuard,
    /// The stdout lines up to and including `listening on ADDR`.
    pub stdout: Vec<String>,
    /// The address from `listening on ADDR`.
    pub addr: SocketAddr,
    later_stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// The stderr written so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stdout lines written after `listening on` so far.
    pub fn more_stdout(&self) -> Vec<String> {
        self.later_stdout.try_iter().collect()
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.guard.0.id()
    }

    /// Whether the process has exited (and how).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.guard.0.try_wait().ok().flatten()
    }
}

/// Starts `command` and waits (at most `timeout`) for its `listening on ADDR` line; panics
/// with its stdout and stderr if it exits or times out first.
pub fn start(command: Command, timeout: Duration) -> Running {
    match start_or_exit(command, timeout) {
        Ok(running) => running,
        Err(exit) => panic!("exited before `listening on`: {exit:#?}"),
    }
}

/// Starts `command` and waits (at most `timeout`) for either its `listening on ADDR` line
/// (`Ok`) or its exit (`Err`, with all it wrote); panics on timeout.
pub fn start_or_exit(command: Command, timeout: Duration) -> Result<Running, Exit> {
    let (mut guard, stdout, stderr) = spawn(command);
    let lines = line_reader(stdout);
    let (stderr, stderr_done) = text_collector(stderr);
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let addr = line.strip_prefix("listening on ").map(parse_addr);
                seen.push(line);
                if let Some(addr) = addr {
                    return Ok(Running {
                        guard,
                        stdout: seen,
                        addr,
                        later_stdout: lines,
                        stderr,
                    });
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                drop(guard);
                let _ = stderr_done.join();
                let err = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("no `listening on` within {timeout:?}\nstdout: {seen:#?}\nstderr: {err}");
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = wait_until(&mut guard, deadline);
                drop(guard);
                let _ = stderr_done.join();
                let err = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                let stdout: String = seen.iter().map(|line| format!("{line}\n")).collect();
                let Some(status) = status else {
                    panic!("closed stdout but still running\nstdout: {stdout}\nstderr: {err}");
                };
                return Err(Exit {
                    status,
                    stdout,
                    stderr: err,
                });
            }
        }
    }
}

fn parse_addr(text: &str) -> SocketAddr {
    let addr: SocketAddr = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("`listening on {text}`: not an address: {e}"));
    assert_ne!(addr.port(), 0, "listening on port 0: not the bound address");
    addr
}

/// Unpacks with `checksum` and waits for `listening on` (up to [`START_TIMEOUT`]).
pub fn run_injector(checksum: &str, init: &Path, seed: &Path) -> Running {
    start(unpack_command(checksum, init, seed), START_TIMEOUT)
}

/// Serves the layout `dir` and waits for `listening on`.
pub fn run_serve(dir: &Path) -> Running {
    start(serve_command(dir), START_TIMEOUT)
}

/// How a process ended.
#[derive(Debug)]
pub struct Exit {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `command` to its exit; kills it and panics if it takes longer than `timeout` (a
/// failure case that unexpectedly succeeded would serve forever).
pub fn run_to_exit(command: Command, timeout: Duration) -> Exit {
    let (mut guard, stdout, stderr) = spawn(command);
    let (stdout, stdout_done) = text_collector(stdout);
    let (stderr, stderr_done) = text_collector(stderr);
    let status = wait_until(&mut guard, Instant::now() + timeout);
    drop(guard);
    let _ = (stdout_done.join(), stderr_done.join());
    let take = |text: Arc<Mutex<String>>| text.lock().map(|s| s.clone()).unwrap_or_default();
    let (stdout, stderr) = (take(stdout), take(stderr));
    match status {
        Some(status) => Exit {
            status,
            stdout,
            stderr,
        },
        None => panic!("still running after {timeout:?}\nstdout: {stdout}\nstderr: {stderr}"),
    }
}

/// Waits for the child to exit, polling, until `deadline`; `None` if it is still running.
fn wait_until(guard: &mut ChildGuard, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Unpacks with `checksum` and waits for the process to exit (up to [`EXIT_TIMEOUT`]).
pub fn run_injector_to_exit(checksum: &str, init: &Path, seed: &Path) -> Exit {
    run_to_exit(unpack_command(checksum, init, seed), EXIT_TIMEOUT)
}

// ----------------------------------------------------------------------------------------------
// HTTP

/// A response read by [`http_exchange`].
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The limit on a response head.
const MAX_HEAD: usize = 64 * 1024;
/// Read and write timeout of the HTTP helpers.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET path` with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    http_exchange(addr, request.as_bytes(), true)
}

/// A new connection to `addr` whose reads and writes give up after [`HTTP_TIMEOUT`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).expect("connect");
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(HTTP_TIMEOUT))
        .expect("write timeout");
    stream
}

/// Sends `request` as it is (malformed requests welcome) on a new connection and reads one
/// response; `with_body` false for HEAD. The body is `Content-Length` bytes, or everything to
/// EOF without one.
pub fn http_exchange(addr: SocketAddr, request: &[u8], with_body: bool) -> Response {
    let mut stream = connect(addr);
    stream.write_all(request).expect("send request");
    let (head, mut body) = read_head(&mut stream);
    let (status, headers) = parse_head(&head);
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if with_body {
        let length = response.header("content-length").map(|v| v.trim().parse());
        match length {
            Some(Ok(length)) => read_exactly(&mut stream, &mut body, length),
            Some(Err(e)) => panic!("bad Content-Length: {e}"),
            None => {
                stream.read_to_end(&mut body).expect("read body to EOF");
            }
        }
        response.body = body;
    }
    let _ = stream.shutdown(Shutdown::Both);
    response
}

/// Reads up to the blank line; returns the head and what was read past it.
fn read_head(stream: &mut TcpStream) -> (Vec<u8>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (buf, rest);
        }
        assert!(buf.len() < MAX_HEAD, "response head over {MAX_HEAD} bytes");
        let n = stream.read(&mut piece).expect("read response head");
        assert!(n > 0, "connection closed in the response head: {buf:?}");
        buf.extend_from_slice(&piece[..n]);
    }
}

/// Parses a response head of this server: `HTTP/1.1 NNN ...` and its header fields.
pub fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let text = std::str::from_utf8(head).expect("response head is not UTF-8");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next().expect("status line");
    assert!(
        status_line.starts_with("HTTP/1.1 "),
        "bad status line {status_line:?}"
    );
    let status = status_line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header without ':'");
            (name.to_string(), value.trim().to_string())
        })
        .collect();
    (status, headers)
}

fn read_exactly(stream: &mut TcpStream, body: &mut Vec<u8>, length: usize) {
    assert!(body.len() <= length, "more bytes than Content-Length");
    let start = body.len();
    body.resize(length, 0);
    stream
        .read_exact(&mut body[start..])
        .expect("read Content-Length bytes");
}

// ----------------------------------------------------------------------------------------------
// Trees

/// The relative paths under `root` with a one-letter type: `d`, `f`, `l` (symlink), `o`.
pub fn list_tree(root: &Path) -> BTreeMap<String, char> {
    tree(root)
        .into_iter()
        .map(|(rel, kind)| {
            let letter = match kind {
                k if k.is_dir() => 'd',
                k if k.is_file() => 'f',
                k if k.is_symlink() => 'l',
                _ => 'o',
            };
            (rel, letter)
        })
        .collect()
}

/// Asserts that `a` and `b` hold the same directories and files (no symlinks or others in
/// either) and that every file is byte for byte equal.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (left, right) = (list_tree(a), list_tree(b));
    let only = |x: &BTreeMap<String, char>, y: &BTreeMap<String, char>| -> BTreeSet<String> {
        x.iter()
            .filter(|(k, v)| y.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k} ({v})"))
            .collect()
    };
    let (only_a, only_b) = (only(&left, &right), only(&right, &left));
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "trees differ:\nonly in {}: {only_a:#?}\nonly in {}: {only_b:#?}",
        a.display(),
        b.display()
    );
    for (rel, kind) in &left {
        assert!(
            matches!(kind, 'd' | 'f'),
            "{rel}: neither file nor directory"
        );
        if *kind == 'f' {
            assert_same_file(&a.join(rel), &b.join(rel));
        }
    }
}

/// Asserts that two files have the same bytes, streaming; names the first differing offset.
pub fn assert_same_file(a: &Path, b: &Path) {
    let len = |p: &Path| fs::metadata(p).expect("stat").len();
    assert_eq!(
        len(a),
        len(b),
        "sizes differ: {} {}",
        a.display(),
        b.display()
    );
    let open = |p: &Path| BufReader::with_capacity(1 << 20, File::open(p).expect("open"));
    let (mut ra, mut rb) = (open(a), open(b));
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    let mut left = len(a);
    while left > 0 {
        let n = usize::try_from(left.min(1 << 20)).expect("chunk fits usize");
        ra.read_exact(&mut ba[..n]).expect("read a");
        rb.read_exact(&mut bb[..n]).expect("read b");
        if ba[..n] != bb[..n] {
            let i = ba[..n].iter().zip(&bb[..n]).position(|(x, y)| x != y);
            let at = offset + i.unwrap_or(0) as u64;
            panic!("{} and {} differ at byte {at}", a.display(), b.display());
        }
        offset += n as u64;
        left -= n as u64;
    }
}

/// Runs `check` on every case, even after one fails, then fails naming every failed case.
/// Each case's own panic message is printed as it happens.
pub fn run_cases<C>(cases: &[C], name: fn(&C) -> &str, check: fn(&C)) {
    let failed: Vec<&str> = cases
        .iter()
        .filter(|case| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case)));
            result.is_err()
        })
        .map(name)
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:#?}");
}

// ----------------------------------------------------------------------------------------------
// One unpack test's directories

/// One test's directories: `src` (a layout), `init` (chunks), `seed`, and the `payload` file.
pub struct Fixture {
    /// The temp dir holding the others; removed on drop.
    pub tmp: TempDir,
    /// Where the test builds its layout.
    pub src: PathBuf,
    /// The chunk directory (`ZARF_INJECTOR_INIT_ROOT`), created empty.
    pub init: PathBuf,
    /// The seed directory (`ZARF_INJECTOR_SEED_ROOT`), created empty.
    pub seed: PathBuf,
    /// Where the test writes the payload before chunking it.
    pub payload: PathBuf,
}

impl Fixture {
    /// Creates the temp dir with empty `init` and `seed` directories.
    pub fn new(label: &str) -> Fixture {
        let tmp = TempDir::new(label);
        let fixture = Fixture {
            src: tmp.join("src"),
            init: tmp.join("init"),
            seed: tmp.join("seed"),
            payload: tmp.join("payload"),
            tmp,
        };
        fs::create_dir(&fixture.init).expect("create init");
        fs::create_dir(&fixture.seed).expect("create seed");
        fixture
    }

    /// Splits `payload` into chunks of `chunk_size` bytes; returns its SHA-256.
    pub fn chunk_payload(&self, chunk_size: u64) -> String {
        split_into_chunks(&self.payload, &self.init, chunk_size);
        sha256_file(&self.payload)
    }

    /// Asserts that the seed directory holds nothing.
    pub fn assert_seed_empty(&self, case: &str) {
        let left = list_tree(&self.seed);
        assert!(left.is_empty(), "{case}: seed dir not empty: {left:#?}");
    }
}
