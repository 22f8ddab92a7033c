#!/usr/bin/env python3
"""Builds a seed image and its Zarf payload for bench/run.sh.

Usage: make_seed.py OUTDIR MEGABYTES

Writes:
  OUTDIR/layout/        an OCI image layout: one linux/amd64 image named
                        docker.io/library/bench:seed whose layers are real gzip'd tars (so that
                        containerd can unpack them): a ~20 MB layer of random bytes (the blob the
                        serving benchmark GETs), more random layers up to MEGABYTES, and one
                        compressible layer of text.
  OUTDIR/init/zarf-payload-NNNN   the layout, tar'd, gzip'd (-6) and split into 786432-byte chunks
  OUTDIR/info.json      {"sha256", "payload_bytes", "chunks", "manifest", "manifest_size",
                         "blob", "blob_size", "blobs": [[digest, size]...]}

Only the Python standard library. Random content, so digests differ from run to run.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

CHUNK = 786432


def main():
    out, megabytes = sys.argv[1], int(sys.argv[2])
    layout = os.path.join(out, "layout")
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)
    os.makedirs(os.path.join(out, "init"))

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)

    def layer(files):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        raw = raw.getvalue()
        gz = gzip.compress(raw, compresslevel=1, mtime=0)
        digest, size = put(gz)
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest, "size": size}, "sha256:" + hashlib.sha256(raw).hexdigest()

    layers, diff_ids = [], []
    # the ~20 MB blob: 20,000,000 random bytes in one file
    sizes = [20_000_000]
    rest = megabytes * 1_000_000 - 20_000_000 - 300_000
    if megabytes <= 40:
        sizes.append(max(rest, 1_000_000))
    else:  # bigger seeds: layers of ~45 MB, like a real registry image's largest layers
        while rest > 0:
            sizes.append(min(45_000_000, rest))
            rest -= 45_000_000
    for i, size in enumerate(sizes):
        desc, diff = layer([(f"data/random-{i}.bin", os.urandom(size))])
        layers.append(desc)
        diff_ids.append(diff)
    text = "".join(f"line {n} of a compressible configuration file\n" for n in range(120_000)).encode()
    desc, diff = layer([("etc/bench.txt", text)])
    layers.append(desc)
    diff_ids.append(diff)

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/true"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        separators=(",", ":")).encode()
    config_digest, config_size = put(config)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config_digest, "size": config_size},
                           "layers": layers}, separators=(",", ":")).encode()
    manifest_digest, manifest_size = put(manifest)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/bench:seed"}}]},
            f, separators=(",", ":"))

    # the payload: tar of the layout, gzip -6, 786432-byte chunks
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(layout, arcname=".")
    payload = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    del raw
    count = 0
    for offset in range(0, len(payload), CHUNK):
        with open(os.path.join(out, "init", "zarf-payload-%04d" % count), "wb") as f:
            f.write(payload[offset:offset + CHUNK])
        count += 1
    every = [(config_digest, config_size), (manifest_digest, manifest_size)] + \
        [(l["digest"], l["size"]) for l in layers]
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump({"sha256": hashlib.sha256(payload).hexdigest(), "payload_bytes": len(payload),
                   "chunks": count, "manifest": manifest_digest, "manifest_size": manifest_size,
                   "blob": layers[0]["digest"], "blob_size": layers[0]["size"],
                   "blobs": every}, f)


if __name__ == "__main__":
    main()
