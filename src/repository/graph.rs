//! The manifest graph of a layout: every manifest reachable from `index.json` (through nested
//! indexes and `subject` links) read once, breadth first, within the bounds the repository
//! map documents, with every digest numbered once.
//!
//! Why its own module: reading and checking manifests is independent of how repositories,
//! tags and scopes are derived from them ([`super`]); this part only answers "which digests
//! does the layout name, what links them, and which manifests loaded".

use super::{Id, Index, ManifestInfo, PlatformEntry, Referrer};
use crate::digest::{Digest, Hasher};
use crate::error::Error;
use crate::json::{self, Json};
use crate::layout;
use crate::route::valid_media_type;
use std::path::Path;

/// How many links (index → manifest, manifest → subject) are followed below `index.json`.
pub const MAX_DEPTH: usize = 8;
/// How many distinct manifests are read at most.
pub const MAX_MANIFESTS: usize = 10_000;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A digest the layout names, as the loader knows it.
#[derive(Default)]
pub struct Node {
    /// Every digest the manifest names (children, config, layers, blobs, subject).
    pub links: Vec<Id>,
    /// The manifest, once loaded.
    pub manifest: Option<ManifestInfo>,
    /// Whether it is queued for reading (at most [`MAX_MANIFESTS`] are).
    queued: bool,
}

/// The manifests reachable from `index.json`, read breadth first.
pub struct Graph<'a> {
    root: &'a Path,
    /// Every valid digest named so far → its [`Id`].
    pub ids: Index,
    /// By [`Id`].
    pub nodes: Vec<Node>,
    /// (subject, referrer, the referrer's own id), in the order found.
    pub referrers: Vec<(Id, Id, Referrer)>,
    /// How many nodes are `queued`.
    queued: usize,
    /// (id, digest, the descriptor's media type, depth), read in order (taken out as read).
    queue: Vec<(Id, String, Option<String>, usize)>,
}

impl Graph<'_> {
    /// An empty graph of the layout at `root`.
    pub fn new(root: &Path) -> Graph<'_> {
        Graph {
            root,
            ids: Index::new(),
            nodes: Vec::new(),
            referrers: Vec::new(),
            queued: 0,
            queue: Vec::new(),
        }
    }

    /// Reads every queued manifest, and those they queue in turn, in order.
    pub fn read_queued(&mut self) {
        let mut next = 0;
        while let Some(queued) = self.queue.get_mut(next) {
            let (id, digest, declared, depth) = std::mem::take(queued);
            next += 1;
            self.load(id, digest, declared.as_deref(), depth);
        }
    }

    /// The id of `digest`, numbering it if it is new.
    fn id(&mut self, digest: &str) -> Id {
        if let Some(&id) = self.ids.get(digest) {
            return id;
        }
        let id = self.nodes.len();
        self.ids.insert(digest.to_string(), id);
        self.nodes.push(Node::default());
        id
    }

    /// The id of a manifest `descriptor`'s digest, which is queued for reading at `depth`
    /// unless seen before or out of bounds.
    pub fn discover(&mut self, descriptor: &Json, depth: usize) -> Option<Id> {
        let digest = descriptor_digest(descriptor)?;
        let id = self.id(digest);
        let within = depth <= MAX_DEPTH && self.queued < MAX_MANIFESTS;
        if let Some(node) = self.nodes.get_mut(id).filter(|node| within && !node.queued) {
            node.queued = true;
            self.queued += 1;
            let declared = descriptor.get_str("mediaType").map(str::to_string);
            let digest = digest.to_string();
            self.queue.push((id, digest, declared, depth));
        }
        Some(id)
    }

    /// Reads one manifest and records it, its links and its referrer, if it is one.
    fn load(&mut self, id: Id, digest: String, declared: Option<&str>, depth: usize) {
        let Some((document, size)) = read_manifest(self.root, &digest) else {
            return;
        };
        let Some(media_type) = media_type(declared, &document) else {
            return;
        };
        let mut links = Vec::new();
        let mut platforms = Vec::new();
        for child in array(&document, "manifests") {
            if let Some(child_id) = self.discover(child, depth + 1) {
                platforms.extend(platform(child));
                links.push(child_id);
            }
        }
        let config = document.get("config");
        let blobs = config
            .into_iter()
            .chain(array(&document, "layers"))
            .chain(array(&document, "blobs"));
        for blob in blobs {
            if let Some(blob) = descriptor_digest(blob) {
                links.push(self.id(blob));
            }
        }
        let subject = document.get("subject");
        if let Some(subject) = subject.and_then(|s| self.discover(s, depth + 1)) {
            let referrer = Referrer {
                digest: digest.clone(),
                media_type: media_type.clone(),
                size,
                artifact_type: artifact_type(&document),
                annotations: annotations(&document),
            };
            self.referrers.push((subject, id, referrer));
            links.push(subject);
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.links = links;
            node.manifest = Some(ManifestInfo {
                digest,
                media_type,
                size,
                platforms,
            });
        }
    }
}

/// Reads, checks against its digest, and parses the manifest `digest`, with its size.
fn read_manifest(root: &Path, digest: &str) -> Option<(Json, u64)> {
    let parsed = Digest::parse(digest).ok()?;
    let path = root.join(parsed.blob_path());
    let bytes = layout::read_limited(&path, json::MAX_DOCUMENT, Error::BlobMissing).ok()?;
    let mut hasher = Hasher::new(parsed.algorithm);
    hasher.update(&bytes);
    if !hasher.matches(&parsed) {
        return None;
    }
    Some((json::parse(&bytes).ok()?, bytes.len() as u64))
}

/// The descriptor's media type, else the document's own, else the inferred one.
fn media_type(declared: Option<&str>, document: &Json) -> Option<String> {
    let inferred = if document.get("manifests").is_some() {
        Some(OCI_INDEX)
    } else if document.get("config").is_some() {
        Some(OCI_MANIFEST)
    } else {
        None
    };
    first_media_type([declared, document.get_str("mediaType"), inferred])
}

/// The artifact type a referrers response gives a manifest (spec: "Listing Referrers").
fn artifact_type(document: &Json) -> Option<String> {
    let config = document.get("config").and_then(|c| c.get_str("mediaType"));
    first_media_type([document.get_str("artifactType"), config, None])
}

/// The first of `candidates` that is a valid media type.
fn first_media_type(candidates: [Option<&str>; 3]) -> Option<String> {
    candidates
        .into_iter()
        .flatten()
        .find(|text| valid_media_type(text))
        .map(str::to_string)
}

/// The string-valued `annotations` of a document, sorted by key, the last duplicate winning.
fn annotations(document: &Json) -> Vec<(String, String)> {
    let members = document.get("annotations").and_then(Json::as_object);
    let members = members.unwrap_or_default();
    let mut last = Index::new();
    for (at, (key, value)) in members.iter().enumerate() {
        if value.as_str().is_some() {
            last.insert(key.clone(), at);
        }
    }
    let mut sorted = Vec::with_capacity(last.len());
    for (key, at) in last {
        if let Some((_, Json::String(value))) = members.get(at) {
            sorted.push((key, value.clone()));
        }
    }
    sorted
}

/// The platform of an index's child `descriptor`, if it names one.
fn platform(descriptor: &Json) -> Option<PlatformEntry> {
    let platform = descriptor.get("platform")?;
    Some(PlatformEntry {
        digest: descriptor_digest(descriptor)?.to_string(),
        os: platform.get_str("os")?.to_string(),
        architecture: platform.get_str("architecture")?.to_string(),
        variant: platform.get_str("variant").map(str::to_string),
    })
}

/// The `digest` of a descriptor, if it is a valid digest.
fn descriptor_digest(descriptor: &Json) -> Option<&str> {
    let digest = descriptor.get_str("digest")?;
    Digest::parse(digest).ok().map(|_| digest)
}

fn array<'a>(document: &'a Json, key: &str) -> &'a [Json] {
    document
        .get(key)
        .and_then(Json::as_array)
        .unwrap_or_default()
}
