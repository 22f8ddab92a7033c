//! The `injector-pack` command line.

use super::failure::Failure;
use super::k8s;
use super::names::Selector;
use super::payload::DEFAULT_CHUNK_SIZE;
use super::Options;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// The help text.
pub const USAGE: &str = "\
injector-pack: make zarf-injector payload chunks and Kubernetes manifests (host side)

usage:
  injector-pack <source>... --out DIR [--chunk-size BYTES] [--image REF]... [--k8s FILE] [options]

sources (several merge into one layout with one index.json):
  an OCI image layout directory (skopeo copy ... oci:DIR:NAME, crane, oras, umoci)
  an OCI image layout tar, or a docker save / skopeo docker-archive tarball (either may be gzip'd)

payload:
  -o, --out DIR          write zarf-payload-000, -001, ... and payload.sha256 here (created if
                         missing; chunks of an earlier run there are removed first)
  --chunk-size BYTES     largest chunk (default 786432, Zarf's). With --k8s at most 1048576: each
                         chunk is one ConfigMap's only value, and the API server limits a
                         ConfigMap to 1048576 bytes of data and binaryData values, counted
                         decoded (key names, labels and metadata do not count; base64 is only
                         how YAML carries the bytes). Over 100 chunks, the pod waits on the
                         kubelet's API rate limit: see the warning
  --image REF            pack only this image; repeat for more (default: every image).
                         REF: name[:tag] (no tag: every tag), name@sha256:..., or a bare tag
  -q, --quiet            no progress on stderr (warnings and errors still go there)

Kubernetes manifests (--k8s FILE):
  --k8s FILE             write the ConfigMaps and the Pod + Service (or DaemonSet) to FILE; every
                         object but the Service is named and labelled by the payload's digest,
                         so a new payload's FILE applies next to an old one, and the summary
                         prints the kubectl delete that removes the other payloads' objects
  --injector PATH        the static zarf-injector binary to ship (required with --k8s; at most
                         1048576 bytes, a ConfigMap's limit)
  --pod-image REF        an image already on the nodes for the pod to borrow, e.g. the pause
                         image (required with --k8s; see the README for how to find one)
  --namespace NS         namespace of every object (default: zarf)
  --port N               registry port (default: 5000)
  --daemonset            one injector per node, a hostPort on 127.0.0.1:PORT, instead of a Pod
                         and a NodePort Service
  --node NAME            Pod mode: run on this node (default: the scheduler picks)
  --node-port N          Pod mode: a fixed NodePort (default: Kubernetes assigns one)

  -h, --help             this text
  -V, --version          the version

Prints a summary on stdout; its last line is the payload's SHA-256, the injector's argument.
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Pack.
    Pack {
        /// What to pack.
        options: Box<Options>,
        /// No progress.
        quiet: bool,
    },
    /// Print the help.
    Help,
    /// Print the version.
    Version,
}

#[derive(Default)]
struct K8sArgs {
    file: Option<PathBuf>,
    injector: Option<PathBuf>,
    pod_image: Option<String>,
    namespace: Option<String>,
    port: Option<u16>,
    daemonset: bool,
    node: Option<String>,
    node_port: Option<u16>,
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, Failure> {
    let mut parser = lexopt::Parser::from_args(args);
    let (mut sources, mut out, mut chunk_size, mut images) = (Vec::new(), None, None, Vec::new());
    let mut quiet = false;
    let mut k8s = K8sArgs::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('o') | Long("out") => out = Some(PathBuf::from(value(&mut parser)?)),
            Long("chunk-size") => chunk_size = Some(number(&mut parser, "--chunk-size")?),
            Long("image") => {
                let text = string(&mut parser, "--image")?;
                let selector = Selector::parse(&text).ok_or_else(|| {
                    Failure::usage(format!("--image {text:?}: not an image reference"))
                })?;
                images.push(selector);
            }
            Short('q') | Long("quiet") => quiet = true,
            Long("k8s") => k8s.file = Some(PathBuf::from(value(&mut parser)?)),
            Long("injector") => k8s.injector = Some(PathBuf::from(value(&mut parser)?)),
            Long("pod-image") => k8s.pod_image = Some(string(&mut parser, "--pod-image")?),
            Long("namespace") => k8s.namespace = Some(string(&mut parser, "--namespace")?),
            Long("port") => k8s.port = Some(port(&mut parser, "--port")?),
            Long("daemonset") => k8s.daemonset = true,
            Long("node") => k8s.node = Some(string(&mut parser, "--node")?),
            Long("node-port") => k8s.node_port = Some(port(&mut parser, "--node-port")?),
            Value(source) => sources.push(PathBuf::from(source)),
            other => return Err(usage(other.unexpected())),
        }
    }
    if sources.is_empty() {
        return Err(Failure::usage("no source given"));
    }
    let out = out.ok_or_else(|| Failure::usage("--out DIR is required"))?;
    let chunk_size = chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE);
    if chunk_size == 0 {
        return Err(Failure::usage("--chunk-size must be at least 1"));
    }
    let k8s = k8s_options(k8s, chunk_size)?;
    let options = Options {
        sources,
        out,
        chunk_size,
        images,
        k8s,
    };
    Ok(Command::Pack {
        options: Box::new(options),
        quiet,
    })
}

fn k8s_options(args: K8sArgs, chunk_size: u64) -> Result<Option<k8s::Options>, Failure> {
    let Some(file) = args.file else {
        let stray = args.injector.is_some()
            || args.pod_image.is_some()
            || args.namespace.is_some()
            || args.port.is_some()
            || args.daemonset
            || args.node.is_some()
            || args.node_port.is_some();
        if stray {
            return Err(Failure::usage("Kubernetes options need --k8s FILE"));
        }
        return Ok(None);
    };
    if chunk_size > k8s::CONFIGMAP_LIMIT {
        return Err(Failure::usage(format!(
            "--chunk-size {chunk_size}: a chunk is one ConfigMap's value, and the API server refuses more than {} decoded bytes of values in a ConfigMap",
            k8s::CONFIGMAP_LIMIT
        )));
    }
    let injector = args
        .injector
        .ok_or_else(|| Failure::usage("--k8s needs --injector PATH (the static zarf-injector)"))?;
    let pod_image = args.pod_image.ok_or_else(|| {
        Failure::usage("--k8s needs --pod-image REF (an image already on the nodes, e.g. pause)")
    })?;
    let namespace = args.namespace.unwrap_or_else(|| "zarf".into());
    if !dns_label(&namespace) {
        return Err(Failure::usage(format!(
            "--namespace {namespace:?}: not a DNS label (a-z, 0-9, -; at most 63)"
        )));
    }
    if args.daemonset && (args.node.is_some() || args.node_port.is_some()) {
        return Err(Failure::usage(
            "--node and --node-port are for Pod mode, not --daemonset",
        ));
    }
    if pod_image.is_empty() || pod_image.contains(char::is_whitespace) {
        return Err(Failure::usage(format!(
            "--pod-image {pod_image:?}: not an image"
        )));
    }
    Ok(Some(k8s::Options {
        file,
        namespace,
        injector,
        pod_image,
        port: args.port.unwrap_or(5000),
        daemonset: args.daemonset,
        node: args.node,
        node_port: args.node_port,
    }))
}

/// RFC 1123 label: what a namespace name must be.
fn dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
    let ends_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    !text.is_empty()
        && text.len() <= 63
        && inner_ok
        && ends_ok(bytes.first())
        && ends_ok(bytes.last())
}

fn usage(error: lexopt::Error) -> Failure {
    Failure::usage(error.to_string())
}

fn value(parser: &mut lexopt::Parser) -> Result<OsString, Failure> {
    parser.value().map_err(usage)
}

fn string(parser: &mut lexopt::Parser, option: &str) -> Result<String, Failure> {
    value(parser)?
        .into_string()
        .map_err(|_| Failure::usage(format!("{option}: not valid UTF-8")))
}

fn number(parser: &mut lexopt::Parser, option: &str) -> Result<u64, Failure> {
    let text = string(parser, option)?;
    text.parse()
        .map_err(|_| Failure::usage(format!("{option} {text:?}: not a number of bytes")))
}

fn port(parser: &mut lexopt::Parser, option: &str) -> Result<u16, Failure> {
    let text = string(parser, option)?;
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Failure::usage(format!(
            "{option} {text:?}: not a port (1-65535)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, Failure> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn valid() {
        let command = parse_str(&["a", "b.tar", "--out", "o", "--image", "registry:2.8.2"]);
        let Ok(Command::Pack { options, quiet }) = command else {
            panic!("{command:?}");
        };
        assert_eq!(
            options.sources,
            [PathBuf::from("a"), PathBuf::from("b.tar")]
        );
        assert_eq!(options.chunk_size, DEFAULT_CHUNK_SIZE);
        assert!(!quiet && options.k8s.is_none() && options.images.len() == 1);
        let k8s = parse_str(&[
            "a",
            "-o",
            "o",
            "--k8s",
            "f.yaml",
            "--injector",
            "i",
            "--pod-image",
            "pause:3.9",
            "--daemonset",
            "--port",
            "5001",
        ]);
        let Ok(Command::Pack { options, .. }) = k8s else {
            panic!("{k8s:?}");
        };
        let k8s = options.k8s.unwrap_or_else(|| panic!("no k8s"));
        assert!(k8s.daemonset && k8s.port == 5001 && k8s.namespace == "zarf");
    }

    const MISTAKES: &[(&[&str], &str)] = &[
        (&["--out", "o"], "no source"),
        (&["a"], "--out"),
        (&["a", "-o", "o", "--chunk-size", "0"], "at least 1"),
        (&["a", "-o", "o", "--chunk-size", "1k"], "not a number"),
        (
            &["a", "-o", "o", "--image", "Bad/Name"],
            "not an image reference",
        ),
        (&["a", "-o", "o", "--injector", "i"], "need --k8s"),
        (&["a", "-o", "o", "--k8s", "f"], "--injector"),
        (
            &["a", "-o", "o", "--k8s", "f", "--injector", "i"],
            "--pod-image",
        ),
        (
            &[
                "a",
                "-o",
                "o",
                "--k8s",
                "f",
                "--injector",
                "i",
                "--pod-image",
                "p",
                "--namespace",
                "Zarf",
            ],
            "DNS label",
        ),
        (
            &[
                "a",
                "-o",
                "o",
                "--k8s",
                "f",
                "--injector",
                "i",
                "--pod-image",
                "p",
                "--port",
                "0",
            ],
            "not a port",
        ),
        (
            &[
                "a",
                "-o",
                "o",
                "--k8s",
                "f",
                "--injector",
                "i",
                "--pod-image",
                "p",
                "--chunk-size",
                "2000000",
            ],
            "ConfigMap",
        ),
        (&["a", "-o", "o", "--bogus"], "bogus"),
    ];

    #[test]
    fn mistakes() {
        for (args, want) in MISTAKES {
            let got = parse_str(args).map(|_| ()).map_err(|e| e.to_string());
            assert!(
                got.as_ref().is_err_and(|e| e.contains(want)),
                "{args:?}: {got:?}, want {want:?}"
            );
        }
    }
}
