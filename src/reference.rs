//! The names and tags an `index.json` entry is served under, from its annotations.
//!
//! Why: an OCI layout has no repositories, only entries, and the tools that write layouts name
//! their entries differently. `org.opencontainers.image.ref.name` holds a bare tag (skopeo,
//! oras, containerd) or a full reference; Zarf writes `org.opencontainers.image.base.name`
//! (`library/registry:2.8.2`); containerd and `docker save` write `io.containerd.image.name`
//! (`docker.io/library/registry:2.8.2`). A client pulls `127.0.0.1:5000/library/registry:2.8.2`,
//! so each full reference is reduced to the repository path the client will ask for, the way
//! Docker normalises names (distribution's `reference.ParseNormalizedNamed`):
//!
//! - the first component is a registry host, and is dropped, when there is a `/` after it and
//!   it contains `.` or `:`, is `localhost`, or has an upper-case letter;
//! - with no host, or the host `docker.io` or `index.docker.io`, a one-component path gets
//!   `library/` (`registry` and `docker.io/registry` are `library/registry`; `ghcr.io/registry`
//!   stays `registry`);
//! - `name[:tag][@digest]`: the tag follows the last `:` after the last `/` (so
//!   `localhost:5000/x` has none), the digest follows `@`.
//!
//! The issue's rule for bare tags: "A bare tag belongs to the entry's named repository if
//! another annotation names it, else to every repository" ([`Repository::Every`]).
//!
//! # Decisions
//!
//! - A `ref.name` is a bare tag when it has no `/`, `:` or `@` (the OCI layout's usual form:
//!   `2.8.2`, `latest`, even `registry`), else a full reference. `base.name` and the containerd
//!   name are always references.
//! - A reference without a tag adds no tag (no implied `latest`, which Docker only adds when
//!   pulling): the entry is then reachable in that repository by digest only, unless a bare tag
//!   names it.
//! - The digest of `name:tag@digest` is parsed and validated but does not decide anything here:
//!   the entry's own descriptor digest is what gets served.
//! - Anything that does not parse, or whose name or tag breaks the spec's grammar
//!   ([`valid_name`], [`valid_tag`]), is skipped, annotation by annotation: the other
//!   annotations still name the entry.

use crate::digest::Digest;
use crate::route::{rsplit_byte, valid_name, valid_tag};

/// A full image reference reduced to what a registry client asks this registry for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName<'a> {
    /// The repository path: host dropped, `library/` added where Docker adds it.
    pub name: String,
    /// The tag, if the reference has one.
    pub tag: Option<&'a str>,
    /// The digest, if the reference has one.
    pub digest: Option<Digest<'a>>,
}

/// Parses `[host/]path[:tag][@digest]`; `None` unless the name, tag and digest are all valid.
pub fn parse_reference(text: &str) -> Option<ImageName<'_>> {
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(Digest::parse(digest).ok()?)),
        None => (text, None),
    };
    let (path, tag) = match rsplit_byte(rest, b':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (rest, None),
    };
    if tag.is_some_and(|tag| !valid_tag(tag)) {
        return None;
    }
    let name = repository_path(path);
    valid_name(&name).then_some(ImageName { name, tag, digest })
}

/// Drops the registry host and adds `library/` as Docker does.
fn repository_path(path: &str) -> String {
    let (docker_hub, rest) = match path.split_once('/') {
        Some((host, rest)) if is_host(host) => {
            (matches!(host, "docker.io" | "index.docker.io"), rest)
        }
        _ => (true, path),
    };
    let mut name = String::with_capacity(8 + rest.len());
    if docker_hub && !rest.contains('/') {
        name.push_str("library/");
    }
    name.push_str(rest);
    name
}

fn is_host(component: &str) -> bool {
    component.bytes().any(|b| b == b'.' || b == b':')
        || component == "localhost"
        || component.bytes().any(|b| b.is_ascii_uppercase())
}

/// The repositories a name applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repository {
    /// This repository.
    Named(String),
    /// Every repository: a bare tag on an entry that no annotation names.
    Every,
}

/// One (repository, tag) an `index.json` entry is served under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryName {
    /// Where.
    pub repository: Repository,
    /// The tag, or `None` for "reachable there by digest, without a tag".
    pub tag: Option<String>,
}

/// The names of an `index.json` entry, from its annotations `org.opencontainers.image.ref.name`,
/// `org.opencontainers.image.base.name` and `io.containerd.image.name`, without duplicates, in
/// that order. An empty list means the entry has no usable name: it is reachable by digest in
/// every repository. An untagged name is left out when a tagged one has the same repository.
pub fn entry_names(
    ref_name: Option<&str>,
    base_name: Option<&str>,
    containerd_name: Option<&str>,
) -> Vec<EntryName> {
    let mut names = Vec::new();
    let bare_tag = ref_name.filter(|text| !text.bytes().any(|b| matches!(b, b'/' | b':' | b'@')));
    let references = [
        ref_name.filter(|_| bare_tag.is_none()),
        base_name,
        containerd_name,
    ];
    for image in references.into_iter().flatten().filter_map(parse_reference) {
        add(&mut names, Repository::Named(image.name), image.tag);
    }
    if let Some(tag) = bare_tag.filter(|tag| valid_tag(tag)) {
        let mut named = Vec::with_capacity(names.len());
        for name in &names {
            named.push(name.repository.clone());
        }
        if named.is_empty() {
            add(&mut names, Repository::Every, Some(tag));
        }
        for repository in named {
            add(&mut names, repository, Some(tag));
        }
    }
    names
}

/// Adds a name unless it is there; an untagged name only when no tagged one has its
/// repository, and a tagged one replaces the untagged one of its repository.
fn add(names: &mut Vec<EntryName>, repository: Repository, tag: Option<&str>) {
    let name = EntryName {
        repository,
        tag: tag.map(str::to_string),
    };
    let same_repository = |n: &EntryName| n.repository == name.repository;
    if name.tag.is_none() {
        if !names.iter().any(same_repository) {
            names.push(name);
        }
    } else if !names.contains(&name) {
        names.retain(|n| n.tag.is_some() || !same_repository(n));
        names.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! h64 {
        () => {
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        };
    }

    struct Case {
        name: &'static str,
        text: &'static str,
        /// (repository path, tag, digest hex)
        want: Option<(&'static str, Option<&'static str>, Option<&'static str>)>,
    }

    const fn case(
        name: &'static str,
        text: &'static str,
        want: Option<(&'static str, Option<&'static str>, Option<&'static str>)>,
    ) -> Case {
        Case { name, text, want }
    }

    const CASES: &[Case] = &[
        case(
            "docker hub full",
            "docker.io/library/registry:2.8.2",
            Some(("library/registry", Some("2.8.2"), None)),
        ),
        case(
            "docker hub short",
            "docker.io/registry:2.8.2",
            Some(("library/registry", Some("2.8.2"), None)),
        ),
        case(
            "legacy docker hub host",
            "index.docker.io/registry",
            Some(("library/registry", None, None)),
        ),
        case(
            "docker hub user repository",
            "docker.io/team/app:v1",
            Some(("team/app", Some("v1"), None)),
        ),
        case(
            "no host, one component",
            "registry:2.8.2",
            Some(("library/registry", Some("2.8.2"), None)),
        ),
        case(
            "no host, no tag",
            "registry",
            Some(("library/registry", None, None)),
        ),
        case(
            "no host, two components (Zarf)",
            "library/registry:2.8.2",
            Some(("library/registry", Some("2.8.2"), None)),
        ),
        case(
            "no host, user repository",
            "team/app:v1",
            Some(("team/app", Some("v1"), None)),
        ),
        case(
            "ghcr",
            "ghcr.io/team/app:v1",
            Some(("team/app", Some("v1"), None)),
        ),
        case(
            "other host, one component: no library/",
            "ghcr.io/registry:1",
            Some(("registry", Some("1"), None)),
        ),
        case(
            "host with port",
            "localhost:5000/x:y",
            Some(("x", Some("y"), None)),
        ),
        case(
            "host with port, no tag",
            "localhost:5000/x",
            Some(("x", None, None)),
        ),
        case(
            "localhost",
            "localhost/a/b:c",
            Some(("a/b", Some("c"), None)),
        ),
        case(
            "IP and port",
            "127.0.0.1:31999/library/registry:2.8.2",
            Some(("library/registry", Some("2.8.2"), None)),
        ),
        case(
            "upper-case first component is a host",
            "Example/app:1",
            Some(("app", Some("1"), None)),
        ),
        case(
            "localhost alone is a name",
            "localhost",
            Some(("library/localhost", None, None)),
        ),
        case(
            "localhost:5000 alone is name and tag",
            "localhost:5000",
            Some(("library/localhost", Some("5000"), None)),
        ),
        case(
            "deep path",
            "registry.example.com:443/a/b/c/d:tag_1",
            Some(("a/b/c/d", Some("tag_1"), None)),
        ),
        case(
            "digest",
            concat!("ghcr.io/a/b@sha256:", h64!()),
            Some(("a/b", None, Some(h64!()))),
        ),
        case(
            "tag and digest",
            concat!("docker.io/library/registry:2.8.2@sha256:", h64!()),
            Some(("library/registry", Some("2.8.2"), Some(h64!()))),
        ),
        case(
            "sha512 digest",
            concat!("a@sha512:", h64!(), h64!()),
            Some(("library/a", None, Some(concat!(h64!(), h64!())))),
        ),
        case("bad digest", "a@sha256:abc", None),
        case("unsupported digest", concat!("a@md5:", h64!()), None),
        case("empty digest", "a@", None),
        case("two at signs", concat!("a@b@sha256:", h64!()), None),
        case("digest only", concat!("@sha256:", h64!()), None),
        case("empty", "", None),
        case("empty tag", "registry:", None),
        case("bad tag", "registry:-x", None),
        case("long tag", concat!("registry:", h64!(), h64!(), "x"), None),
        case("upper-case repository", "docker.io/Library/registry", None),
        case("host only", "ghcr.io/", None),
        case("empty component", "ghcr.io/a//b", None),
        case("traversal", "ghcr.io/../etc:x", None),
        case("two colons", "a:b:c", None),
        case("space", "library/registry :1", None),
        case("scheme is not a reference", "http://ghcr.io/a", None),
    ];

    #[test]
    fn references() {
        for case in CASES {
            let got = parse_reference(case.text).map(|i| (i.name, i.tag, i.digest.map(|d| d.hex)));
            let want = case
                .want
                .map(|(name, tag, hex)| (name.to_string(), tag, hex));
            assert_eq!(got, want, "{}", case.name);
        }
    }

    const EVERY: Option<&str> = None;

    struct Entry {
        name: &'static str,
        ref_name: Option<&'static str>,
        base_name: Option<&'static str>,
        containerd_name: Option<&'static str>,
        /// (repository, or None for every repository; tag)
        want: &'static [(Option<&'static str>, Option<&'static str>)],
    }

    const fn entry(
        name: &'static str,
        annotations: [Option<&'static str>; 3],
        want: &'static [(Option<&'static str>, Option<&'static str>)],
    ) -> Entry {
        let [ref_name, base_name, containerd_name] = annotations;
        Entry {
            name,
            ref_name,
            base_name,
            containerd_name,
            want,
        }
    }

    const REG: Option<&str> = Some("library/registry");

    const ENTRIES: &[Entry] = &[
        entry("no annotations", [None, None, None], &[]),
        entry(
            "bare tag alone: every repository",
            [Some("2.8.2"), None, None],
            &[(EVERY, Some("2.8.2"))],
        ),
        entry(
            "bare name-like tag",
            [Some("registry"), None, None],
            &[(EVERY, Some("registry"))],
        ),
        entry(
            "full ref.name",
            [Some("docker.io/library/registry:2.8.2"), None, None],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "short ref.name",
            [Some("registry:2.8.2"), None, None],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "Zarf base.name",
            [None, Some("library/registry:2.8.2"), None],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "containerd name",
            [None, None, Some("docker.io/library/registry:2.8.2")],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "containerd export: bare tag and full name agree",
            [
                Some("2.8.2"),
                None,
                Some("docker.io/library/registry:2.8.2"),
            ],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "bare tag joins the named repository",
            [Some("latest"), Some("library/registry:2.8.2"), None],
            &[(REG, Some("2.8.2")), (REG, Some("latest"))],
        ),
        entry(
            "bare tag joins every named repository",
            [
                Some("v1"),
                Some("library/registry:2.8.2"),
                Some("ghcr.io/team/app:v2"),
            ],
            &[
                (REG, Some("2.8.2")),
                (Some("team/app"), Some("v2")),
                (REG, Some("v1")),
                (Some("team/app"), Some("v1")),
            ],
        ),
        entry(
            "untagged name: reachable there by digest",
            [
                None,
                None,
                Some(concat!("docker.io/library/registry@sha256:", h64!())),
            ],
            &[(REG, None)],
        ),
        entry(
            "untagged name gets the bare tag",
            [
                Some("2.8.2"),
                None,
                Some(concat!("registry@sha256:", h64!())),
            ],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "untagged duplicate of a tagged name dropped",
            [
                None,
                Some("library/registry:1"),
                Some(concat!("registry@sha256:", h64!())),
            ],
            &[(REG, Some("1"))],
        ),
        entry(
            "bare tag and a tagged name",
            [Some("registry"), Some("library/registry:1"), None],
            &[(REG, Some("1")), (REG, Some("registry"))],
        ),
        entry(
            "all three name the same",
            [
                Some("registry:2.8.2"),
                Some("library/registry:2.8.2"),
                Some("docker.io/library/registry:2.8.2"),
            ],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "two tags of one repository",
            [Some("app:v1"), None, Some("app:v2")],
            &[
                (Some("library/app"), Some("v1")),
                (Some("library/app"), Some("v2")),
            ],
        ),
        entry("invalid bare tag ignored", [Some("-x"), None, None], &[]),
        entry(
            "invalid bare tag ignored, names kept",
            [Some(".x"), Some("library/registry:2.8.2"), None],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "invalid reference skipped, others kept",
            [Some("Bad/Name:x"), None, Some("registry:2.8.2")],
            &[(REG, Some("2.8.2"))],
        ),
        entry(
            "every annotation invalid",
            [Some("a:b:c"), Some(""), Some("ghcr.io/")],
            &[],
        ),
        entry(
            "invalid names, valid bare tag: every repository",
            [Some("1.0"), Some("Upper/Case:x"), None],
            &[(EVERY, Some("1.0"))],
        ),
    ];

    #[test]
    fn entries() {
        for entry in ENTRIES {
            let got = entry_names(entry.ref_name, entry.base_name, entry.containerd_name);
            let want: Vec<EntryName> = entry
                .want
                .iter()
                .map(|&(repository, tag)| EntryName {
                    repository: repository
                        .map_or(Repository::Every, |r| Repository::Named(r.into())),
                    tag: tag.map(str::to_string),
                })
                .collect();
            assert_eq!(got, want, "{}", entry.name);
        }
    }

    // ---- Oracle: Docker's rules spelled out over segments, on generated references. ----

    fn naive(text: &str) -> Option<(String, Option<String>, Option<String>)> {
        let parts: Vec<&str> = text.split('@').collect();
        let (rest, digest) = match parts.as_slice() {
            [rest] => (*rest, None),
            [rest, digest] => (*rest, Some(*digest)),
            _ => return None,
        };
        if let Some(digest) = digest {
            let (algorithm, hex) = digest.split_once(':')?;
            let len = [("sha256", 64), ("sha512", 128)]
                .iter()
                .find(|(a, _)| *a == algorithm)?
                .1;
            if hex.len() != len || !hex.chars().all(|c| "0123456789abcdef".contains(c)) {
                return None;
            }
        }
        let mut segments: Vec<String> = rest.split('/').map(str::to_string).collect();
        let mut tag = None;
        let last = segments.last_mut()?;
        if let Some(i) = last.rfind(':') {
            tag = Some(last[i + 1..].to_string());
            last.truncate(i);
        }
        let mut host = None;
        if segments.len() > 1 {
            let first = &segments[0];
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.to_lowercase() != *first
            {
                host = Some(segments.remove(0));
            }
        }
        let hub = match host.as_deref() {
            None | Some("docker.io") | Some("index.docker.io") => true,
            Some(_) => false,
        };
        if hub && segments.len() == 1 {
            segments.insert(0, "library".into());
        }
        let name = segments.join("/");
        let name_ok = name.len() <= 255
            && name.split('/').all(|c| {
                // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, by replacing separators
                let squeezed = c.replace("__", "_");
                let mut dashes = squeezed.clone();
                while dashes.contains("--") {
                    dashes = dashes.replace("--", "-");
                }
                !dashes.is_empty()
                    && !dashes.contains("___")
                    && !c.contains("___")
                    && dashes.split(['.', '_', '-']).all(|run| {
                        !run.is_empty()
                            && run
                                .chars()
                                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
                    })
            });
        let tag_ok = tag.as_deref().is_none_or(|t| {
            let mut chars = t.chars();
            t.len() <= 128
                && chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
        (name_ok && tag_ok).then(|| (name, tag, digest.map(|d| d[7..].to_string())))
    }

    #[test]
    fn oracle_references() {
        let hosts = [
            "",
            "docker.io/",
            "index.docker.io/",
            "ghcr.io/",
            "localhost/",
            "localhost:5000/",
            "Foo/",
            "127.0.0.1:5000/",
            "registry-1.docker.io/",
            "docker.io:443/",
            "/",
        ];
        let paths = [
            "registry",
            "library/registry",
            "team/app",
            "a/b/c",
            "a.b/c",
            "Bad",
            "",
            "a__b/c--d",
            "a___b",
            "x/",
            "localhost",
            "docker.io",
        ];
        let tags = ["", ":2.8.2", ":v1", ":_x", ":-x", ":", ":a/b", ":5000"];
        let digests = [
            "",
            concat!("@sha256:", h64!()),
            "@sha256:abc",
            "@",
            concat!("@sha512:", h64!()),
        ];
        let mut valid = 0;
        for host in hosts {
            for path in paths {
                for tag in tags {
                    for digest in digests {
                        let text = format!("{host}{path}{tag}{digest}");
                        let got = parse_reference(&text).map(|i| {
                            (
                                i.name,
                                i.tag.map(str::to_string),
                                i.digest.map(|d| d.hex.to_string()),
                            )
                        });
                        assert_eq!(got, naive(&text), "{text:?}");
                        if let Some((name, tag, _)) = got {
                            valid += 1;
                            assert!(valid_name(&name), "{text:?}");
                            assert!(tag.as_deref().is_none_or(valid_tag), "{text:?}");
                        }
                    }
                }
            }
        }
        assert!(valid > 300, "{valid}");
    }
}
