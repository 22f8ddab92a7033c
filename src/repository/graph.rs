//! The manifest graph of a layout: every manifest reachable from `index.json` (through nested
//! indexes and `subject` links) read once, breadth first, one document in memory at a time,
//! within the bounds the repository map documents (past them the layout is refused), with
//! every digest numbered once.
//!
//! Why its own module: reading and checking manifests is independent of how repositories,
//! tags and scopes are derived from them ([`super`]); this part only answers "which digests
//! does the layout name, what links them, and which manifests loaded".

use super::{Id, ManifestInfo, PlatformEntry, Referrer};
use crate::digest::{Digest, Hasher};
use crate::error::{Error, Failure};
use crate::json::{self, Items, Value};
use crate::layout;
use crate::route::valid_media_type;
use crate::table::{self, Table};
use std::borrow::Cow;
use std::path::Path;

pub use crate::layout::{MAX_DEPTH, MAX_MANIFESTS};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A digest the layout names, as the loader knows it.
#[derive(Default)]
pub struct Node {
    /// Every digest the manifest names (children, config, layers, blobs, subject).
    pub links: Vec<Id>,
    /// Once queued: the digest and the descriptor's media type (empty if none); once loaded,
    /// the whole manifest. Boxed: most nodes are blobs, which have none. The queue holds only
    /// ids, so a queued manifest costs its digest once (issue 12).
    info: Option<Box<ManifestInfo>>,
    /// Whether it is queued for reading (at most [`MAX_MANIFESTS`] are).
    queued: bool,
    /// Whether `info` is a manifest that loaded.
    loaded: bool,
}

/// Checks, for [`layout::verify`], that every manifest reachable from `index.json` through
/// image indexes is present with its declared size and digest and is JSON: a strict
/// [`Graph`], which fails where the repository map's skips, and does not follow subjects (a
/// referrer's subject may be absent).
pub fn check(root: &Path) -> Result<(), Failure> {
    let index_path = root.join("index.json");
    let mut graph = Graph::new(root);
    graph.strict = true;
    {
        let bytes = layout::read_index(&index_path)?;
        for entry in layout::index_manifests(&bytes, &index_path)?.items() {
            graph.discover(entry, 0, &index_path)?;
        }
    }
    graph.read_queued()
}

impl Node {
    /// The manifest, if it loaded.
    pub fn manifest(&self) -> Option<&ManifestInfo> {
        self.info.as_deref().filter(|_| self.loaded)
    }
}

/// The manifests reachable from `index.json`, read breadth first.
pub struct Graph<'a> {
    root: &'a Path,
    /// Checking for [`check`], not loading.
    strict: bool,
    /// Every valid digest named so far → its [`Id`].
    pub ids: Table,
    /// By [`Id`].
    pub nodes: Vec<Node>,
    /// (subject, referrer, the referrer's own id), in the order found.
    pub referrers: Vec<(Id, Id, Referrer)>,
    /// How many nodes are `queued`.
    queued: usize,
    /// (id, depth), read in order.
    queue: Vec<(Id, usize)>,
}

impl Graph<'_> {
    /// An empty graph of the layout at `root`.
    pub fn new(root: &Path) -> Graph<'_> {
        Graph {
            root,
            strict: false,
            ids: Table::new(),
            nodes: Vec::new(),
            referrers: Vec::new(),
            queued: 0,
            queue: Vec::new(),
        }
    }

    /// Reads every queued manifest, and those they queue in turn, in order: one document in
    /// memory at a time.
    pub fn read_queued(&mut self) -> Result<(), Failure> {
        let mut next = 0;
        while let Some(&(id, depth)) = self.queue.get(next) {
            next += 1;
            let Some(node) = self.nodes.get_mut(id) else {
                continue;
            };
            // Taken out while it loads; put back only if it loads.
            if let Some(info) = node.info.take() {
                self.load(id, info, depth)?;
            }
        }
        Ok(())
    }

    /// The id of `digest`, numbering it if it is new.
    fn id(&mut self, digest: &str) -> Id {
        let (id, new) = self.ids.insert(digest, self.nodes.len());
        if new {
            self.nodes.push(Node::default());
        }
        id
    }

    /// The id of a manifest `descriptor`'s digest (found in the document at `at`), which is
    /// queued for reading at `depth` unless seen before. Past [`MAX_DEPTH`] or
    /// [`MAX_MANIFESTS`] the layout is refused: nothing it names may go unserved. Strict: an
    /// invalid descriptor, or a size that differs from the one given before, is an error.
    pub fn discover(
        &mut self,
        descriptor: Value<'_>,
        depth: usize,
        at: &Path,
    ) -> Result<Option<Id>, Failure> {
        let size = descriptor.get("size").and_then(Value::as_u64);
        let digest = descriptor_digest(descriptor);
        let (Some(digest), Some(size)) = (digest, size.or((!self.strict).then_some(0))) else {
            return match self.strict {
                true => Err(Failure::at(Error::DescriptorInvalid, at)),
                false => Ok(None),
            };
        };
        let id = self.id(&digest);
        let strict = self.strict;
        let Some(node) = self.nodes.get_mut(id) else {
            return Ok(None);
        };
        if node.queued {
            if strict && node.info.as_ref().is_some_and(|info| info.size != size) {
                return Err(Failure::at(Error::BlobSize, at));
            }
        } else {
            if depth > MAX_DEPTH {
                return Err(Failure::at(Error::NestingTooDeep, at));
            }
            if self.queued == MAX_MANIFESTS {
                return Err(Failure::at(Error::TooManyManifests, at));
            }
            node.queued = true;
            self.queued += 1;
            let declared = descriptor.get_str("mediaType").unwrap_or_default();
            node.info = Some(Box::new(ManifestInfo {
                digest: digest.into_owned(),
                media_type: declared.into_owned(),
                size,
                platforms: Vec::new(),
            }));
            self.queue.push((id, depth));
        }
        Ok(Some(id))
    }

    /// Reads one manifest and records it, its links and its referrer, if it is one. A
    /// manifest that is missing, corrupt or untyped is skipped (strict: an error, but for
    /// the type); one over the size limit refuses the layout.
    #[inline(never)]
    fn load(&mut self, id: Id, mut info: Box<ManifestInfo>, depth: usize) -> Result<(), Failure> {
        let Ok(parsed) = Digest::parse(&info.digest) else {
            return Ok(());
        };
        let path = self.root.join(parsed.blob_path());
        let strict = self.strict;
        let limit = json::MAX_DOCUMENT;
        if strict && info.size > limit as u64 {
            return Err(Failure::at(Error::JsonTooLarge, &path));
        }
        let (limit, too_large) = match strict {
            true => (info.size as usize, Error::BlobSize),
            false => (limit, Error::JsonTooLarge),
        };
        let bytes = match layout::read_limited(&path, limit, Error::BlobMissing, too_large) {
            Ok(bytes) => bytes,
            Err(failure) if strict || failure.error == Error::JsonTooLarge => return Err(failure),
            Err(_) => return Ok(()),
        };
        let size = bytes.len() as u64;
        let mut hasher = Hasher::new(parsed.algorithm);
        hasher.update(&bytes);
        let failed = if strict && size != info.size {
            Error::BlobSize
        } else if !hasher.matches(&parsed) {
            Error::BlobDigest
        } else {
            Error::JsonInvalid
        };
        let document = match json::read(&bytes) {
            Ok(document) if failed == Error::JsonInvalid => document,
            _ if strict => return Err(Failure::at(failed, &path)),
            _ => return Ok(()),
        };
        let declared = Some(info.media_type.as_str()).filter(|t| !t.is_empty());
        let Some(media_type) = media_type(declared, document) else {
            return Ok(());
        };
        let mut links = Vec::new();
        let mut platforms = Vec::new();
        for child in array(document, "manifests") {
            if let Some(child_id) = self.discover(child, depth + 1, &path)? {
                platforms.extend(platform(child));
                links.push(child_id);
            }
        }
        let config = document.get("config");
        let blobs = config
            .into_iter()
            .chain(array(document, "layers"))
            .chain(array(document, "blobs"));
        for blob in blobs {
            if let Some(blob) = descriptor_digest(blob) {
                links.push(self.id(&blob));
            }
        }
        if let Some(subject) = document.get("subject").filter(|_| !strict) {
            if let Some(subject) = self.discover(subject, depth + 1, &path)? {
                let referrer = Referrer {
                    digest: info.digest.clone(),
                    media_type: media_type.clone(),
                    size,
                    artifact_type: artifact_type(document),
                    annotations: annotations(document),
                };
                self.referrers.push((subject, id, referrer));
                links.push(subject);
            }
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.links = links;
            info.media_type = media_type;
            info.size = size;
            info.platforms = platforms;
            node.info = Some(info);
            node.loaded = true;
        }
        Ok(())
    }
}

/// The descriptor's media type, else the document's own, else the inferred one.
fn media_type(declared: Option<&str>, document: Value<'_>) -> Option<String> {
    let inferred = if document.get("manifests").is_some() {
        Some(OCI_INDEX)
    } else if document.get("config").is_some() {
        Some(OCI_MANIFEST)
    } else {
        None
    };
    let own = document.get_str("mediaType");
    first_media_type([declared, own.as_deref(), inferred])
}

/// The artifact type a referrers response gives a manifest (spec: "Listing Referrers").
fn artifact_type(document: Value<'_>) -> Option<String> {
    let config = document.get("config").and_then(|c| c.get_str("mediaType"));
    let own = document.get_str("artifactType");
    first_media_type([own.as_deref(), config.as_deref(), None])
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
fn annotations(document: Value<'_>) -> Vec<(String, String)> {
    let members = document.get("annotations").unwrap_or_default().members();
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (key, value) in members {
        if let Some(value) = value.as_str() {
            keys.push((key.into_owned(), values.len()));
            values.push(value.into_owned());
        }
    }
    let mut sorted = Vec::with_capacity(keys.len());
    for (key, at) in table::sorted_last(keys) {
        if let Some(value) = values.get_mut(at) {
            sorted.push((key, std::mem::take(value)));
        }
    }
    sorted
}

/// The platform of an index's child `descriptor`, if it names one.
fn platform(descriptor: Value<'_>) -> Option<PlatformEntry> {
    let platform = descriptor.get("platform")?;
    Some(PlatformEntry {
        digest: descriptor_digest(descriptor)?.into_owned(),
        os: platform.get_str("os")?.into_owned(),
        architecture: platform.get_str("architecture")?.into_owned(),
        variant: platform.get_str("variant").map(Cow::into_owned),
    })
}

/// The `digest` of a descriptor, if it is a valid digest.
fn descriptor_digest(descriptor: Value<'_>) -> Option<Cow<'_, str>> {
    let digest = descriptor.get_str("digest")?;
    Digest::parse(&digest).is_ok().then_some(digest)
}

/// The elements of the array `key` of `document` (none if it is not an array).
fn array<'a>(document: Value<'a>, key: &str) -> Items<'a> {
    document.get(key).unwrap_or_default().items()
}
