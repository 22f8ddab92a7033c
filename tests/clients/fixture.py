#!/usr/bin/env python3
"""Builds the OCI image layout that tests/clients/run.sh pulls with real registry clients.

Usage: fixture.py OUTDIR

Writes, offline and deterministically (same bytes, same digests on every run):

  OUTDIR/layout/       an OCI image layout (oci-layout, index.json, blobs/sha256/...)
  OUTDIR/images.tsv    one line per pull target, tab-separated:
                         kind        image | index | docker | artifact
                         repository  the name a client asks for (host stripped, library/ added)
                         tag         the tag, or "-": pulled by digest
                         digest      the manifest digest the registry must serve
                         mediatype   the manifest's media type
                         config      digest of the linux/amd64 image config, or "-"
                         closure     every digest reachable from the manifest (itself, child
                                     manifests, configs, layers; not the subject), comma-separated

The layout holds what issue 3 asks of the test layout:

  hello     OCI image manifest (linux/amd64, two gzip'd tar layers), tagged twice through
            `org.opencontainers.image.ref.name` full references (docker.io/library/hello:1.0,
            docker.io/library/hello:latest): two index.json entries, one digest.
  multi     OCI image index, linux/amd64 + linux/arm64/v8, each a real small image (the arm64
            layer is a valid tar of text files), named ghcr.io/team/multi:v1.
  app       Docker schema2 manifest (docker config and layer media types), named by
            `io.containerd.image.name: registry.example.com:5000/team/nested/app:2.0` plus the
            bare tag `org.opencontainers.image.ref.name: 2.0` as containerd and `docker save`
            write it (the bare tag belongs to team/nested/app only).
  registry  OCI image manifest named only by Zarf's `org.opencontainers.image.base.name:
            library/registry:2.8.2`; its first layer is hello's first layer (one blob, two
            repositories).
  sbom      OCI 1.1 artifact: artifactType application/vnd.example.sbom.v1, empty config
            (application/vnd.oci.empty.v1+json, `{}`), one layer, `subject` = hello's manifest.
            Its index.json entry has no name: reachable by digest only, in every repository.

Only the Python standard library is used. Tar members have fixed owners, modes and mtimes,
gzip streams have mtime 0 and no file name, and JSON is written with fixed key order.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

OCI_LAYOUT = "application/vnd.oci.image.layout.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REF_NAME = "org.opencontainers.image.ref.name"
BASE_NAME = "org.opencontainers.image.base.name"
CONTAINERD_NAME = "io.containerd.image.name"
CREATED = "2024-01-01T00:00:00Z"
MTIME = 1704067200  # CREATED as a Unix time

SBOM_TYPE = "application/vnd.example.sbom.v1"


class Layout:
    """An OCI layout being written: content-addressed blobs plus the index.json entries."""

    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        self.entries = []

    def blob(self, data, media_type, **extra):
        """Stores `data` under its digest; returns its descriptor."""
        digest = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.blobs, digest)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        desc = {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}
        desc.update(extra)
        return desc

    def json_blob(self, obj, media_type, **extra):
        return self.blob(canonical(obj), media_type, **extra)

    def entry(self, desc, annotations=None, **extra):
        """Adds an index.json entry for the manifest `desc`."""
        entry = dict(desc)
        entry.update(extra)
        if annotations:
            entry["annotations"] = dict(annotations)
        self.entries.append(entry)

    def finish(self):
        write(os.path.join(self.root, "oci-layout"), canonical({"imageLayoutVersion": "1.0.0"}))
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries}
        write(os.path.join(self.root, "index.json"), canonical(index))


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def tar_bytes(members):
    """A tar archive of `members`: (path, kind, payload) with kind "dir", "file", "exec", "link"."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, kind, payload in members:
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            data = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind in ("file", "exec"):
                data = payload.encode() if isinstance(payload, str) else payload
                info.type = tarfile.REGTYPE
                info.mode = 0o755 if kind == "exec" else 0o644
                info.size = len(data)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.mode = 0o777
                info.linkname = payload
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


def layer(layout, members, media_type):
    """Stores a gzip'd tar layer; returns (descriptor, diff_id)."""
    raw = tar_bytes(members)
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    return layout.blob(gzip_bytes(raw), media_type), diff_id


def config(arch, diff_ids, cmd, variant=None):
    cfg = {
        "created": CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": "tests/clients/fixture.py"} for _ in diff_ids],
    }
    if variant:
        cfg["variant"] = variant
    return cfg


def image(layout, arch, layers, cmd, variant=None, docker=False):
    """An image manifest over `layers` (lists of tar members); returns its descriptor."""
    layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
    descs, diff_ids = [], []
    for members in layers:
        desc, diff_id = layer(layout, members, layer_type)
        descs.append(desc)
        diff_ids.append(diff_id)
    cfg = layout.json_blob(config(arch, diff_ids, cmd, variant), DOCKER_CONFIG if docker else OCI_CONFIG)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": cfg, "layers": descs}
    if not docker:
        manifest["annotations"] = {"org.opencontainers.image.created": CREATED}
    return layout.json_blob(manifest, media_type)


BASE_LAYER = [
    ("bin", "dir", None),
    ("etc", "dir", None),
    ("etc/os-release", "file", 'NAME="zarf-injector client fixture"\nID=fixture\n'),
    ("hello", "dir", None),
    ("hello/greeting.txt", "file", "hello from the zarf-injector client fixture\n"),
    ("bin/hello", "exec", "#!/bin/sh\ncat /hello/greeting.txt\n"),
    ("hello/link", "link", "greeting.txt"),
]


def build(out):
    layout = Layout(os.path.join(out, "layout"))
    rows = []

    # hello: OCI image manifest, two tags.
    hello = image(
        layout,
        "amd64",
        [BASE_LAYER, [("hello", "dir", None), ("hello/version", "file", "1.0\n")]],
        ["/bin/hello"],
    )
    for tag in ("1.0", "latest"):
        layout.entry(hello, {REF_NAME: "docker.io/library/hello:" + tag})
        rows.append(("image", "library/hello", tag, hello))
    rows.append(("image", "library/hello", "-", hello))

    # multi: OCI index of two real small images.
    platforms = []
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        members = [
            ("multi", "dir", None),
            ("multi/arch.txt", "file", "linux/%s%s\n" % (arch, "/" + variant if variant else "")),
        ]
        desc = image(layout, arch, [members], ["/bin/sh"], variant=variant)
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        desc["platform"] = platform
        platforms.append(desc)
    multi = layout.json_blob(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": platforms}, OCI_INDEX
    )
    layout.entry(multi, {REF_NAME: "ghcr.io/team/multi:v1"})
    rows.append(("index", "team/multi", "v1", multi))

    # app: Docker schema2, nested name with a registry host (as containerd / docker save name it).
    app = image(
        layout,
        "amd64",
        [[("app", "dir", None), ("app/run.sh", "exec", "#!/bin/sh\necho app 2.0\n")]],
        ["/app/run.sh"],
        docker=True,
    )
    layout.entry(
        app, {CONTAINERD_NAME: "registry.example.com:5000/team/nested/app:2.0", REF_NAME: "2.0"}
    )
    rows.append(("docker", "team/nested/app", "2.0", app))

    # registry: named the way Zarf names it; shares hello's first layer.
    registry = image(
        layout,
        "amd64",
        [BASE_LAYER, [("etc/registry", "dir", None), ("etc/registry/config.yml", "file", "version: 0.1\n")]],
        ["/bin/sh"],
    )
    layout.entry(registry, {BASE_NAME: "library/registry:2.8.2"})
    rows.append(("image", "library/registry", "2.8.2", registry))

    # sbom: OCI 1.1 artifact with a subject, no name.
    empty = layout.blob(b"{}", OCI_EMPTY)
    sbom_layer = layout.json_blob(
        {"spdxVersion": "SPDX-2.3", "name": "hello", "packages": [{"name": "hello", "versionInfo": "1.0"}]},
        "application/spdx+json",
        annotations={"org.opencontainers.image.title": "sbom.spdx.json"},
    )
    subject = {k: hello[k] for k in ("mediaType", "digest", "size")}
    sbom = layout.json_blob(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SBOM_TYPE,
            "config": empty,
            "layers": [sbom_layer],
            "subject": subject,
            "annotations": {"org.opencontainers.image.created": CREATED},
        },
        OCI_MANIFEST,
    )
    layout.entry(sbom, artifactType=SBOM_TYPE)
    rows.append(("artifact", "library/hello", "-", sbom))

    layout.finish()
    with open(os.path.join(out, "images.tsv"), "w") as f:
        f.write("# kind\trepository\ttag\tdigest\tmediatype\tconfig\tclosure\n")
        for kind, repository, tag, desc in rows:
            config_digest, closure = walk(layout, desc["digest"])
            fields = [kind, repository, tag, desc["digest"], desc["mediaType"], config_digest or "-"]
            f.write("\t".join(fields + [",".join(closure)]) + "\n")


def walk(layout, digest):
    """(linux/amd64 config digest or None, sorted closure) of the manifest `digest`."""
    closure, amd64_config = set(), None
    todo = [(digest, True)]
    while todo:
        digest, amd64 = todo.pop()
        closure.add(digest)
        with open(os.path.join(layout.blobs, digest.split(":", 1)[1]), "rb") as f:
            manifest = json.load(f)
        for child in manifest.get("manifests", []):
            platform = child.get("platform", {})
            is_amd64 = (platform.get("os"), platform.get("architecture")) == ("linux", "amd64")
            todo.append((child["digest"], amd64 and is_amd64))
        if "config" in manifest:
            closure.add(manifest["config"]["digest"])
            closure.update(layer["digest"] for layer in manifest["layers"])
            if amd64 and manifest["config"]["mediaType"] in (OCI_CONFIG, DOCKER_CONFIG):
                amd64_config = manifest["config"]["digest"]
    return amd64_config, sorted(closure)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: fixture.py OUTDIR\n")
        return 2
    build(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
