//! The program: parse the command line, unpack if asked, then serve. Prints one line per phase
//! on stdout and, on failure, one line on stderr.

use crate::cli::{self, Command};
use crate::error::Failure;
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
    let command = cli::parse(std::env::args_os().skip(1), |name| std::env::var_os(name))?;
    match command {
        Command::Help => print!("{}", cli::HELP),
        Command::Version => println!("zarf-injector {}", env!("CARGO_PKG_VERSION")),
        Command::Inject { .. } | Command::Serve { .. } => {}
    }
    Ok(())
}
