//! `zarf-injector`: unpack the seed payload, then serve it as a registry. All logic is in the
//! library; this file only turns its result into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    zarf_injector::run::main()
}
