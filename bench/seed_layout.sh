# Sourced by bench/unpack.sh and bench/size_speed.sh: the benchmarks' seed, an OCI image layout
# like a real seed image: four random "layer" blobs of 0.24 x MB bytes each (incompressible, as
# gzip'd layers are), one compressible text blob of ~0.1 x MB (`seq` output), a config, a
# manifest and index.json.
#
#   make_seed_layout DIR MEGABYTES    writes the layout into DIR (created); sets SEED_TEXT_BYTES
#                                     to the size of the compressible blob

# Moves file $2 into layout $1 under its digest; prints "digest size".
seed_blob() {
    local d; d=$(sha256sum "$2" | cut -d' ' -f1)
    mv "$2" "$1/blobs/sha256/$d"
    echo "sha256:$d $(stat -c %s "$1/blobs/sha256/$d")"
}

make_seed_layout() {
    local dir=$1 megabytes=$2 tmp=$1/.blob i d s cd cs md ms layers=""
    mkdir -p "$dir/blobs/sha256"
    for i in 1 2 3 4; do
        head -c $((megabytes * 240000)) /dev/urandom > "$tmp"
        read -r d s < <(seed_blob "$dir" "$tmp")
        layers+="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s},"
    done
    seq 1 $((megabytes * 100000 / 7)) > "$tmp"
    read -r d s < <(seed_blob "$dir" "$tmp")
    SEED_TEXT_BYTES=$s
    layers+="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$d\",\"size\":$s}"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$tmp"
    read -r cd cs < <(seed_blob "$dir" "$tmp")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
        "$cd" "$cs" "$layers" > "$tmp"
    read -r md ms < <(seed_blob "$dir" "$tmp")
    printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}]}' \
        "$md" "$ms" > "$dir/index.json"
}
