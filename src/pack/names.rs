//! Image names: what the sources call an image, what `index.json` will say, and which images an
//! `--image` selects.
//!
//! The injector serves an `index.json` entry under the repository and tag of its annotations
//! ([`crate::reference`]). The packer writes both annotations Zarf's own packer writes:
//! `org.opencontainers.image.ref.name` with the full reference (`docker.io/library/registry:2.8.2`)
//! and `org.opencontainers.image.base.name` with the repository path and tag the client asks
//! for (`library/registry:2.8.2`). Names are normalised as Docker does, so `registry:2.8.2`,
//! `docker.io/registry:2.8.2` and `docker.io/library/registry:2.8.2` are one name.
//!
//! A layout whose entry has only a bare tag (`skopeo copy ... oci:DIR:2.8.2`) does not say the
//! repository; such an entry keeps its bare tag, which the injector serves in every repository.

use crate::reference::parse_reference;
use serde_json::{Map, Value};

/// `org.opencontainers.image.ref.name`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `org.opencontainers.image.base.name` (Zarf).
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// `io.containerd.image.name` (containerd, `docker save` since Docker 25).
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// A full image reference, normalised.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    /// The registry host (`docker.io` when none is given).
    pub host: String,
    /// The repository path, with `library/` where Docker adds it.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
}

impl Name {
    /// Parses `[host/]path[:tag][@digest]` (the digest is dropped); `None` if invalid.
    pub fn parse(text: &str) -> Option<Name> {
        let image = parse_reference(text)?;
        let host = match text.split_once('/') {
            Some((first, _)) if is_host(first) => first,
            _ => "docker.io",
        };
        let host = match host {
            "index.docker.io" | "registry-1.docker.io" => "docker.io",
            other => other,
        };
        Some(Name {
            host: host.to_string(),
            repository: image.name,
            tag: image.tag.map(str::to_string),
        })
    }

    /// `host/repository[:tag]`: the `ref.name` annotation.
    pub fn full(&self) -> String {
        format!("{}/{}", self.host, self.base())
    }

    /// `repository[:tag]`: Zarf's `base.name` annotation, and the name clients pull.
    pub fn base(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{tag}", self.repository),
            None => self.repository.clone(),
        }
    }
}

/// Docker's rule: the first path component is a host if it has `.` or `:`, is `localhost`, or
/// has an upper-case letter (see [`crate::reference`]).
fn is_host(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.bytes().any(|b| b.is_ascii_uppercase())
}

/// One name of an image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Label {
    /// A full reference.
    Named(Name),
    /// A bare tag without a repository: served in every repository.
    BareTag(String),
}

impl Label {
    /// The annotations of an `index.json` entry carrying this label.
    pub fn annotations(&self) -> Map<String, Value> {
        let mut map = Map::new();
        match self {
            Label::Named(name) => {
                map.insert(BASE_NAME.into(), Value::String(name.base()));
                map.insert(REF_NAME.into(), Value::String(name.full()));
            }
            Label::BareTag(tag) => {
                map.insert(REF_NAME.into(), Value::String(tag.clone()));
            }
        }
        map
    }

    /// How the label reads in messages and in the summary.
    pub fn display(&self) -> String {
        match self {
            Label::Named(name) => name.base(),
            Label::BareTag(tag) => format!(":{tag} (bare tag)"),
        }
    }
}

/// The labels of an `index.json` entry, from its annotations: every full reference of
/// `ref.name`, `base.name` and `io.containerd.image.name`; a bare `ref.name` tag joins each
/// named repository, or stays a bare tag when none is named. A name without a tag is dropped
/// when the same repository has a tagged one.
pub fn labels_of(annotations: Option<&Map<String, Value>>) -> Vec<Label> {
    let get = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    let ref_name = get(REF_NAME);
    let bare = ref_name.filter(|t| !t.contains(['/', ':', '@']));
    let full = [
        ref_name.filter(|_| bare.is_none()),
        get(BASE_NAME),
        get(CONTAINERD_NAME),
    ];
    let mut names: Vec<Name> = full.into_iter().flatten().filter_map(Name::parse).collect();
    if let Some(tag) = bare.filter(|t| crate::route::valid_tag(t)) {
        if names.is_empty() {
            return vec![Label::BareTag(tag.to_string())];
        }
        let tagged: Vec<Name> = names
            .iter()
            .map(|n| Name {
                tag: Some(tag.to_string()),
                ..n.clone()
            })
            .collect();
        names.extend(tagged);
    }
    let with_tag: Vec<(String, String)> = names
        .iter()
        .filter(|n| n.tag.is_some())
        .map(|n| (n.host.clone(), n.repository.clone()))
        .collect();
    names
        .retain(|n| n.tag.is_some() || !with_tag.contains(&(n.host.clone(), n.repository.clone())));
    let mut labels: Vec<Label> = Vec::new();
    for name in names {
        let label = Label::Named(name);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
}

/// An `--image` argument.
#[derive(Clone, Debug)]
pub struct Selector {
    /// The argument as given.
    pub text: String,
    name: Option<Name>,
    bare_tag: Option<String>,
    digest: Option<String>,
}

impl Selector {
    /// Parses `name[:tag]`, `name@digest`, `name:tag@digest` or a bare tag.
    pub fn parse(text: &str) -> Option<Selector> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                crate::digest::Digest::parse(digest).ok()?;
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let bare_tag =
            (!rest.contains(['/', ':']) && crate::route::valid_tag(rest)).then(|| rest.to_string());
        let name = if rest.is_empty() {
            None
        } else {
            Name::parse(rest)
        };
        if name.is_none() && bare_tag.is_none() && !(rest.is_empty() && digest.is_some()) {
            return None;
        }
        Some(Selector {
            text: text.to_string(),
            name,
            bare_tag,
            digest,
        })
    }

    /// Whether an image with this manifest `digest` and these labels is selected. A name
    /// without a tag selects every tag of the repository.
    pub fn matches(&self, digest: Option<&str>, labels: &[Label]) -> bool {
        if let (Some(want), Some(have)) = (&self.digest, digest) {
            if want != have {
                return false;
            }
        }
        if self.digest.is_some() && digest.is_none() {
            return false;
        }
        if self.name.is_none() && self.bare_tag.is_none() {
            return true;
        }
        labels.iter().any(|label| self.matches_label(label))
    }

    fn matches_label(&self, label: &Label) -> bool {
        match label {
            Label::Named(have) => self.name.as_ref().is_some_and(|want| {
                want.repository == have.repository && (want.tag.is_none() || want.tag == have.tag)
            }),
            Label::BareTag(tag) => self.bare_tag.as_deref() == Some(tag.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<String> {
        let map: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        labels_of(Some(&map))
            .iter()
            .map(|l| match l {
                Label::Named(n) => n.full(),
                Label::BareTag(t) => format!("bare {t}"),
            })
            .collect()
    }

    #[test]
    fn names_normalised() {
        let cases = [
            (
                "registry:2.8.2",
                "docker.io/library/registry:2.8.2",
                "library/registry:2.8.2",
            ),
            (
                "docker.io/registry:2.8.2",
                "docker.io/library/registry:2.8.2",
                "library/registry:2.8.2",
            ),
            (
                "index.docker.io/library/registry",
                "docker.io/library/registry",
                "library/registry",
            ),
            ("ghcr.io/team/app:v1", "ghcr.io/team/app:v1", "team/app:v1"),
            ("localhost:5000/x:y", "localhost:5000/x:y", "x:y"),
            (
                "library/registry:2.8.2",
                "docker.io/library/registry:2.8.2",
                "library/registry:2.8.2",
            ),
        ];
        for (text, full, base) in cases {
            let name = Name::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (name.full().as_str(), name.base().as_str()),
                (full, base),
                "{text}"
            );
        }
        assert_eq!(Name::parse("Bad/Name"), None);
    }

    #[test]
    fn entry_labels() {
        assert_eq!(labels(&[(REF_NAME, "2.8.2")]), ["bare 2.8.2"]);
        assert_eq!(
            labels(&[
                (REF_NAME, "2.8.2"),
                (CONTAINERD_NAME, "docker.io/library/registry:2.8.2")
            ]),
            ["docker.io/library/registry:2.8.2"]
        );
        assert_eq!(
            labels(&[
                (REF_NAME, "docker.io/library/registry:2.8.2"),
                (BASE_NAME, "library/registry:2.8.2")
            ]),
            ["docker.io/library/registry:2.8.2"]
        );
        assert_eq!(
            labels(&[(REF_NAME, "latest"), (BASE_NAME, "library/registry:2.8.2")]),
            [
                "docker.io/library/registry:2.8.2",
                "docker.io/library/registry:latest"
            ]
        );
        assert!(labels(&[]).is_empty());
        assert!(labels(&[(REF_NAME, "-bad")]).is_empty());
    }

    #[test]
    fn selectors() {
        let app = Name::parse("docker.io/library/app:1.0").map(Label::Named);
        let app = [app.unwrap_or(Label::BareTag("x".into()))];
        let bare = [Label::BareTag("2.8.2".into())];
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases: &[(&str, &[Label], bool)] = &[
            ("app:1.0", &app, true),
            ("docker.io/library/app:1.0", &app, true),
            ("library/app", &app, true),
            ("app:2.0", &app, false),
            ("ghcr.io/other/app:1.0", &app, false),
            ("2.8.2", &bare, true),
            ("2.8.3", &bare, false),
            ("app:1.0", &bare, false),
        ];
        for (text, labels, want) in cases {
            let selector = Selector::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(selector.matches(Some(digest), labels), *want, "{text}");
        }
        let by_digest = Selector::parse(&format!("app@{digest}"));
        assert!(by_digest.is_some_and(|s| s.matches(Some(digest), &app)));
        let other = "sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let by_other = Selector::parse(&format!("app@{other}"));
        assert!(by_other.is_some_and(|s| !s.matches(Some(digest), &app)));
        assert!(Selector::parse("Bad/Name:x").is_none());
        assert!(Selector::parse("app@sha256:abc").is_none());
    }
}
