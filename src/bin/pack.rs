//! `injector-pack`: turn images into payload chunks and Kubernetes manifests (host side).

use std::process::ExitCode;
use zarf_injector::pack::cli::{self, Command};
use zarf_injector::pack::progress::Progress;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(failure) => {
            eprintln!("injector-pack: {failure}");
            return ExitCode::from(2);
        }
    };
    let (options, quiet) = match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("injector-pack {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Pack { options, quiet } => (options, quiet),
    };
    let mut progress = Progress::for_stderr(quiet);
    match zarf_injector::pack::run(&options, &mut progress) {
        Ok(summary) => {
            for line in summary.lines(&options) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("injector-pack: {failure}");
            ExitCode::FAILURE
        }
    }
}
