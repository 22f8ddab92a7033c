#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (small files).

Run from anywhere: `python3 fuzz/seeds.py`. Deterministic: the same files every time, so the
committed corpus only changes when this script does.
"""
import gzip
import io
import os
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


# ---- http_head
HEADS = {
    "get-v2": "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n",
    "head-manifest": "HEAD /v2/library/app/manifests/1.0 HTTP/1.1\r\nHost: x\r\n"
    "Accept: application/vnd.oci.image.manifest.v1+json, */*;q=0.5\r\n\r\n",
    "http10": "GET /v2/_catalog?n=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "pipelined": "GET /v2/ HTTP/1.1\r\n\r\nGET /v2/ HTTP/1.1\r\n\r\n",
    "lf-only": "GET /v2/ HTTP/1.1\nHost: x\n\n",
    "partial": "GET /v2/library/app/blobs/sha256:",
    "tls-hello": b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03" + bytes(range(32)),
    "body": "PUT /v2/x/manifests/t HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
}
for name, data in HEADS.items():
    put("http_head", name, data)

# ---- handler: request heads with the layout's digests as $C $L $M $I $R
REQUESTS = {
    "base": "GET /v2/ HTTP/1.1\r\n\r\n",
    "manifest-tag": "GET /v2/library/app/manifests/1.0 HTTP/1.1\r\n\r\n",
    "manifest-digest": "HEAD /v2/library/app/manifests/$M HTTP/1.1\r\n\r\n",
    "index-negotiated": "GET /v2/library/multi/manifests/latest HTTP/1.1\r\n"
    "Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n",
    "if-none-match": "GET /v2/library/app/manifests/1.0 HTTP/1.1\r\nIf-None-Match: \"$M\"\r\n\r\n",
    "blob": "GET /v2/library/app/blobs/$L HTTP/1.1\r\n\r\n",
    "blob-range": "GET /v2/library/app/blobs/$L HTTP/1.1\r\nRange: bytes=10-\r\n\r\n",
    "blob-if-range": "GET /v2/library/app/blobs/$L HTTP/1.1\r\nRange: bytes=-5\r\nIf-Range: \"$L\"\r\n\r\n",
    "blob-416": "GET /v2/library/multi/blobs/$C HTTP/1.1\r\nRange: bytes=99999-\r\n\r\n",
    "tags": "GET /v2/library/app/tags/list?n=1&last=0 HTTP/1.1\r\n\r\n",
    "catalog": "GET /v2/_catalog?n=1&last=library%2Fapp HTTP/1.1\r\n\r\n",
    "referrers": "GET /v2/library/app/referrers/$M?artifactType=application%2Fvnd.example.sbom HTTP/1.1\r\n\r\n",
    "traversal": "GET /v2/library/app/blobs/sha256:..%2F..%2Findex.json HTTP/1.1\r\n\r\n",
    "absolute-form": "GET http://h/v2/library/app/manifests/$I HTTP/1.1\r\n\r\n",
    "delete": "DELETE /v2/library/app/manifests/1.0 HTTP/1.1\r\n\r\n",
    "upload": "GET /v2/library/app/blobs/uploads/x HTTP/1.1\r\n\r\n",
}
for name, data in REQUESTS.items():
    put("handler", name, data)

# ---- route: request targets
TARGETS = [
    "/v2/", "/v2", "/v2/_catalog?n=2&last=a", "/v2/a/b/tags/list?n=1&last=x",
    "/v2/library/app/manifests/1.0",
    "/v2/library/app/manifests/sha256:" + "a" * 64,
    "/v2/x/blobs/sha512:" + "0" * 128, "/v2/x/blobs/blake3:abc",
    "/v2/x/referrers/sha256:" + "b" * 64 + "?artifactType=a%2Fb",
    "/v2/x/blobs/uploads/", "http://host:5000/v2/x/manifests/t?q#f",
    "/v2/..%2F..%2Fx/tags/list", "/v2/a__b.c-d/e/manifests/_t",
]
for i, target in enumerate(TARGETS):
    put("route", f"target-{i:02}", target)

# ---- range: first byte < 0x80 is the size, else 8 bytes little-endian
RANGES = [
    (100, "bytes=0-9"), (100, "bytes=50-"), (100, "bytes=-10"), (100, "bytes=-0"),
    (100, "bytes=100-"), (100, "bytes=0-1,5-6"), (100, "BYTES = 5-7 ,"), (0, "bytes=0-"),
    (100, "bytes=9-0"), (100, "items=0-1"),
]
for i, (size, value) in enumerate(RANGES):
    put("range", f"range-{i:02}", bytes([size]) + value.encode())
put("range", "range-big", (2**63 + 5).to_bytes(8, "little") + b"bytes=18446744073709551615-")

# ---- digest
DIGESTS = [
    "sha256:" + "0123456789abcdef" * 4, "sha512:" + "f" * 128, "sha256:ABC",
    "blake3:" + "a" * 64, "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
    "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:../../etc/passwd", ":", "a.b:c",
]
for i, text in enumerate(DIGESTS):
    put("digest", f"digest-{i:02}", text)

# ---- json_index: first byte 0 = index.json, 1 = a manifest blob, 2 = an index blob
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
JSONS = [
    (0, '{"schemaVersion":2,"manifests":[]}'),
    (0, '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":2,'
        '"annotations":{"org.opencontainers.image.ref.name":"docker.io/library/x:1"}}]}'
        % (MANIFEST, "0" * 64)),
    (0, '{"manifests":[{"digest":"sha256:%s","size":1,"annotations":'
        '{"io.containerd.image.name":"ghcr.io/a/b:c","org.opencontainers.image.base.name":"d/e"}}]}'
        % ("1" * 64)),
    (0, '[1, -2.5e10, true, false, null, "\\u00e9\\ud83d\\ude00\\n", {"a": {}}]'),
    (1, '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"a/b","digest":"sha256:%s","size":3},'
        '"layers":[],"subject":{"mediaType":"%s","digest":"sha256:%s","size":4},"artifactType":"x/y"}'
        % (MANIFEST, "2" * 64, MANIFEST, "3" * 64)),
    (2, '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":'
        '[{"mediaType":"%s","digest":"sha256:%s","size":5,"platform":{"os":"linux","architecture":"amd64"}}]}'
        % (MANIFEST, "4" * 64)),
]
for i, (mode, text) in enumerate(JSONS):
    put("json_index", f"json-{i:02}", bytes([mode]) + text.encode())

# ---- untar: first byte even = plain tar, odd = gzip


def tar_bytes(fmt, entries):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.type = kind
            if kind == tarfile.DIRTYPE:
                info.mode = 0o755
                tar.addfile(info)
            elif kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = data
                tar.addfile(info)
            else:
                info.mode = 0o4755 if name.endswith("suid") else 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


LAYOUT = [
    ("blobs/", b"", tarfile.DIRTYPE),
    ("blobs/sha256/", b"", tarfile.DIRTYPE),
    ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', tarfile.REGTYPE),
    ("index.json", b'{"schemaVersion":2,"manifests":[]}', tarfile.REGTYPE),
    ("blobs/sha256/" + "a" * 64, b"blob", tarfile.REGTYPE),
]
put("untar", "ustar", b"\0" + tar_bytes(tarfile.USTAR_FORMAT, LAYOUT))
put("untar", "gnu-long-name", b"\0" + tar_bytes(tarfile.GNU_FORMAT, [("d/" + "n" * 150, b"x", tarfile.REGTYPE)]))
put("untar", "pax-path", b"\0" + tar_bytes(tarfile.PAX_FORMAT, [("p/" + "q" * 200, b"y", tarfile.REGTYPE)]))
put("untar", "suid", b"\0" + tar_bytes(tarfile.USTAR_FORMAT, [("bin/suid", b"#!", tarfile.REGTYPE)]))
put("untar", "symlink", b"\0" + tar_bytes(tarfile.USTAR_FORMAT, [("l", "../../etc", tarfile.SYMTYPE)]))
put("untar", "dotdot", b"\0" + tar_bytes(tarfile.USTAR_FORMAT, [("../x", b"z", tarfile.REGTYPE)]))
put("untar", "gzip", b"\1" + gzip.compress(tar_bytes(tarfile.USTAR_FORMAT, LAYOUT[:3]), mtime=0))
put("untar", "gzip-two-members", b"\1" + gzip.compress(b"a", mtime=0) + gzip.compress(b"b", mtime=0))
