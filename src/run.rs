//! The program: parse the command line, unpack if asked, then serve. Prints one line per phase
//! on stdout and, on failure, one line on stderr.

use crate::cli::{self, Command};
use crate::error::{Error, Failure};
use crate::http::{self, Request};
use crate::registry::Registry;
use crate::repository::Repositories;
use crate::{inject, layout};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// Runs `zarf-injector` with the process's arguments and environment.
pub fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("zarf-injector: {failure}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Failure> {
    crate::sys::handle_termination();
    let command = cli::parse(std::env::args_os().skip(1), |name| std::env::var_os(name))?;
    match command {
        Command::Help => print!("{}", cli::HELP),
        Command::Version => println!("zarf-injector {}", env!("CARGO_PKG_VERSION")),
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

/// `extracted N files in T s at X MB/s`, with integer arithmetic only (float formatting
/// would add kilobytes to the binary).
fn print_extracted(summary: &inject::Summary) {
    let millis = summary.millis.max(1);
    let megabytes_per_second = summary.bytes.saturating_mul(1000) / millis / 1_000_000;
    println!(
        "extracted {} files in {}.{:03} s at {} MB/s",
        summary.files,
        millis / 1000,
        millis % 1000,
        megabytes_per_second
    );
}

/// Builds the repository map once, then serves the registry until SIGTERM/SIGINT.
fn serve(root: &Path, bind: SocketAddr) -> Result<(), Failure> {
    let repositories = Repositories::load(root)?;
    // The registry serves until the process exits (or a failure below ends it): leaked at
    // once, it needs no drop code.
    let registry: &'static Registry =
        Box::leak(Box::new(Registry::new(root.to_path_buf(), repositories)));
    let listener = http::bind(bind)?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::io(Error::Bind, Path::new("listener"), e))?;
    println!("listening on {address}");
    http::serve(
        listener,
        Box::leak(Box::new(|request: &Request| registry.handle(request))),
    );
    Ok(())
}
