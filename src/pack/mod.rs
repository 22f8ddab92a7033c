//! `injector-pack` (host side): images in, payload chunks and Kubernetes manifests out.
//!
//! 1. [`source`]: each source is an OCI layout (directory or tar) or a docker-archive;
//!    [`docker_archive`] converts the latter to OCI images.
//! 2. `--image` selects images ([`names::Selector`]); every selected image is walked
//!    ([`oci::add_image`]) into one [`blobs::Store`], one blob per digest.
//! 3. One `index.json` names every image by its full reference and Zarf's base name
//!    ([`names`]), one entry per name.
//! 4. [`payload`] writes the layout as a deterministic tar.gz, split into chunks, checking every
//!    blob's size and digest as it is copied.
//! 5. [`k8s`] writes the ConfigMaps and the Pod + Service or DaemonSet.
//!
//! Nothing here is reachable from the injector binary; it is compiled only with the `pack`
//! feature.

pub mod blobs;
pub mod cli;
pub mod docker_archive;
pub mod failure;
pub mod hashing;
pub mod k8s;
pub mod names;
pub mod oci;
pub mod payload;
pub mod progress;
pub mod source;
pub mod tree;
pub mod yaml;

use blobs::Store;
use docker_archive::Converter;
use failure::Failure;
use names::{Label, Selector};
use oci::Descriptor;
use payload::Payload;
use progress::{human, Progress};
use serde_json::{json, Value};
use source::{Images, Source};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// What to pack.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sources, in order (the first source with a blob provides it).
    pub sources: Vec<PathBuf>,
    /// Where the chunks and `payload.sha256` go.
    pub out: PathBuf,
    /// The largest chunk.
    pub chunk_size: u64,
    /// The images to pack; all when empty.
    pub images: Vec<Selector>,
    /// The Kubernetes manifests to write, if any.
    pub k8s: Option<k8s::Options>,
}

/// An image that was packed.
#[derive(Clone, Debug)]
pub struct Packed {
    /// Its manifest or index.
    pub descriptor: Descriptor,
    /// Its names.
    pub labels: Vec<Label>,
    /// The source it came from, as given.
    pub source: PathBuf,
}

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    /// The images, in `index.json` order.
    pub images: Vec<Packed>,
    /// How many blobs, and their bytes.
    pub blobs: (u64, u64),
    /// How many blob copies were left out because another image or source had them.
    pub shared: u64,
    /// The payload.
    pub payload: Payload,
    /// The Kubernetes manifests, if written.
    pub k8s: Option<k8s::Written>,
}

/// Packs: see the module documentation. A failure found before the payload is written leaves
/// `options.out` as it was; one found while writing it leaves no chunk there.
pub fn run(options: &Options, progress: &mut Progress) -> Result<Summary, Failure> {
    let out = &options.out;
    if let Some(k8s) = &options.k8s {
        let injector = &k8s.injector;
        let meta = fs::metadata(injector).map_err(|e| Failure::io(injector, "read", e))?;
        if !meta.is_file() {
            let error = std::io::Error::other("not a file");
            return Err(Failure::io(injector, "read", error));
        }
        k8s::check_binary_size(injector, meta.len())?;
    }
    fs::create_dir_all(out).map_err(|e| Failure::io(out, "create the output directory", e))?;
    let work = WorkDir::create(out)?;
    pack(options, &work.0, progress)
}

fn pack(options: &Options, work: &Path, progress: &mut Progress) -> Result<Summary, Failure> {
    let mut sources = Vec::new();
    for (i, path) in options.sources.iter().enumerate() {
        progress.step(&format!("reading {}", path.display()));
        sources.push(source::open(
            path,
            work,
            &format!("source-{i}.tar"),
            progress,
        )?);
    }
    let candidates = select(candidates(&sources), &options.images)?;
    let mut store = Store::default();
    let mut converter = Converter::new(work);
    let mut images = Vec::new();
    for candidate in candidates {
        let source = sources.get(candidate.source);
        let Some(source) = source else { continue };
        let descriptor = match &candidate.image {
            Candidate::Layout(descriptor) => {
                oci::add_image(&source.tree, descriptor, &mut store)?;
                descriptor.clone()
            }
            Candidate::Docker(image) => {
                converter.convert(&source.tree, image, &mut store, progress)?
            }
        };
        warn_bare_tags(&candidate.labels, source, progress);
        images.push(Packed {
            descriptor,
            labels: candidate.labels,
            source: source.tree.shown().to_path_buf(),
        });
    }
    let images = merge_names(images)?;
    let index = index_json(&images);
    let (payload, k8s) = write_outputs(options, &store, &index, progress).inspect_err(|_| {
        let _ = payload::remove_old(&options.out);
    })?;
    for warning in k8s.iter().flat_map(|k| &k.warnings) {
        progress.note(warning);
    }
    if let Some(warning) = k8s::many_chunks_warning(payload.chunks.len()) {
        progress.note(&warning);
    }
    Ok(Summary {
        images,
        blobs: store.totals(),
        shared: store.shared,
        payload,
        k8s,
    })
}

/// The chunks, `payload.sha256` and the manifests.
fn write_outputs(
    options: &Options,
    store: &Store,
    index: &[u8],
    progress: &mut Progress,
) -> Result<(Payload, Option<k8s::Written>), Failure> {
    let out = &options.out;
    payload::remove_old(out)?;
    let payload = payload::write(store, index, out, options.chunk_size, progress)?;
    let k8s = match &options.k8s {
        Some(k8s_options) => Some(k8s::write(k8s_options, &payload)?),
        None => None,
    };
    Ok((payload, k8s))
}

/// The scratch directory `OUT/.injector-pack-work`, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(out: &Path) -> Result<WorkDir, Failure> {
        let path = out.join(".injector-pack-work");
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path)
            .map_err(|e| Failure::io(out, "write into the output directory", e))?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An image of a source before it is walked or converted.
#[derive(Clone, Debug)]
enum Candidate {
    Layout(Descriptor),
    Docker(docker_archive::Image),
}

#[derive(Clone, Debug)]
struct Offered {
    source: usize,
    image: Candidate,
    labels: Vec<Label>,
}

fn candidates(sources: &[Source]) -> Vec<Offered> {
    let mut out = Vec::new();
    for (source, opened) in sources.iter().enumerate() {
        match &opened.images {
            Images::Layout(entries) => out.extend(entries.iter().map(|entry| Offered {
                source,
                image: Candidate::Layout(entry.descriptor.clone()),
                labels: entry.labels.clone(),
            })),
            Images::Docker(images) => out.extend(images.iter().map(|image| Offered {
                source,
                image: Candidate::Docker(image.clone()),
                labels: image.labels.clone(),
            })),
        }
    }
    out
}

/// The offered images the selectors name (all without selectors); each selector must name one.
fn select(offered: Vec<Offered>, selectors: &[Selector]) -> Result<Vec<Offered>, Failure> {
    if selectors.is_empty() {
        return Ok(offered);
    }
    let digest = |o: &Offered| match &o.image {
        Candidate::Layout(d) => Some(d.digest.clone()),
        Candidate::Docker(_) => None,
    };
    for selector in selectors {
        if !offered
            .iter()
            .any(|o| selector.matches(digest(o).as_deref(), &o.labels))
        {
            let mut available: Vec<String> = Vec::new();
            for name in offered
                .iter()
                .flat_map(|o| o.labels.iter().map(Label::display))
            {
                if !available.contains(&name) {
                    available.push(name);
                }
            }
            return Err(Failure::ImageUnknown {
                reference: selector.text.clone(),
                available,
            });
        }
    }
    Ok(offered
        .into_iter()
        .filter(|o| {
            let digest = digest(o);
            selectors
                .iter()
                .any(|s| s.matches(digest.as_deref(), &o.labels))
        })
        .collect())
}

fn warn_bare_tags(labels: &[Label], source: &Source, progress: &mut Progress) {
    for label in labels {
        if let Label::BareTag(tag) = label {
            progress.note(&format!(
                "warning: {}: image tagged only {tag:?}, without a repository: the injector serves it under every name (name it when copying, e.g. oci:DIR:docker.io/library/registry:{tag})",
                source.tree.shown().display()
            ));
        }
    }
}

/// Merges images offered twice (same digest and names) and refuses one name for two digests.
fn merge_names(images: Vec<Packed>) -> Result<Vec<Packed>, Failure> {
    let mut owners: BTreeMap<Label, (String, PathBuf)> = BTreeMap::new();
    let mut out: Vec<Packed> = Vec::new();
    for image in images {
        for label in &image.labels {
            let owner = (image.descriptor.digest.clone(), image.source.clone());
            match owners.get(label) {
                Some((digest, source)) if *digest != owner.0 => {
                    return Err(Failure::NameConflict {
                        name: label.display(),
                        first: format!("{digest} from {}", source.display()),
                        second: format!("{} from {}", owner.0, owner.1.display()),
                    })
                }
                Some(_) => {}
                None => {
                    owners.insert(label.clone(), owner);
                }
            }
        }
        let duplicate = out
            .iter()
            .any(|o| o.descriptor.digest == image.descriptor.digest && o.labels == image.labels);
        if !duplicate {
            out.push(image);
        }
    }
    Ok(out)
}

/// `index.json`: one entry per image and name (an unnamed image gets one entry without
/// annotations, reachable by digest only).
pub fn index_json(images: &[Packed]) -> Vec<u8> {
    let mut entries = Vec::new();
    for image in images {
        if image.labels.is_empty() {
            entries.push(image.descriptor.to_entry(serde_json::Map::new()));
        }
        for label in &image.labels {
            entries.push(image.descriptor.to_entry(label.annotations()));
        }
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": oci::OCI_INDEX,
        "manifests": Value::Array(entries),
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

impl Summary {
    /// The summary for stdout; the last line is the payload's hex SHA-256 alone.
    pub fn lines(&self, options: &Options) -> Vec<String> {
        let mut lines = vec![format!("images: {}", self.images.len())];
        for image in &self.images {
            let names: Vec<String> = image.labels.iter().map(Label::display).collect();
            let names = if names.is_empty() {
                "(no name)".to_string()
            } else {
                names.join(", ")
            };
            lines.push(format!("  {names}  {}", image.descriptor.digest));
        }
        let (count, bytes) = self.blobs;
        lines.push(format!(
            "blobs: {count}, {} ({} more copies shared)",
            human(bytes),
            self.shared
        ));
        let chunks = self.payload.chunks.len();
        lines.push(format!(
            "payload: {chunks} chunk{} of at most {} bytes in {}, {} ({} bytes)",
            if chunks == 1 { "" } else { "s" },
            options.chunk_size,
            options.out.display(),
            human(self.payload.bytes),
            self.payload.bytes
        ));
        if let (Some(written), Some(k8s)) = (&self.k8s, &options.k8s) {
            let mode = if k8s.daemonset {
                "DaemonSet on 127.0.0.1"
            } else {
                "Pod + NodePort Service on"
            };
            lines.push(format!(
                "kubernetes: {}, {} objects, {} ({mode} port {}, namespace {})",
                k8s.file.display(),
                written.objects,
                human(written.bytes),
                k8s.port,
                k8s.namespace
            ));
            lines.push(format!(
                "apply: kubectl apply --server-side -f {}",
                k8s.file.display()
            ));
            lines.push(format!(
                "cleanup (every other payload's objects): {}",
                k8s::cleanup_command(&k8s.namespace, &self.payload.sha256)
            ));
        }
        lines.push(self.payload.sha256.clone());
        lines
    }
}
