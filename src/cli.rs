//! The command line of `zarf-injector`, compatible with Zarf's own injector:
//!
//! ```text
//! zarf-injector <sha256-hex> [bind-address]        unpack the chunks, then serve
//! zarf-injector serve <layout-dir> [bind-address]  serve an existing OCI layout
//! zarf-injector --help | --version
//! ```
//!
//! Directories come from `ZARF_INJECTOR_INIT_ROOT` (default `/zarf-init`) and
//! `ZARF_INJECTOR_SEED_ROOT` (default `/zarf-seed`), as in the Zarf pod.

use crate::digest::hex_value;
use crate::error::{Error, Failure};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the chunks are mounted unless `ZARF_INJECTOR_INIT_ROOT` says otherwise.
pub const DEFAULT_INIT_ROOT: &str = "/zarf-init";
/// Where the layout is unpacked unless `ZARF_INJECTOR_SEED_ROOT` says otherwise.
pub const DEFAULT_SEED_ROOT: &str = "/zarf-seed";
/// The registry's address unless the command line says otherwise.
pub const DEFAULT_BIND: &str = "0.0.0.0:5000";

/// The text of `--help`.
pub const HELP: &str = "\
zarf-injector: unpack a chunked OCI seed image and serve it as a pull-only registry

usage:
  zarf-injector <sha256-hex> [bind-address]        unpack, verify, then serve
  zarf-injector serve <layout-dir> [bind-address]  serve an existing OCI layout
  zarf-injector --help | --version

The chunks are the files zarf-payload-000, -001, ... in $ZARF_INJECTOR_INIT_ROOT
(default /zarf-init), taken in numeric order; their concatenation is a gzip'd (or
plain) tar of an OCI image layout whose SHA-256 must equal <sha256-hex>. It is
unpacked into $ZARF_INJECTOR_SEED_ROOT (default /zarf-seed). The bind address
defaults to 0.0.0.0:5000; [::]:5000 listens on IPv6.
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Print [`HELP`].
    Help,
    /// Print the version.
    Version,
    /// Unpack the chunks into the seed directory, verify them, then serve.
    Inject {
        /// The expected SHA-256 of the concatenated chunks.
        checksum: [u8; 32],
        /// The directory holding the `zarf-payload-*` chunks.
        init_root: PathBuf,
        /// The directory to unpack into.
        seed_root: PathBuf,
        /// Where to listen.
        bind: SocketAddr,
    },
    /// Serve an OCI layout that is already on disk.
    Serve {
        /// The layout's directory.
        layout: PathBuf,
        /// Where to listen.
        bind: SocketAddr,
    },
}

/// Parses the arguments (without the program name); `env` looks up environment variables.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Command, Failure> {
    let mut args = args.into_iter();
    let first = args.next().ok_or(Error::Usage)?;
    // At most two more, taken one by one (collecting them into a `Vec` costs ~0.5 KB).
    let (second, third) = (args.next(), args.next());
    if args.next().is_some() {
        return Err(Error::Usage.into());
    }
    match first.to_str() {
        Some("-h") | Some("--help") | Some("help") => Ok(Command::Help),
        Some("-V") | Some("--version") | Some("version") => Ok(Command::Version),
        Some("serve") => {
            let layout = second.ok_or(Error::Usage)?;
            Ok(Command::Serve {
                layout: PathBuf::from(layout),
                bind: bind_address(third.as_ref())?,
            })
        }
        _ => {
            if third.is_some() {
                return Err(Error::Usage.into());
            }
            let checksum =
                parse_sha256_hex(first.to_str().unwrap_or("")).ok_or(Error::BadChecksumArgument)?;
            let dir = |name: &str, default: &str| {
                PathBuf::from(env(name).unwrap_or_else(|| OsString::from(default)))
            };
            Ok(Command::Inject {
                checksum,
                init_root: dir("ZARF_INJECTOR_INIT_ROOT", DEFAULT_INIT_ROOT),
                seed_root: dir("ZARF_INJECTOR_SEED_ROOT", DEFAULT_SEED_ROOT),
                bind: bind_address(second.as_ref())?,
            })
        }
    }
}

/// Parses a socket address without DNS (`address::parse`).
fn bind_address(arg: Option<&OsString>) -> Result<SocketAddr, Failure> {
    let text = match arg {
        Some(arg) => arg.to_str().ok_or(Error::BadAddress)?,
        None => DEFAULT_BIND,
    };
    crate::address::parse(text)
        .ok_or_else(|| Failure::at(Error::BadAddress, std::path::Path::new(text)))
}

/// Decodes 64 hexadecimal digits (either case) into a SHA-256 value.
pub fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
            _ => return None,
        };
        *byte = hi << 4 | lo;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, Failure> {
        parse(args.iter().map(OsString::from), |_| None)
    }

    #[test]
    fn inject_defaults_match_the_zarf_pod() {
        let hex = "ab".repeat(32);
        match parse_strs(&[&hex]) {
            Ok(Command::Inject {
                checksum,
                init_root,
                seed_root,
                bind,
            }) => {
                assert_eq!(checksum, [0xab; 32]);
                assert_eq!(init_root, PathBuf::from("/zarf-init"));
                assert_eq!(seed_root, PathBuf::from("/zarf-seed"));
                assert_eq!(bind.to_string(), "0.0.0.0:5000");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ipv6_bind_address_is_accepted() {
        let hex = "00".repeat(32);
        match parse_strs(&[&hex, "[::]:5000"]) {
            Ok(Command::Inject { bind, .. }) => assert!(bind.is_ipv6()),
            other => panic!("unexpected {other:?}"),
        }
    }

    const HEX_ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn bad_arguments_are_refused() {
        let cases: &[(&str, &[&str], Error)] = &[
            ("no arguments", &[], Error::Usage),
            ("short checksum", &["abc"], Error::BadChecksumArgument),
            (
                "non-hex checksum",
                &["zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"],
                Error::BadChecksumArgument,
            ),
            ("serve without dir", &["serve"], Error::Usage),
            (
                "serve with too many arguments",
                &["serve", "d", "0.0.0.0:5000", "x"],
                Error::Usage,
            ),
            (
                "inject with too many arguments",
                &[HEX_ZEROS, "0.0.0.0:5000", "x"],
                Error::Usage,
            ),
            (
                "help with too many arguments",
                &["--help", "a", "b", "c"],
                Error::Usage,
            ),
            (
                "hostname bind",
                &["serve", "d", "localhost:5000"],
                Error::BadAddress,
            ),
        ];
        for (name, args, want) in cases {
            match parse_strs(args) {
                Err(f) => assert_eq!(f.error, *want, "{name}"),
                Ok(c) => panic!("{name}: accepted as {c:?}"),
            }
        }
    }
}
