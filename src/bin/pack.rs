//! `injector-pack`: turn images into payload chunks and Kubernetes manifests (host side).

use std::process::ExitCode;

const USAGE: &str = "\
injector-pack: make zarf-injector payload chunks and Kubernetes manifests (host side)

usage:
  injector-pack <source>... --out DIR [--chunk-size BYTES] [--image REF]... [--k8s FILE]

Not implemented yet: this is a placeholder until its issue lands.
";

fn main() -> ExitCode {
    let help = std::env::args().skip(1).any(|a| a == "-h" || a == "--help");
    if help {
        print!("{USAGE}");
        ExitCode::SUCCESS
    } else {
        eprint!("{USAGE}");
        ExitCode::from(2)
    }
}
