//! The program: parse the command line, unpack if asked, then serve. Prints one line per phase
//! on stdout and, on failure, one line on stderr.

use crate::cli::{self, Command};
use crate::error::{Error, Failure};
use crate::http::Request;
use crate::line::Line;
use crate::registry::Registry;
use crate::repository::Repositories;
use crate::{inject, layout, server, sys};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Runs `zarf-injector` with `args` (the program's name left out) and the process's
/// environment; returns the exit status: 0, or 1 after one line on stderr.
pub fn main(args: impl Iterator<Item = OsString>) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(failure) => {
            Line::new("zarf-injector: ")
                .text(failure.line().as_str())
                .to_stderr();
            1
        }
    }
}

fn run(args: impl Iterator<Item = OsString>) -> Result<(), Failure> {
    crate::sys::ensure_standard_fds();
    crate::sys::handle_signals();
    let command = cli::parse(args, crate::sys::env_var)?;
    match command {
        Command::Help => Line::new(cli::HELP.strip_suffix('\n').unwrap_or(cli::HELP)).to_stdout(),
        Command::Version => Line::new("zarf-injector ")
            .text(env!("CARGO_PKG_VERSION"))
            .to_stdout(),
        Command::Inject {
            checksum,
            init_root,
            seed_root,
            bind,
        } => {
            let summary = inject::unpack(&init_root, &seed_root, &checksum)?;
            print_extracted(&summary);
            serve(&seed_root, bind)?;
        }
        Command::Serve { layout, bind } => {
            layout::verify(&layout)?;
            serve(&layout, bind)?;
        }
    }
    Ok(())
}

/// `extracted N files in T s at X MB/s`, with integer arithmetic only.
fn print_extracted(summary: &inject::Summary) {
    let millis = summary.millis.max(1);
    let megabytes_per_second = summary.bytes.saturating_mul(1000) / millis / 1_000_000;
    let fraction = millis % 1000;
    let zeros = if fraction < 10 {
        "00"
    } else if fraction < 100 {
        "0"
    } else {
        ""
    };
    Line::new("extracted ")
        .number(summary.files)
        .text(" files in ")
        .number(millis / 1000)
        .text(".")
        .text(zeros)
        .number(fraction)
        .text(" s at ")
        .number(megabytes_per_second)
        .text(" MB/s")
        .to_stdout();
}

/// Builds the repository map once, then serves the registry until SIGTERM/SIGINT.
fn serve(root: &Path, bind: SocketAddr) -> Result<(), Failure> {
    let repositories = Repositories::load(root)?;
    let registry = Registry::new(root.to_path_buf(), repositories);
    let listener = server::bind(bind)?;
    let address = sys::local_address(listener.as_raw_fd())
        .map_err(|e| Failure::io(Error::Bind, Path::new("listener"), e))?;
    Line::new("listening on ")
        .socket_address(address)
        .to_stdout();
    server::serve(listener, &|request: &Request| registry.handle(request))
}
