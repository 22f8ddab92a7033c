//! The Zarf init package example, `examples/zarf-init` (issue 13, docs/ZARF.md). Zarf cannot run
//! here, so this checks offline what `zarf package create` would check first, and what would
//! make the package silently use another injector:
//!
//! - `zarf.yaml` is well-formed YAML and passes the required fields, patterns, enums and
//!   closed property sets of Zarf's package schema (`zarf.schema.json`, the parts it uses);
//! - one `zarf-injector` component per cluster architecture (amd64, arm64), each placing the
//!   file that `./release.sh` installs (`dist/zarf-injector-<arch>`) at
//!   `###ZARF_TEMP###/zarf-injector`, executable, as Zarf's `packages/zarf-registry/zarf.yaml`;
//! - the other components, `zarf-seed-registry` and `zarf-registry` among them, imported from
//!   the official init package (`oci://ghcr.io/zarf-dev/packages/init:vX.Y.Z`), all at one
//!   version, after the injector, and that version matches `zarf-config.toml`'s agent tag and
//!   the one docs/ZARF.md names.

use serde::Deserialize;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> PathBuf {
    root().join("examples/zarf-init")
}

fn zarf_yaml() -> Value {
    let path = example().join("zarf.yaml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = serde_norway::Deserializer::from_str(&text);
    let doc = docs.next().expect("one YAML document");
    let value = Value::deserialize(doc).expect("zarf.yaml is well-formed YAML");
    assert!(
        docs.next().is_none(),
        "zarf.yaml holds more than one document"
    );
    value
}

/// `^[a-z0-9\-]+$`, the schema's pattern for package and component names.
fn zarf_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The object's keys must be among `allowed` (the schema's `additionalProperties: false`).
fn closed(value: &Value, allowed: &[&str], at: &str) {
    let map = value
        .as_object()
        .unwrap_or_else(|| panic!("{at}: not a mapping"));
    for key in map.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{at}: {key:?} is not a property of Zarf's schema"
        );
    }
}

fn text<'a>(value: &'a Value, at: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{at}: not a string: {value}"))
}

// The schema's definitions, as far as the example uses them (zarf-dev/zarf, zarf.schema.json).
const PACKAGE: &[&str] = &[
    "kind",
    "metadata",
    "build",
    "components",
    "constants",
    "variables",
];
const METADATA: &[&str] = &[
    "name",
    "description",
    "version",
    "url",
    "image",
    "uncompressed",
    "architecture",
    "yolo",
    "authors",
    "documentation",
    "source",
    "vendor",
    "aggregateChecksum",
];
const COMPONENT: &[&str] = &[
    "name",
    "description",
    "default",
    "required",
    "only",
    "group",
    "import",
    "files",
    "charts",
    "manifests",
    "images",
    "repos",
    "dataInjections",
    "extensions",
    "actions",
];
const ONLY: &[&str] = &["localOS", "cluster"];
const ONLY_CLUSTER: &[&str] = &["architecture", "distros"];
const IMPORT: &[&str] = &["name", "path", "url"];
const FILE: &[&str] = &[
    "source",
    "shasum",
    "target",
    "executable",
    "symlinks",
    "extractPath",
];

/// What `zarf package create` validates against the schema, for the properties used here.
fn check_schema(package: &Value) {
    closed(package, PACKAGE, "package");
    let kind = text(&package["kind"], "kind");
    assert!(
        ["ZarfInitConfig", "ZarfPackageConfig"].contains(&kind),
        "kind {kind}"
    );
    closed(&package["metadata"], METADATA, "metadata");
    let name = text(&package["metadata"]["name"], "metadata.name");
    assert!(zarf_name(name), "metadata.name {name:?}");
    let components = package["components"]
        .as_array()
        .expect("components: a list (required)");
    assert!(!components.is_empty());
    for (i, component) in components.iter().enumerate() {
        let at = format!("components[{i}]");
        closed(component, COMPONENT, &at);
        let name = text(&component["name"], &at);
        assert!(zarf_name(name), "{at}.name {name:?}");
        for flag in ["required", "default"] {
            let value = &component[flag];
            assert!(value.is_null() || value.is_boolean(), "{at}.{flag}");
        }
        if let Some(only) = component.get("only") {
            closed(only, ONLY, &format!("{at}.only"));
            if let Some(cluster) = only.get("cluster") {
                closed(cluster, ONLY_CLUSTER, &format!("{at}.only.cluster"));
                let arch = text(&cluster["architecture"], &at);
                assert!(["amd64", "arm64"].contains(&arch), "{at}: {arch}");
            }
        }
        if let Some(import) = component.get("import") {
            closed(import, IMPORT, &format!("{at}.import"));
            if let Some(url) = import.get("url") {
                let url = text(url, &at);
                assert!(url.starts_with("oci://"), "{at}: {url}");
                assert!(!url.contains("###ZARF_PKG_TMPL_"), "{at}: {url}");
            }
        }
        for (j, file) in component["files"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{at}.files[{j}]");
            closed(file, FILE, &at);
            text(&file["source"], &at);
            text(&file["target"], &at);
        }
    }
}

/// `vX.Y.Z` of `oci://ghcr.io/zarf-dev/packages/init:vX.Y.Z`.
fn init_version(url: &str) -> Option<&str> {
    let version = url.strip_prefix("oci://ghcr.io/zarf-dev/packages/init:")?;
    let numbers = version.strip_prefix('v')?;
    let parts: Vec<&str> = numbers.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric.then_some(version)
}

#[test]
fn zarf_init_example_is_a_valid_init_package_with_our_injector_and_zarfs_components() {
    let package = zarf_yaml();
    check_schema(&package);
    assert_eq!(package["kind"], "ZarfInitConfig");
    let components = package["components"].as_array().expect("components");
    let release = fs::read_to_string(root().join("release.sh")).expect("read release.sh");

    // The injector: one component per architecture, each the file release.sh installs.
    let injectors: Vec<&Value> = components
        .iter()
        .filter(|c| c["name"] == "zarf-injector")
        .collect();
    let mut arches: Vec<&str> = Vec::new();
    for component in &injectors {
        assert_eq!(component["required"], true);
        assert!(component.get("import").is_none(), "the injector is ours");
        let arch = text(&component["only"]["cluster"]["architecture"], "arch");
        arches.push(arch);
        let files = component["files"].as_array().expect("files");
        assert_eq!(files.len(), 1, "{arch}: one file");
        let file = &files[0];
        assert_eq!(file["target"], "###ZARF_TEMP###/zarf-injector", "{arch}");
        assert_eq!(file["executable"], true, "{arch}");
        let source = text(&file["source"], arch);
        let wanted = format!("dist/zarf-injector-{arch}");
        let resolved = normalize(&example().join(source));
        assert_eq!(
            resolved,
            normalize(&root().join(&wanted)),
            "{arch}: {source}"
        );
        assert!(
            release
                .lines()
                .any(|l| l.trim_start().starts_with("strip_section_headers ")
                    && l.ends_with(&wanted)),
            "release.sh does not write {wanted}"
        );
    }
    arches.sort();
    assert_eq!(arches, ["amd64", "arm64"]);

    // Everything else: imported from the official init package, one version for all.
    let mut versions: Vec<&str> = Vec::new();
    for component in components.iter().filter(|c| c["name"] != "zarf-injector") {
        let name = text(&component["name"], "name");
        let url = text(&component["import"]["url"], name);
        let version = init_version(url).unwrap_or_else(|| panic!("{name}: {url}"));
        versions.push(version);
        assert!(component.get("files").is_none(), "{name}: its own files");
    }
    versions.dedup();
    assert_eq!(
        versions.len(),
        1,
        "imports at several versions: {versions:?}"
    );
    let version = versions[0];
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    for required in ["zarf-seed-registry", "zarf-registry", "zarf-agent"] {
        let component = components
            .iter()
            .find(|c| c["name"] == required)
            .unwrap_or_else(|| panic!("no {required}"));
        assert_eq!(component["required"], true, "{required}");
    }
    // Zarf deploys in order: the injector's file must be in place before the seed registry.
    let position = |name: &str| names.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    let last_injector = names.iter().rposition(|n| *n == "zarf-injector");
    assert!(
        last_injector < Some(position("zarf-seed-registry")),
        "{names:?}"
    );
    assert!(position("zarf-seed-registry") < position("zarf-registry"));

    // zarf-config.toml: the agent image is Zarf's at the imported version, and the images of the
    // imported templates are set.
    let config = fs::read_to_string(example().join("zarf-config.toml")).expect("zarf-config");
    assert!(config.lines().any(|l| l.trim() == "[package.create.set]"));
    let value = |key: &str| {
        config.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('\'').to_string())
        })
    };
    assert_eq!(value("agent_image_tag").as_deref(), Some(version));
    for key in [
        "agent_image",
        "registry_image_domain",
        "registry_image",
        "registry_image_tag",
        "gitea_image",
    ] {
        assert!(value(key).is_some(), "zarf-config.toml lacks {key}");
    }

    let doc = fs::read_to_string(root().join("docs/ZARF.md")).expect("read docs/ZARF.md");
    assert!(
        doc.contains(version),
        "docs/ZARF.md does not name {version}"
    );
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
