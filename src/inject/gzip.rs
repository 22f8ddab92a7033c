//! Gzip decoding (RFC 1952) over miniz_oxide's bare inflate core.
//!
//! flate2 costs ~50 KB and crc32fast ~25 KB; the deflate core plus this framing costs ~18 KB.
//! The framing is strict, because the payload is ours and an error is better than a guess:
//! every member's CRC-32 and length are checked, several members are accepted (as `gzip -d`
//! does), and anything after the last member that is not another member is an error.
//!
//! Decoding errors travel through `io::Read` as `io::Error::other(Error)`; see
//! [`crate::inject::untar::read_failure`].

use crate::error::Error;
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use std::io::{self, Read};

/// The two magic bytes that start every gzip member.
pub const MAGIC: [u8; 2] = [0x1f, 0x8b];

const INPUT_BUFFER: usize = 64 << 10;
/// Inflate's output ring; a power of two of at least 32 KiB (the deflate window).
const WINDOW: usize = 64 << 10;

const FLAG_HCRC: u8 = 2;
const FLAG_EXTRA: u8 = 4;
const FLAG_NAME: u8 = 8;
const FLAG_COMMENT: u8 = 16;

fn invalid(error: Error) -> io::Error {
    io::Error::other(error)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before a member's header.
    Header,
    /// Inside a member's deflate data.
    Body,
    /// After the last member.
    End,
}

/// A reader that decodes a gzip stream read from `R`.
pub struct GzipReader<R> {
    inner: R,
    input: Box<[u8]>,
    input_pos: usize,
    input_len: usize,
    input_eof: bool,
    window: Box<[u8]>,
    window_pos: usize,
    pending_start: usize,
    pending_end: usize,
    inflate: Box<DecompressorOxide>,
    crc: Crc32,
    member_len: u32,
    phase: Phase,
}

impl<R: Read> GzipReader<R> {
    /// A decoder of the gzip stream in `inner`.
    pub fn new(inner: R) -> GzipReader<R> {
        GzipReader {
            inner,
            input: vec![0; INPUT_BUFFER].into_boxed_slice(),
            input_pos: 0,
            input_len: 0,
            input_eof: false,
            window: vec![0; WINDOW].into_boxed_slice(),
            window_pos: 0,
            pending_start: 0,
            pending_end: 0,
            inflate: Box::default(),
            crc: Crc32::new(),
            member_len: 0,
            phase: Phase::Header,
        }
    }

    /// Refills the input buffer if it is empty; `false` at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.input_pos < self.input_len {
            return Ok(true);
        }
        if self.input_eof {
            return Ok(false);
        }
        let n = loop {
            match self.inner.read(&mut self.input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.input_pos = 0;
        self.input_len = n;
        self.input_eof = n == 0;
        Ok(n > 0)
    }

    fn byte(&mut self) -> io::Result<u8> {
        if !self.fill()? {
            return Err(invalid(Error::GzipTruncated));
        }
        let byte = self
            .input
            .get(self.input_pos)
            .copied()
            .ok_or_else(|| invalid(Error::GzipTruncated))?;
        self.input_pos += 1;
        Ok(byte)
    }

    fn u32_le(&mut self) -> io::Result<u32> {
        let mut value = 0u32;
        for shift in [0, 8, 16, 24] {
            value |= u32::from(self.byte()?) << shift;
        }
        Ok(value)
    }

    fn skip_zero_terminated(&mut self) -> io::Result<()> {
        while self.byte()? != 0 {}
        Ok(())
    }

    /// Parses a member header (RFC 1952 §2.3), leaving the input at its deflate data.
    fn header(&mut self) -> io::Result<()> {
        if self.byte()? != MAGIC[0] || self.byte()? != MAGIC[1] || self.byte()? != 8 {
            return Err(invalid(Error::GzipHeader));
        }
        let flags = self.byte()?;
        if flags & 0xe0 != 0 {
            return Err(invalid(Error::GzipHeader));
        }
        for _ in 0..6 {
            self.byte()?; // MTIME, XFL, OS
        }
        if flags & FLAG_EXTRA != 0 {
            let len = u16::from(self.byte()?) | u16::from(self.byte()?) << 8;
            for _ in 0..len {
                self.byte()?;
            }
        }
        if flags & FLAG_NAME != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & FLAG_COMMENT != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & FLAG_HCRC != 0 {
            self.byte()?;
            self.byte()?;
        }
        self.inflate.init();
        self.crc = Crc32::new();
        self.member_len = 0;
        Ok(())
    }

    /// Checks a member's trailer, then decides whether another member follows.
    fn trailer(&mut self) -> io::Result<()> {
        let crc = self.u32_le()?;
        let len = self.u32_le()?;
        if crc != self.crc.value() {
            return Err(invalid(Error::GzipCrc));
        }
        if len != self.member_len {
            return Err(invalid(Error::GzipLength));
        }
        if !self.fill()? {
            self.phase = Phase::End;
        } else if self.input.get(self.input_pos) == Some(&MAGIC[0]) {
            self.phase = Phase::Header;
        } else {
            return Err(invalid(Error::TrailingData));
        }
        Ok(())
    }

    /// Runs inflate once; returns the number of bytes it produced into the window.
    fn inflate_some(&mut self) -> io::Result<usize> {
        let has_input = self.fill()?;
        let flags = if self.input_eof {
            0
        } else {
            TINFL_FLAG_HAS_MORE_INPUT
        };
        let input = self
            .input
            .get(self.input_pos..self.input_len)
            .unwrap_or_default();
        let (status, used, produced) = decompress(
            &mut self.inflate,
            input,
            &mut self.window,
            self.window_pos,
            flags,
        );
        self.input_pos += used;
        let start = self.window_pos;
        let output = self.window.get(start..start + produced).unwrap_or_default();
        self.crc.update(output);
        self.member_len = self.member_len.wrapping_add(produced as u32);
        self.pending_start = start;
        self.pending_end = start + produced;
        self.window_pos = (start + produced) & (WINDOW - 1);
        let input_exhausted = !has_input || (self.input_eof && self.input_pos == self.input_len);
        match status {
            TINFLStatus::Done => self.trailer()?,
            TINFLStatus::HasMoreOutput => {}
            TINFLStatus::NeedsMoreInput if !self.input_eof => {}
            _ if input_exhausted => return Err(invalid(Error::GzipTruncated)),
            _ => return Err(invalid(Error::GzipCorrupt)),
        }
        Ok(produced)
    }
}

impl<R: Read> Read for GzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Bounded: each round either produces output, consumes input, or ends the stream.
        while self.pending_start == self.pending_end {
            match self.phase {
                Phase::End => return Ok(0),
                Phase::Header => {
                    self.header()?;
                    self.phase = Phase::Body;
                }
                Phase::Body => {
                    self.inflate_some()?;
                }
            }
        }
        let pending = self
            .window
            .get(self.pending_start..self.pending_end)
            .unwrap_or_default();
        let n = pending.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), pending.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pending_start += n;
        Ok(n)
    }
}

/// CRC-32 (IEEE), slice-by-8: fast enough to keep up with inflate, and its 8 KiB table is
/// built at run time on the heap rather than stored in the binary.
struct Crc32 {
    table: Box<[[u32; 256]; 8]>,
    value: u32,
}

impl Crc32 {
    #[allow(clippy::indexing_slicing)] // constant bounds: k < 8, n < 256
    fn new() -> Crc32 {
        let mut table = Box::new([[0u32; 256]; 8]);
        for (n, slot) in (0u32..).zip(table[0].iter_mut()) {
            let mut c = n;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        for k in 1..8 {
            for n in 0..256 {
                let previous = table[k - 1][n];
                table[k][n] = (previous >> 8) ^ table[0][(previous & 0xff) as usize];
            }
        }
        Crc32 { table, value: 0 }
    }

    fn value(&self) -> u32 {
        self.value
    }

    #[allow(clippy::indexing_slicing)] // every index is a byte, and each table has 256 entries
    fn update(&mut self, bytes: &[u8]) {
        let t = &self.table;
        let mut c = !self.value;
        let mut blocks = bytes.chunks_exact(8);
        for b in &mut blocks {
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            c = t[7][(lo & 0xff) as usize]
                ^ t[6][(lo >> 8 & 0xff) as usize]
                ^ t[5][(lo >> 16 & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][b[4] as usize]
                ^ t[2][b[5] as usize]
                ^ t[1][b[6] as usize]
                ^ t[0][b[7] as usize];
        }
        for &b in blocks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.value = !c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn decode(data: &[u8]) -> Result<Vec<u8>, Option<Error>> {
        let mut out = Vec::new();
        GzipReader::new(data)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| e.get_ref().and_then(|e| e.downcast_ref::<Error>()).copied())
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_u32;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 3 == 0 {
                    b'a'
                } else {
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn crc32_known_value() {
        let mut crc = Crc32::new();
        crc.update(b"123456789");
        assert_eq!(crc.value(), 0xcbf4_3926);
    }

    #[test]
    fn round_trips_at_every_level_and_size() {
        for len in [0, 1, 100, WINDOW - 1, WINDOW + 1, 300_000] {
            let data = sample(len);
            for level in [0, 1, 6, 9] {
                assert_eq!(
                    decode(&gzip(&data, level)).unwrap(),
                    data,
                    "len {len} level {level}"
                );
            }
        }
    }

    #[test]
    fn accepts_several_members() {
        let mut stream = gzip(b"hello ", 6);
        stream.extend(gzip(b"world", 1));
        assert_eq!(decode(&stream).unwrap(), b"hello world");
    }

    #[test]
    fn refuses_damaged_streams() {
        let good = gzip(&sample(100_000), 6);
        let mut flipped_crc = good.clone();
        let at = flipped_crc.len() - 6;
        flipped_crc[at] ^= 1;
        let mut flipped_len = good.clone();
        let last = flipped_len.len() - 1;
        flipped_len[last] ^= 1;
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"garbage");
        let mut bad_method = good.clone();
        bad_method[2] = 7;
        let cases: &[(&str, &[u8], Error)] = &[
            (
                "truncated body",
                &good[..good.len() / 2],
                Error::GzipTruncated,
            ),
            (
                "truncated trailer",
                &good[..good.len() - 3],
                Error::GzipTruncated,
            ),
            ("truncated header", &good[..5], Error::GzipTruncated),
            ("crc", &flipped_crc, Error::GzipCrc),
            ("length", &flipped_len, Error::GzipLength),
            ("trailing data", &trailing, Error::TrailingData),
            ("not deflate", &bad_method, Error::GzipHeader),
        ];
        for (name, input, want) in cases {
            assert_eq!(decode(input), Err(Some(*want)), "{name}");
        }
    }

    #[test]
    fn corrupt_deflate_data_is_an_error_not_a_panic() {
        let good = gzip(&sample(200_000), 6);
        for at in (20..good.len() - 8).step_by(997) {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            assert!(decode(&bad).is_err(), "flip at {at} accepted");
        }
    }
}
