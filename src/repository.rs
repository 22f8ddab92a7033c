//! The repositories the registry serves: their names, tags, and the manifests and blobs each may
//! serve, built once at start-up from a layout that [`layout::verify`] accepted.
//!
//! An OCI layout has entries, not repositories. Issue 3 ("Names and tags come from
//! `index.json`") says how to get repositories from them:
//!
//! - each `index.json` entry is named by its annotations `org.opencontainers.image.ref.name`,
//!   `org.opencontainers.image.base.name` and `io.containerd.image.name`, read by
//!   [`entry_names`]: (repository, tag) pairs, where a bare tag on an entry that no annotation
//!   names belongs to every repository ([`Repository::Every`]), and an entry without any usable
//!   name is reachable by digest in every repository;
//! - a manifest or blob is served under repository N when it is reachable from an entry of N
//!   through index → manifests → config/layers/subject (nested indexes and Docker manifest
//!   lists included; the `blobs` of an OCI artifact manifest count as layers); entries that
//!   count for every repository count for every N.
//!
//! Note that a `subject` is followed like any other link: an untagged signature of image X makes
//! X (and its layers) reachable in every repository, as the rule says.
//!
//! # Decisions
//!
//! - **A layout that names no repository** (only bare tags, or no annotations at all, as `skopeo
//!   copy ... oci:dir:tag` writes) serves every valid name: [`Repositories::exists`] is true for
//!   any name of the spec's grammar, each with the same tags and content, and the catalog is
//!   empty. As soon as one entry names a repository, only named repositories exist.
//! - **Tags**: a tag of the repository itself wins over a bare tag of every repository; when
//!   two entries give one repository the same tag, the later entry in `index.json` wins. A tag
//!   whose manifest could not be loaded is dropped, so every listed tag resolves.
//! - **Manifests** are read whole (at most [`crate::json::MAX_DOCUMENT`], 4 MiB), hashed, and kept only if
//!   they match their digest and have a media type: the first valid one (RFC 6838 grammar, so
//!   no header injection) of the descriptor's `mediaType` (from `index.json` or the parent
//!   index; the first descriptor seen wins), the manifest's own `mediaType`, or the inferred one
//!   (`manifests` → OCI image index, `config` → OCI image manifest). Their size is their length
//!   on disk. A manifest that is missing, corrupt or untyped is skipped with its children, and
//!   the start-up does not fail (`verify` has already checked those `index.json` reaches).
//! - **Blobs** (config, layers, artifact `blobs`) are only named, never opened here: serving
//!   them opens the file, which answers whether it exists. Docker schema 1 `fsLayers` are not
//!   followed.
//! - **Referrers** (spec: end-12a, "Listing Referrers"): every loaded manifest with a `subject`
//!   is a referrer of the subject's digest, whether or not the subject is on disk, as a
//!   descriptor of its own digest, media type and size. Its `artifactType` is the manifest's
//!   own (if a valid media type), else its config's `mediaType` ("if the artifactType is empty
//!   or missing in the image manifest, the value of artifactType MUST be set to the config
//!   descriptor mediaType value"), else absent, as for an index ("MUST be omitted"). Its
//!   annotations are the manifest's, string values only, sorted by key, the last of duplicate
//!   keys winning. Referrers are listed in the order they were found.
//! - **Invalid digests** anywhere are ignored, as if the descriptor were absent.
//! - **Bounds** (issue 12): links are followed to a depth of [`MAX_DEPTH`] below `index.json`,
//!   at most [`MAX_MANIFESTS`] manifests are read, each of at most 4 MiB, `index.json` is at
//!   most 64 MiB, and computing what each repository reaches takes at most [`MAX_STEPS`] steps
//!   in all. A layout past a bound is refused at start-up with one line naming it, rather than
//!   served in part: a catalog or tag list never names what cannot be served. Real layouts
//!   stay far below them. Memory: one document at a time is in memory (`index.json` is dropped
//!   before the manifests are read), and what stays is one entry per digest and per name.

use crate::error::{Error, Failure};
use crate::layout;
use crate::reference::{entry_names, Repository};
use crate::route::valid_name;
use crate::table::{self, Table};
use graph::{Graph, Node};
use std::collections::BinaryHeap;
use std::path::Path;

pub use graph::{check, MAX_DEPTH, MAX_MANIFESTS};

mod graph;

/// How many links are followed at most, over all repositories, to find what each reaches.
pub const MAX_STEPS: usize = 1 << 22;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const BASE_NAME: &str = "org.opencontainers.image.base.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// A digest's number: its position in [`Repositories::nodes`].
type Id = usize;

/// A manifest (image manifest, image index, manifest list, artifact) the layout stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Its digest, `algorithm:hex`: the file is `blobs/<algorithm>/<hex>`.
    pub digest: String,
    /// Its media type, the `Content-Type` it is served with.
    pub media_type: String,
    /// Its size in bytes, as stored.
    pub size: u64,
    /// For an index or manifest list: the children that name a platform, in document order.
    pub platforms: Vec<PlatformEntry>,
}

/// A child manifest of an index, with its platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformEntry {
    /// The child's digest.
    pub digest: String,
    /// `platform.os`, like `linux`.
    pub os: String,
    /// `platform.architecture`, like `amd64`.
    pub architecture: String,
    /// `platform.variant`, like `v8`, if given.
    pub variant: Option<String>,
}

/// A manifest whose `subject` names another: one descriptor of a referrers response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    /// The referring manifest's digest.
    pub digest: String,
    /// The referring manifest's media type.
    pub media_type: String,
    /// The referring manifest's size.
    pub size: u64,
    /// Its `artifactType`, else its config's media type, else none.
    pub artifact_type: Option<String>,
    /// Its annotations with string values, sorted by key.
    pub annotations: Vec<(String, String)>,
}

/// The tags of one repository (or of every repository) and what it reaches.
#[derive(Default)]
struct Scope {
    /// Tag → the manifest it names; only manifests that were loaded.
    /// (While loading: every tag given, in order, repeats included.) Sorted by tag, each
    /// once: a `Vec`, as most repositories have one tag, and a map costs a node of ~400 bytes
    /// even for one (issue 12: 20,000 repositories cost 8 MB more).
    tags: Vec<(String, Id)>,
    /// Every manifest and blob reachable, sorted (while loading: the entries, unsorted).
    reachable: Vec<Id>,
}

/// The scope of a name in a layout that names no repository: only what every repository has.
static UNNAMED: Scope = Scope {
    tags: Vec::new(),
    reachable: Vec::new(),
};

/// Every repository the layout serves, with its tags, manifests, blobs and referrers.
pub struct Repositories {
    /// Every valid digest the layout names (manifests, blobs, subjects) → its [`Id`].
    ids: Table,
    /// By [`Id`]: the manifest loaded under that digest, if one was (and its links, which
    /// served their purpose at start-up: keeping them costs less code than dropping them).
    nodes: Vec<Node>,
    /// (subject, referrer, the referrer's own id), in the order found.
    referrers: Vec<(Id, Id, Referrer)>,
    /// What every repository has: bare tags of unnamed entries, and unnamed entries.
    every: Scope,
    /// Named repository → its position in `scopes`, sorted by name.
    names: Vec<(String, usize)>,
    /// Named repositories; an id in `every` is not repeated here.
    scopes: Vec<Scope>,
}

impl Repositories {
    /// Reads `index.json` and every manifest it reaches under `root`, once, at start-up.
    /// Fails if `index.json` cannot be read or has no `manifests` array, and if the layout is
    /// over a limit (size, depth, manifests, links): then it cannot all be served.
    pub fn load(root: &Path) -> Result<Repositories, Failure> {
        let index_path = root.join("index.json");
        let mut graph = Graph::new(root);
        let mut every = Scope::default();
        let mut names = Table::new();
        let mut scopes: Vec<Scope> = Vec::new();
        {
            // `index.json` is dropped before the manifests are read.
            let bytes = layout::read_index(&index_path)?;
            for entry in layout::index_manifests(&bytes, &index_path)?.items() {
                let Some(id) = graph.discover(entry, 0, &index_path)? else {
                    continue;
                };
                let annotations = entry.get("annotations").unwrap_or_default();
                let entry_names = entry_names(
                    annotations.get_str(REF_NAME).as_deref(),
                    annotations.get_str(BASE_NAME).as_deref(),
                    annotations.get_str(CONTAINERD_NAME).as_deref(),
                );
                if entry_names.is_empty() {
                    every.reachable.push(id);
                }
                for name in entry_names {
                    let scope = match name.repository {
                        Repository::Named(name) => {
                            let (at, new) = names.insert(&name, scopes.len());
                            if new {
                                scopes.push(Scope::default());
                            }
                            scopes.get_mut(at)
                        }
                        Repository::Every => Some(&mut every),
                    };
                    let Some(scope) = scope else { continue };
                    scope.reachable.push(id);
                    if let Some(tag) = name.tag {
                        scope.tags.push((tag, id));
                    }
                }
            }
        }
        graph.read_queued()?;
        if !close(&mut every, &mut scopes, &graph.nodes) {
            return Err(Failure::at(Error::TooManyLinks, &index_path));
        }
        Ok(Repositories {
            ids: graph.ids,
            nodes: graph.nodes,
            referrers: graph.referrers,
            every,
            names: names.into_sorted(),
            scopes,
        })
    }

    /// The named repositories, sorted, for `/v2/_catalog` (Docker's catalog; the OCI spec has
    /// none). Empty when the layout names none.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(name, _)| name.as_str())
    }

    /// Whether `name` is a repository this registry serves: a named one, or, when the layout
    /// names none, any valid name.
    pub fn exists(&self, name: &str) -> bool {
        self.scope(name).is_some()
    }

    /// The tags of `name`, sorted by byte order (end-8a); `None` if there is no such repository.
    /// Both tag maps are sorted, so they are merged, not sorted (a sort is kilobytes of code
    /// in the stable build).
    pub fn tags(&self, name: &str) -> Option<Vec<&str>> {
        let scope = self.scope(name)?;
        let mut own = scope.tags.iter().map(|(tag, _)| tag).peekable();
        let mut every = self.every.tags.iter().map(|(tag, _)| tag).peekable();
        let mut tags = Vec::new();
        loop {
            let next = match (own.peek(), every.peek()) {
                (Some(a), Some(b)) if a > b => every.next(),
                (Some(a), Some(b)) if a == b => every.next().and(own.next()),
                (Some(_), _) => own.next(),
                (None, _) => every.next(),
            };
            match next {
                Some(tag) => tags.push(tag.as_str()),
                None => return Some(tags),
            }
        }
    }

    /// The manifest `name:tag` points at (end-3 by tag).
    pub fn resolve(&self, name: &str, tag: &str) -> Option<&ManifestInfo> {
        let scope = self.scope(name)?;
        let id = table::find_sorted(&scope.tags, tag)
            .or_else(|| table::find_sorted(&self.every.tags, tag))?;
        self.nodes.get(id)?.manifest()
    }

    /// The manifest `digest` if it is on disk and reachable under `name` (end-3 by digest).
    pub fn manifest(&self, name: &str, digest: &str) -> Option<&ManifestInfo> {
        let scope = self.scope(name)?;
        let id = self.ids.get(digest)?;
        let info = self.nodes.get(id)?.manifest()?;
        self.reaches(scope, id).then_some(info)
    }

    /// Whether `digest` (config, layer, artifact blob or manifest) is reachable under `name`
    /// (end-2). The file itself is not checked.
    pub fn serves_blob(&self, name: &str, digest: &str) -> bool {
        match (self.scope(name), self.ids.get(digest)) {
            (Some(scope), Some(id)) => self.reaches(scope, id),
            _ => false,
        }
    }

    /// The manifests reachable under `name` whose `subject` is `subject` (end-12a).
    pub fn referrers(&self, name: &str, subject: &str) -> Vec<&Referrer> {
        let (Some(scope), Some(subject)) = (self.scope(name), self.ids.get(subject)) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for (of, id, referrer) in &self.referrers {
            if *of == subject && self.reaches(scope, *id) {
                found.push(referrer);
            }
        }
        found
    }

    fn scope(&self, name: &str) -> Option<&Scope> {
        match table::find_sorted(&self.names, name) {
            Some(at) => self.scopes.get(at),
            None if self.names.is_empty() && valid_name(name) => Some(&UNNAMED),
            None => None,
        }
    }

    fn reaches(&self, scope: &Scope, id: Id) -> bool {
        self.every.reachable.binary_search(&id).is_ok()
            || scope.reachable.binary_search(&id).is_ok()
    }
}

impl Scope {
    /// Drops tags whose manifest was not loaded, and turns `reachable` from the entries into
    /// everything reachable from them that `shared` does not already hold, sorted. `marks`
    /// (all false, one per node) marks what is reachable; it is left marked. False if
    /// `budget` ran out first.
    fn close(
        &mut self,
        nodes: &[Node],
        marks: &mut [bool],
        shared: Option<&[bool]>,
        budget: &mut usize,
    ) -> bool {
        let loaded = |id: Id| nodes.get(id).is_some_and(|node| node.manifest().is_some());
        // Sorted, the later of two equal tags winning.
        let mut tags = Vec::new();
        let mut targets = Vec::new();
        for (tag, id) in std::mem::take(&mut self.tags) {
            if loaded(id) {
                tags.push((tag, targets.len()));
                targets.push(id);
            }
        }
        for (tag, at) in table::sorted_last(tags) {
            if let Some(&id) = targets.get(at) {
                self.tags.push((tag, id));
            }
        }
        let mut pending = std::mem::take(&mut self.reachable);
        pending.retain(|&id| mark(marks, id));
        self.reachable = pending.clone();
        while let Some(id) = pending.pop() {
            let links = nodes.get(id).map(|node| node.links.as_slice());
            for &link in links.unwrap_or_default() {
                if *budget == 0 {
                    return false;
                }
                *budget -= 1;
                let is_shared = shared.is_some_and(|s| s.get(link) == Some(&true));
                if !is_shared && mark(marks, link) {
                    self.reachable.push(link);
                    pending.push(link);
                }
            }
        }
        // A heap sort: `sort_unstable` is kilobytes more code in the stable build.
        self.reachable = BinaryHeap::from(std::mem::take(&mut self.reachable)).into_sorted_vec();
        true
    }
}

/// Closes every scope over the links of `nodes`: first what every repository has, then each
/// named repository, which leaves out what every repository has. False if that takes more
/// than [`MAX_STEPS`] steps.
fn close(every: &mut Scope, scopes: &mut [Scope], nodes: &[Node]) -> bool {
    let mut budget = MAX_STEPS;
    let mut in_every = vec![false; nodes.len()];
    if !every.close(nodes, &mut in_every, None, &mut budget) {
        return false;
    }
    let mut marks = vec![false; nodes.len()];
    for scope in scopes {
        if !scope.close(nodes, &mut marks, Some(&in_every), &mut budget) {
            return false;
        }
        for &id in &scope.reachable {
            if let Some(mark) = marks.get_mut(id) {
                *mark = false;
            }
        }
    }
    true
}

/// Marks `id`; whether it was unmarked before.
fn mark(marks: &mut [bool], id: Id) -> bool {
    match marks.get_mut(id) {
        Some(mark) if !*mark => {
            *mark = true;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256, Sha512};
    use std::collections::HashMap;
    use std::fs;
    use std::path::PathBuf;

    const OCI_MAN: &str = "application/vnd.oci.image.manifest.v1+json";
    const OCI_IDX: &str = "application/vnd.oci.image.index.v1+json";
    const DOCKER: &str = "application/vnd.docker.distribution.manifest.v2+json";
    const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    const ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";

    /// A layout on disk under a unique temporary directory, removed on drop. Objects have
    /// names; in the JSON given to [`Fixture::put`] and [`Fixture::index`], `<name>` becomes
    /// `"digest":"…","size":N` of that object and `<@name>` its digest.
    struct Fixture {
        dir: PathBuf,
        objects: HashMap<String, (String, u64)>,
    }

    impl Fixture {
        fn new(test: &str) -> Fixture {
            let dir = std::env::temp_dir().join(format!(
                "zarf-injector-repository-{}-{test}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
            fs::create_dir_all(dir.join("blobs/sha512")).unwrap();
            fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
            Fixture {
                dir,
                objects: HashMap::new(),
            }
        }

        fn sha256(bytes: &[u8]) -> String {
            let hex: String = Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("sha256:{hex}")
        }

        /// Stores `text` (placeholders expanded) under its SHA-256.
        fn put(&mut self, name: &str, text: &str) {
            let bytes = self.expand(text);
            let digest = Self::sha256(bytes.as_bytes());
            self.write(name, &digest, bytes.as_bytes());
        }

        /// Stores `text` (placeholders expanded) under its SHA-512.
        fn put512(&mut self, name: &str, text: &str) {
            let bytes = self.expand(text);
            let hex: String = Sha512::digest(bytes.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            self.write(name, &format!("sha512:{hex}"), bytes.as_bytes());
        }

        /// Names the digest of `text` without storing anything.
        fn phantom(&mut self, name: &str, text: &str) {
            let digest = Self::sha256(text.as_bytes());
            self.objects
                .insert(name.into(), (digest, text.len() as u64));
        }

        /// Stores `text` under the digest of `claimed`: a corrupt blob.
        fn corrupt(&mut self, name: &str, text: &str, claimed: &str) {
            let bytes = self.expand(text);
            let digest = Self::sha256(claimed.as_bytes());
            self.write(name, &digest, bytes.as_bytes());
        }

        fn write(&mut self, name: &str, digest: &str, bytes: &[u8]) {
            let (algorithm, hex) = digest.split_once(':').unwrap();
            let path = self.dir.join("blobs").join(algorithm).join(hex);
            fs::write(path, bytes).unwrap();
            let entry = (digest.to_string(), bytes.len() as u64);
            assert!(self.objects.insert(name.into(), entry).is_none(), "{name}");
        }

        /// Writes `index.json` with these entries.
        fn index(&self, entries: &str) {
            let text = self.expand(&format!(r#"{{"schemaVersion":2,"manifests":[{entries}]}}"#));
            fs::write(self.dir.join("index.json"), text).unwrap();
        }

        fn expand(&self, text: &str) -> String {
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find('<') {
                out.push_str(&rest[..start]);
                let end = start + rest[start..].find('>').unwrap();
                let key = &rest[start + 1..end];
                let name = key.trim_start_matches('@');
                let (digest, size) = self.objects.get(name).expect(name);
                if key.starts_with('@') {
                    out.push_str(digest);
                } else {
                    out.push_str(&format!(r#""digest":"{digest}","size":{size}"#));
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        }

        /// The digest of the object `name`, or `name` itself if there is no such object.
        fn digest(&self, name: &str) -> String {
            self.objects
                .get(name)
                .map_or(name.to_string(), |(digest, _)| digest.clone())
        }

        fn size(&self, name: &str) -> u64 {
            self.objects[name].1
        }

        fn load(&self) -> Repositories {
            layout::verify(&self.dir).unwrap();
            Repositories::load(&self.dir).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// A referrer: object, artifact type, annotations.
    type Ref = (
        &'static str,
        Option<&'static str>,
        &'static [(&'static str, &'static str)],
    );
    /// A platform: object, os, architecture, variant.
    type Plat = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    );

    /// One query and its answer; objects are named as in the fixture.
    enum Check {
        Catalog(&'static [&'static str]),
        Exists(&'static str, bool),
        Tags(&'static str, Option<&'static [&'static str]>),
        /// repository, tag, the manifest object it resolves to
        Resolve(&'static str, &'static str, Option<&'static str>),
        /// repository, manifest object, its media type if served
        Manifest(&'static str, &'static str, Option<&'static str>),
        Blob(&'static str, &'static str, bool),
        /// repository, subject object, referrers in order
        Referrers(&'static str, &'static str, &'static [Ref]),
        /// repository, index object, its platform children
        Platforms(&'static str, &'static str, &'static [Plat]),
    }

    struct Case {
        name: &'static str,
        check: Check,
    }

    const fn case(name: &'static str, check: Check) -> Case {
        Case { name, check }
    }

    fn run(fx: &Fixture, repos: &Repositories, cases: &[Case]) {
        for Case { name, check } in cases {
            match *check {
                Check::Catalog(want) => {
                    assert_eq!(repos.names().collect::<Vec<_>>(), want, "{name}")
                }
                Check::Exists(repo, want) => assert_eq!(repos.exists(repo), want, "{name}"),
                Check::Tags(repo, want) => {
                    assert_eq!(repos.tags(repo), want.map(<[_]>::to_vec), "{name}")
                }
                Check::Resolve(repo, tag, want) => {
                    let got = repos.resolve(repo, tag).map(|m| m.digest.clone());
                    assert_eq!(got, want.map(|o| fx.digest(o)), "{name}");
                }
                Check::Manifest(repo, object, want) => {
                    let got = repos.manifest(repo, &fx.digest(object));
                    assert_eq!(got.map(|m| m.media_type.as_str()), want, "{name}");
                    if let Some(info) = got {
                        assert_eq!(info.digest, fx.digest(object), "{name}");
                        assert_eq!(info.size, fx.size(object), "{name}: size");
                    }
                }
                Check::Blob(repo, object, want) => {
                    assert_eq!(repos.serves_blob(repo, &fx.digest(object)), want, "{name}")
                }
                Check::Referrers(repo, subject, want) => {
                    let got = repos.referrers(repo, &fx.digest(subject));
                    for referrer in &got {
                        let info = repos.manifest(repo, &referrer.digest).unwrap();
                        assert_eq!(referrer.media_type, info.media_type, "{name}");
                        assert_eq!(referrer.size, info.size, "{name}");
                    }
                    let got: Vec<_> = got
                        .iter()
                        .map(|r| {
                            let annotations: Vec<(&str, &str)> = r
                                .annotations
                                .iter()
                                .map(|(k, v)| (k.as_str(), v.as_str()))
                                .collect();
                            (r.digest.clone(), r.artifact_type.as_deref(), annotations)
                        })
                        .collect();
                    let want: Vec<_> = want
                        .iter()
                        .map(|&(object, artifact_type, annotations)| {
                            (fx.digest(object), artifact_type, annotations.to_vec())
                        })
                        .collect();
                    assert_eq!(got, want, "{name}");
                }
                Check::Platforms(repo, object, want) => {
                    let info = repos.manifest(repo, &fx.digest(object)).expect(name);
                    let want: Vec<PlatformEntry> = want
                        .iter()
                        .map(|&(child, os, architecture, variant)| PlatformEntry {
                            digest: fx.digest(child),
                            os: os.into(),
                            architecture: architecture.into(),
                            variant: variant.map(str::to_string),
                        })
                        .collect();
                    assert_eq!(info.platforms, want, "{name}");
                }
            }
        }
    }

    /// An OCI image manifest `name` with a config and one layer of its own.
    fn image(fx: &mut Fixture, name: &str, own_media_type: bool) {
        fx.put(
            &format!("cfg-{name}"),
            &format!(r#"{{"os":"linux","id":"{name}"}}"#),
        );
        fx.put(&format!("layer-{name}"), &format!("layer {name}"));
        let media_type = if own_media_type {
            format!(r#""mediaType":"{OCI_MAN}","#)
        } else {
            String::new()
        };
        fx.put(
            &format!("man-{name}"),
            &format!(
                r#"{{"schemaVersion":2,{media_type}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json",<cfg-{name}>}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",<layer-{name}>}}]}}"#
            ),
        );
    }

    /// Three named repositories, a bare tag, an untagged entry and referrers.
    fn multi_image_fixture() -> Fixture {
        let mut fx = Fixture::new("multi");
        image(&mut fx, "a", true);
        image(&mut fx, "amd64", true);
        image(&mut fx, "arm64", false);
        image(&mut fx, "old", true);
        image(&mut fx, "bare", true);
        image(&mut fx, "untagged", false);
        fx.put(
            "idx-m",
            &format!(
                r#"{{"schemaVersion":2,"manifests":[
                {{"mediaType":"{OCI_MAN}",<man-amd64>,"platform":{{"architecture":"amd64","os":"linux"}}}},
                {{<man-arm64>,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
            ),
        );
        fx.put("cfg-d", r#"{"os":"linux","id":"docker"}"#);
        fx.put("layer-d", "layer d");
        fx.put(
            "man-d",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER}",
                "config":{{"mediaType":"application/vnd.docker.container.image.v1+json",<cfg-d>}},
                "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",<layer-d>}}]}}"#
            ),
        );
        fx.put("empty", "{}");
        fx.put("sig-layer", "signature");
        fx.put(
            "sig",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","artifactType":"application/vnd.example.sig",
                "config":{{"mediaType":"application/vnd.oci.empty.v1+json",<empty>}},
                "layers":[{{"mediaType":"application/octet-stream",<sig-layer>}}],
                "subject":{{"mediaType":"{OCI_MAN}",<man-a>}},
                "annotations":{{"org.opencontainers.image.created":"2024-01-01T00:00:00Z","count":1}}}}"#
            ),
        );
        fx.put("sbom-config", r#"{"format":"spdx"}"#);
        fx.put("sbom-layer", "sbom");
        fx.put(
            "sbom",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}",
                "config":{{"mediaType":"application/vnd.example.sbom.config.v1+json",<sbom-config>}},
                "layers":[{{"mediaType":"application/spdx+json",<sbom-layer>}}],
                "subject":{{"mediaType":"{OCI_MAN}",<man-a>}}}}"#
            ),
        );
        fx.put("dsig-blob", "docker signature");
        fx.put(
            "dsig",
            &format!(
                r#"{{"mediaType":"{ARTIFACT}","artifactType":"application/vnd.example.dsig",
                "blobs":[{{"mediaType":"application/octet-stream",<dsig-blob>}}],
                "subject":{{"mediaType":"{DOCKER}",<man-d>}}}}"#
            ),
        );
        fx.index(&format!(
            r#"{{"mediaType":"{OCI_MAN}",<man-a>,"annotations":{{"org.opencontainers.image.ref.name":"localhost:5000/oci/a:1.0"}}}},
            {{"mediaType":"{OCI_MAN}",<man-a>,"annotations":{{"org.opencontainers.image.ref.name":"oci/a:latest"}}}},
            {{<idx-m>,"annotations":{{"org.opencontainers.image.base.name":"library/registry:2.8.2"}}}},
            {{"mediaType":"{OCI_MAN}",<man-old>,"annotations":{{"io.containerd.image.name":"docker.io/registry:2.8.1"}}}},
            {{"mediaType":"{DOCKER}",<man-d>,"annotations":{{"io.containerd.image.name":"registry.example.com:5000/team/app:v1"}}}},
            {{"mediaType":"{DOCKER}",<man-d>,"annotations":{{"io.containerd.image.name":"team/app:V2"}}}},
            {{<man-bare>,"annotations":{{"org.opencontainers.image.ref.name":"shared"}}}},
            {{<man-untagged>}},
            {{"mediaType":"{OCI_MAN}",<sig>,"annotations":{{"org.opencontainers.image.ref.name":"oci/a:sig"}}}},
            {{"mediaType":"{OCI_MAN}",<sbom>,"annotations":{{"io.containerd.image.name":"oci/a@<@sbom>"}}}},
            {{"mediaType":"{ARTIFACT}",<dsig>,"annotations":{{"io.containerd.image.name":"registry.example.com:5000/team/app"}}}}"#
        ));
        fx
    }

    const REG: &str = "library/registry";
    const SIG: Ref = (
        "sig",
        Some("application/vnd.example.sig"),
        &[("org.opencontainers.image.created", "2024-01-01T00:00:00Z")],
    );
    const SBOM: Ref = (
        "sbom",
        Some("application/vnd.example.sbom.config.v1+json"),
        &[],
    );
    const DSIG: Ref = ("dsig", Some("application/vnd.example.dsig"), &[]);

    const MULTI: &[Case] = &[
        case(
            "catalog: named repositories, sorted",
            Check::Catalog(&[REG, "oci/a", "team/app"]),
        ),
        case("exists: oci/a", Check::Exists("oci/a", true)),
        case("exists: Zarf base.name", Check::Exists(REG, true)),
        case(
            "exists: containerd name with host and port",
            Check::Exists("team/app", true),
        ),
        case(
            "exists: registry is library/registry",
            Check::Exists("registry", false),
        ),
        case("exists: prefix of a name", Check::Exists("team", false)),
        case("exists: unknown", Check::Exists("nope/nope", false)),
        case(
            "end-8a tags: tagged twice, bare tag, artifact tag",
            Check::Tags("oci/a", Some(&["1.0", "latest", "shared", "sig"])),
        ),
        case(
            "end-8a tags: base.name and docker.io/registry agree",
            Check::Tags(REG, Some(&["2.8.1", "2.8.2", "shared"])),
        ),
        case(
            "end-8a tags: byte order",
            Check::Tags("team/app", Some(&["V2", "shared", "v1"])),
        ),
        case(
            "end-8a tags: unknown repository",
            Check::Tags("nope/nope", None),
        ),
        case(
            "end-3 resolve: first tag",
            Check::Resolve("oci/a", "1.0", Some("man-a")),
        ),
        case(
            "end-3 resolve: second tag",
            Check::Resolve("oci/a", "latest", Some("man-a")),
        ),
        case(
            "end-3 resolve: Zarf base.name",
            Check::Resolve(REG, "2.8.2", Some("idx-m")),
        ),
        case(
            "end-3 resolve: docker.io/registry:2.8.1",
            Check::Resolve(REG, "2.8.1", Some("man-old")),
        ),
        case(
            "end-3 resolve: containerd name",
            Check::Resolve("team/app", "v1", Some("man-d")),
        ),
        case(
            "end-3 resolve: second containerd name",
            Check::Resolve("team/app", "V2", Some("man-d")),
        ),
        case(
            "end-3 resolve: tag of another repository",
            Check::Resolve(REG, "v1", None),
        ),
        case(
            "end-3 resolve: bare tag in oci/a",
            Check::Resolve("oci/a", "shared", Some("man-bare")),
        ),
        case(
            "end-3 resolve: bare tag in team/app",
            Check::Resolve("team/app", "shared", Some("man-bare")),
        ),
        case(
            "end-3 resolve: unknown repository",
            Check::Resolve("nope/nope", "shared", None),
        ),
        case(
            "end-3 manifest: media type from index.json",
            Check::Manifest("oci/a", "man-a", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: Docker schema2",
            Check::Manifest("team/app", "man-d", Some(DOCKER)),
        ),
        case(
            "end-3 manifest: index media type inferred",
            Check::Manifest(REG, "idx-m", Some(OCI_IDX)),
        ),
        case(
            "end-3 manifest: child, media type from the parent index",
            Check::Manifest(REG, "man-amd64", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: child, media type inferred",
            Check::Manifest(REG, "man-arm64", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: media type from its own field",
            Check::Manifest("oci/a", "man-bare", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: untagged entry in team/app",
            Check::Manifest("team/app", "man-untagged", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: untagged entry in library/registry",
            Check::Manifest(REG, "man-untagged", Some(OCI_MAN)),
        ),
        case(
            "end-3 manifest: artifact manifest",
            Check::Manifest("team/app", "dsig", Some(ARTIFACT)),
        ),
        case(
            "end-3 manifest: referrer in its repository",
            Check::Manifest("oci/a", "sig", Some(OCI_MAN)),
        ),
        case(
            "end-3 isolation: child of another repository",
            Check::Manifest("team/app", "man-amd64", None),
        ),
        case(
            "end-3 isolation: Docker manifest in oci/a",
            Check::Manifest("oci/a", "man-d", None),
        ),
        case(
            "end-3 isolation: oci/a manifest in team/app",
            Check::Manifest("team/app", "man-a", None),
        ),
        case(
            "end-3 isolation: referrer of oci/a in team/app",
            Check::Manifest("team/app", "sig", None),
        ),
        case(
            "end-3: a layer is not a manifest",
            Check::Manifest("oci/a", "layer-a", None),
        ),
        case(
            "end-3: unknown repository",
            Check::Manifest("nope/nope", "man-untagged", None),
        ),
        case("end-2 blob: layer", Check::Blob("oci/a", "layer-a", true)),
        case("end-2 blob: config", Check::Blob("oci/a", "cfg-a", true)),
        case(
            "end-2 blob: manifest as a blob",
            Check::Blob("oci/a", "man-a", true),
        ),
        case(
            "end-2 isolation: layer of oci/a in team/app",
            Check::Blob("team/app", "layer-a", false),
        ),
        case(
            "end-2 isolation: layer of oci/a in library/registry",
            Check::Blob(REG, "layer-a", false),
        ),
        case(
            "end-2 isolation: layer of team/app in oci/a",
            Check::Blob("oci/a", "layer-d", false),
        ),
        case(
            "end-2 isolation: platform layer in oci/a",
            Check::Blob("oci/a", "layer-arm64", false),
        ),
        case(
            "end-2 blob: Docker layer",
            Check::Blob("team/app", "layer-d", true),
        ),
        case(
            "end-2 blob: Docker config",
            Check::Blob("team/app", "cfg-d", true),
        ),
        case(
            "end-2 blob: platform layer",
            Check::Blob(REG, "layer-arm64", true),
        ),
        case(
            "end-2 blob: platform config",
            Check::Blob(REG, "cfg-amd64", true),
        ),
        case(
            "end-2 blob: second tag",
            Check::Blob(REG, "layer-old", true),
        ),
        case(
            "end-2 blob: untagged entry everywhere",
            Check::Blob("oci/a", "layer-untagged", true),
        ),
        case(
            "end-2 blob: bare-tag entry everywhere",
            Check::Blob(REG, "layer-bare", true),
        ),
        case(
            "end-2 blob: artifact layer",
            Check::Blob("oci/a", "sig-layer", true),
        ),
        case(
            "end-2 blob: empty config",
            Check::Blob("oci/a", "empty", true),
        ),
        case(
            "end-2 blob: artifact manifest blobs",
            Check::Blob("team/app", "dsig-blob", true),
        ),
        case(
            "end-2 isolation: artifact layer elsewhere",
            Check::Blob(REG, "sig-layer", false),
        ),
        case(
            "end-2 isolation: artifact blobs elsewhere",
            Check::Blob("oci/a", "dsig-blob", false),
        ),
        case(
            "end-2: unknown repository",
            Check::Blob("nope/nope", "layer-untagged", false),
        ),
        case(
            "end-12a referrers: artifactType field, then config media type",
            Check::Referrers("oci/a", "man-a", &[SIG, SBOM]),
        ),
        case(
            "end-12a referrers: artifact manifest",
            Check::Referrers("team/app", "man-d", &[DSIG]),
        ),
        case(
            "end-12a referrers: none reachable in another repository",
            Check::Referrers(REG, "man-a", &[]),
        ),
        case(
            "end-12a referrers: of another repository's manifest",
            Check::Referrers("oci/a", "man-d", &[]),
        ),
        case(
            "end-12a referrers: none",
            Check::Referrers("oci/a", "man-bare", &[]),
        ),
        case(
            "end-12a referrers: unknown repository",
            Check::Referrers("nope/nope", "man-a", &[]),
        ),
        case(
            "platforms of a multi-arch index",
            Check::Platforms(
                REG,
                "idx-m",
                &[
                    ("man-amd64", "linux", "amd64", None),
                    ("man-arm64", "linux", "arm64", Some("v8")),
                ],
            ),
        ),
        case(
            "no platforms in an image manifest",
            Check::Platforms("oci/a", "man-a", &[]),
        ),
    ];

    #[test]
    fn multi_image_layout() {
        let fx = multi_image_fixture();
        run(&fx, &fx.load(), MULTI);
    }

    /// A layout that names no repository: two bare tags and an untagged entry.
    fn unnamed_fixture() -> Fixture {
        let mut fx = Fixture::new("unnamed");
        image(&mut fx, "x", true);
        image(&mut fx, "y", true);
        image(&mut fx, "z", true);
        fx.index(&format!(
            r#"{{"mediaType":"{OCI_MAN}",<man-x>,"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}},
            {{"mediaType":"{OCI_MAN}",<man-y>}},
            {{"mediaType":"{OCI_MAN}",<man-z>,"annotations":{{"org.opencontainers.image.ref.name":"2.0"}}}}"#
        ));
        fx
    }

    const UNNAMED: &[Case] = &[
        case("catalog: empty", Check::Catalog(&[])),
        case("exists: any valid name", Check::Exists("any/name", true)),
        case("exists: library/registry", Check::Exists(REG, true)),
        case("exists: invalid name", Check::Exists("Any", false)),
        case("exists: empty component", Check::Exists("a//b", false)),
        case(
            "end-8a tags: the bare tags",
            Check::Tags("any/name", Some(&["2.0", "latest"])),
        ),
        case("end-8a tags: invalid name", Check::Tags("Any", None)),
        case(
            "end-3 resolve: bare tag",
            Check::Resolve("any/name", "latest", Some("man-x")),
        ),
        case(
            "end-3 resolve: other bare tag, other name",
            Check::Resolve("other", "2.0", Some("man-z")),
        ),
        case(
            "end-3 resolve: unknown tag",
            Check::Resolve("other", "1.0", None),
        ),
        case(
            "end-3 manifest: untagged entry",
            Check::Manifest("x", "man-y", Some(OCI_MAN)),
        ),
        case(
            "end-2 blob: untagged layer",
            Check::Blob("x", "layer-y", true),
        ),
        case("end-2 blob: tagged layer", Check::Blob("x", "cfg-x", true)),
        case(
            "end-2 blob: unknown digest",
            Check::Blob(
                "x",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                false,
            ),
        ),
        case(
            "end-2 blob: invalid name",
            Check::Blob("Any", "layer-x", false),
        ),
        case(
            "end-12a referrers: none",
            Check::Referrers("x", "man-x", &[]),
        ),
    ];

    #[test]
    fn layout_without_repository_names() {
        let fx = unnamed_fixture();
        run(&fx, &fx.load(), UNNAMED);
    }

    /// Nesting, a Docker manifest list, odd media types, tag conflicts, missing and corrupt
    /// subjects, an index referrer, invalid digests and a SHA-512 manifest.
    fn edge_fixture() -> Fixture {
        let mut fx = Fixture::new("edge");
        fx.put("cfg-e", r#"{"os":"linux","id":"e"}"#);
        fx.put("layer-e", "layer e");
        fx.put(
            "man-e",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}",
                "config":{{"mediaType":"application/vnd.oci.image.config.v1+json",<cfg-e>}},
                "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar",<layer-e>}},
                {{"mediaType":"x/y","digest":"sha256:xyz","size":1}},
                {{"mediaType":"x/y","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":1}}]}}"#
            ),
        );
        fx.put(
            "idx-inner",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_IDX}","manifests":[
                {{"mediaType":"{OCI_MAN}",<man-e>,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
            ),
        );
        fx.put(
            "idx-outer",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_IDX}","manifests":[{{"mediaType":"{OCI_IDX}",<idx-inner>}}]}}"#
            ),
        );
        fx.put("cfg-dchild", r#"{"os":"linux","id":"dchild"}"#);
        fx.put("layer-dchild", "layer dchild");
        fx.put(
            "man-dchild",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER}",
                "config":{{"mediaType":"application/vnd.docker.container.image.v1+json",<cfg-dchild>}},
                "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip",<layer-dchild>}}]}}"#
            ),
        );
        fx.put(
            "list",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[
                {{"mediaType":"{DOCKER}",<man-dchild>,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}]}}"#
            ),
        );
        fx.put(
            "man-crlf",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","config":{{<cfg-e>}},"layers":[]}}"#
            ),
        );
        fx.put(
            "man-prec",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER}","config":{{<cfg-e>}},"layers":[]}}"#
            ),
        );
        fx.put("man-odd", r#"{"schemaVersion":2,"layers":[]}"#);
        fx.put("empty", "{}");
        fx.phantom("absent", "never stored");
        fx.put(
            "note",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","artifactType":"application/vnd.example.note",
                "config":{{"mediaType":"application/vnd.oci.empty.v1+json",<empty>}},"layers":[],
                "subject":{{"mediaType":"{OCI_MAN}",<absent>}}}}"#
            ),
        );
        fx.corrupt(
            "bad",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","config":{{<cfg-e>}},"layers":[]}}"#
            ),
            "the real content",
        );
        fx.put(
            "bad-ref",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","artifactType":"",
                "config":{{"mediaType":"application/vnd.example.bad.config+json",<empty>}},"layers":[],
                "subject":{{"mediaType":"{OCI_MAN}",<bad>}}}}"#
            ),
        );
        fx.put(
            "idx-ref",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_IDX}","manifests":[],
                "subject":{{"mediaType":"{OCI_MAN}",<man-e>}},
                "annotations":{{"a":"1","b":2,"a":"3","c":"x","d":null}}}}"#
            ),
        );
        fx.put512(
            "man-512",
            &format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","config":{{<cfg-e>}},"layers":[]}}"#
            ),
        );
        fx.index(&format!(
            r#"{{"mediaType":"{OCI_IDX}",<idx-outer>,"annotations":{{"org.opencontainers.image.ref.name":"edge/nested:1"}}}},
            {{"mediaType":"{DOCKER_LIST}",<list>,"annotations":{{"io.containerd.image.name":"docker.io/edge/list:1"}}}},
            {{"mediaType":"{OCI_MAN}\r\nX-Evil: 1",<man-crlf>,"annotations":{{"org.opencontainers.image.ref.name":"t"}}}},
            {{"mediaType":"{OCI_MAN}",<man-prec>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:t"}}}},
            {{"mediaType":"{OCI_MAN}",<man-prec>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:dup"}}}},
            {{"mediaType":"{OCI_MAN}",<man-crlf>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:dup"}}}},
            {{<man-odd>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:odd"}}}},
            {{"mediaType":"{OCI_MAN}",<note>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:note"}}}},
            {{"mediaType":"{OCI_MAN}",<bad-ref>,"annotations":{{"org.opencontainers.image.ref.name":"edge/x:bad-ref"}}}},
            {{"mediaType":"{OCI_IDX}",<idx-ref>}},
            {{"mediaType":"{OCI_MAN}",<man-512>,"annotations":{{"io.containerd.image.name":"edge/x:512"}}}},
            {{"mediaType":"{OCI_MAN}","digest":"sha256:nothex","size":1}}"#
        ));
        fx
    }

    const EDGE: &[Case] = &[
        case(
            "catalog",
            Check::Catalog(&["edge/list", "edge/nested", "edge/x"]),
        ),
        case(
            "end-3 nested index: inner index",
            Check::Manifest("edge/nested", "idx-inner", Some(OCI_IDX)),
        ),
        case(
            "end-3 nested index: manifest two levels down",
            Check::Manifest("edge/nested", "man-e", Some(OCI_MAN)),
        ),
        case(
            "end-2 nested index: layer two levels down",
            Check::Blob("edge/nested", "layer-e", true),
        ),
        case(
            "end-2 invalid digest ignored",
            Check::Blob("edge/nested", "sha256:xyz", false),
        ),
        case(
            "nested index: platforms of the inner index",
            Check::Platforms(
                "edge/nested",
                "idx-inner",
                &[("man-e", "linux", "amd64", None)],
            ),
        ),
        case(
            "nested index: a child without platform is not listed",
            Check::Platforms("edge/nested", "idx-outer", &[]),
        ),
        case(
            "end-3 isolation: nested index elsewhere",
            Check::Manifest("edge/x", "idx-inner", None),
        ),
        case(
            "untagged index referrer makes its subject reachable everywhere",
            Check::Blob("edge/x", "layer-e", true),
        ),
        case(
            "end-3 Docker manifest list",
            Check::Manifest("edge/list", "list", Some(DOCKER_LIST)),
        ),
        case(
            "end-3 Docker manifest list child",
            Check::Manifest("edge/list", "man-dchild", Some(DOCKER)),
        ),
        case(
            "Docker manifest list platforms",
            Check::Platforms(
                "edge/list",
                "list",
                &[("man-dchild", "linux", "arm", Some("v7"))],
            ),
        ),
        case(
            "end-2 Docker manifest list child layer",
            Check::Blob("edge/list", "layer-dchild", true),
        ),
        case(
            "end-2 isolation: manifest list child layer elsewhere",
            Check::Blob("edge/x", "layer-dchild", false),
        ),
        case(
            "end-3 media type with CR LF refused, own field used",
            Check::Manifest("edge/x", "man-crlf", Some(OCI_MAN)),
        ),
        case(
            "end-3 descriptor media type wins over own field",
            Check::Manifest("edge/x", "man-prec", Some(OCI_MAN)),
        ),
        case(
            "end-3 repository tag wins over a bare tag",
            Check::Resolve("edge/x", "t", Some("man-prec")),
        ),
        case(
            "end-3 bare tag elsewhere",
            Check::Resolve("edge/nested", "t", Some("man-crlf")),
        ),
        case(
            "end-3 duplicate tag: the later entry wins",
            Check::Resolve("edge/x", "dup", Some("man-crlf")),
        ),
        case(
            "end-3 untyped manifest not served",
            Check::Manifest("edge/x", "man-odd", None),
        ),
        case(
            "end-3 tag of an untyped manifest dropped",
            Check::Resolve("edge/x", "odd", None),
        ),
        case(
            "end-8a tags: without the dropped one",
            Check::Tags("edge/x", Some(&["512", "bad-ref", "dup", "note", "t"])),
        ),
        case(
            "end-8a tags: nested",
            Check::Tags("edge/nested", Some(&["1", "t"])),
        ),
        case(
            "end-12a referrers of a missing subject",
            Check::Referrers(
                "edge/x",
                "absent",
                &[("note", Some("application/vnd.example.note"), &[])],
            ),
        ),
        case(
            "end-3 missing subject not served",
            Check::Manifest("edge/x", "absent", None),
        ),
        case(
            "end-12a referrers of a missing subject, elsewhere",
            Check::Referrers("edge/nested", "absent", &[]),
        ),
        case(
            "end-3 corrupt subject not served",
            Check::Manifest("edge/x", "bad", None),
        ),
        case(
            "end-12a empty artifactType: config media type",
            Check::Referrers(
                "edge/x",
                "bad",
                &[(
                    "bad-ref",
                    Some("application/vnd.example.bad.config+json"),
                    &[],
                )],
            ),
        ),
        case(
            "end-12a index referrer: no artifactType, string annotations, last duplicate",
            Check::Referrers(
                "edge/list",
                "man-e",
                &[("idx-ref", None, &[("a", "3"), ("c", "x")])],
            ),
        ),
        case(
            "end-3 sha512 manifest by tag",
            Check::Resolve("edge/x", "512", Some("man-512")),
        ),
        case(
            "end-3 sha512 manifest by digest",
            Check::Manifest("edge/x", "man-512", Some(OCI_MAN)),
        ),
    ];

    #[test]
    fn edge_cases() {
        let fx = edge_fixture();
        // The entry with the digest `sha256:nothex` fails `layout::verify`; `load` ignores it.
        assert!(layout::verify(&fx.dir).is_err());
        let repos = Repositories::load(&fx.dir).unwrap();
        run(&fx, &repos, EDGE);
    }

    /// Each manifest's subject is the one before: [`MAX_DEPTH`] links are followed and all
    /// served; one more refuses the layout (issue 12: never served in part).
    #[test]
    fn subject_chain_depth_is_bounded() {
        for extra in [0, 1] {
            let mut fx = Fixture::new(&format!("depth-{extra}"));
            fx.put("empty", "{}");
            let top = MAX_DEPTH + extra;
            for i in 0..=top {
                let link = if i == 0 {
                    String::new()
                } else {
                    format!(r#","subject":{{"mediaType":"{OCI_MAN}",<m{}>}}"#, i - 1)
                };
                fx.put(
                    &format!("m{i}"),
                    &format!(
                        r#"{{"schemaVersion":2,"mediaType":"{OCI_MAN}","config":{{<empty>}},"layers":[]{link},"annotations":{{"n":"{i}"}}}}"#
                    ),
                );
            }
            fx.index(&format!(r#"{{"mediaType":"{OCI_MAN}",<m{top}>}}"#));
            layout::verify(&fx.dir).unwrap();
            let Ok(repos) = Repositories::load(&fx.dir) else {
                let failure = Repositories::load(&fx.dir).err().unwrap();
                assert_eq!(extra, 1);
                assert_eq!(failure.error, Error::NestingTooDeep);
                let m1 = fx.digest("m1");
                assert!(failure
                    .path
                    .as_ref()
                    .unwrap()
                    .ends_with(&m1["sha256:".len()..]));
                continue;
            };
            assert_eq!(extra, 0);
            for i in 0..=top {
                assert!(
                    repos.manifest("x", &fx.digest(&format!("m{i}"))).is_some(),
                    "m{i}"
                );
            }
            let referrers = repos.referrers("x", &fx.digest("m0"));
            assert_eq!(referrers.len(), 1);
            assert_eq!(referrers[0].digest, fx.digest("m1"));
        }
    }

    #[test]
    fn load_refuses_a_missing_or_invalid_index() {
        const CASES: &[(&str, Option<&str>)] = &[
            ("missing index.json", None),
            ("not JSON", Some("{")),
            ("no manifests array", Some(r#"{"schemaVersion":2}"#)),
            ("manifests not an array", Some(r#"{"manifests":{}}"#)),
        ];
        for (i, (name, index)) in CASES.iter().enumerate() {
            let fx = Fixture::new(&format!("refuse-{i}"));
            if let Some(text) = index {
                fs::write(fx.dir.join("index.json"), text).unwrap();
            }
            let failure = Repositories::load(&fx.dir).err().expect(name);
            assert_eq!(failure.error, Error::LayoutIndex, "{name}");
        }
    }
}
