#!/usr/bin/env bash
# Unpack benchmark: zarf-injector against `cat chunks | sha256sum` and `tar xzf` on the same
# ~200 MB payload, run side by side (alternating, ROUNDS times each), reporting the median wall
# time and peak RSS of each and the injector's ratio to `tar xzf`.
#
#   bench/unpack.sh [payload-megabytes]      (default 200; ROUNDS=5 by default)
#
# The payload is an OCI layout like a real seed image: mostly already-compressed layer blobs
# (random bytes) plus one compressible blob, tar'd and gzip'd (-6), split into 786432-byte chunks.
# The injector binds 192.0.2.1 (TEST-NET, never assignable here), so it exits right after
# unpacking: its wall time is the unpack alone.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=seed_layout.sh
. bench/seed_layout.sh
megabytes=${1:-200}
rounds=${ROUNDS:-5}
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

cargo build --release --quiet --target x86_64-unknown-linux-musl --bin zarf-injector
injector=$PWD/target/x86_64-unknown-linux-musl/release/zarf-injector
work=${BENCH_DIR:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/init" "$work/seed" "$work/tar"

make_seed_layout "$work/layout" "$megabytes"
tar -C "$work/layout" -cf - . | gzip -6 > "$work/payload.tar.gz"
split -b 786432 -d -a 4 "$work/payload.tar.gz" "$work/init/zarf-payload-"
sum=$(sha256sum "$work/payload.tar.gz" | cut -d' ' -f1)
payload_bytes=$(stat -c %s "$work/payload.tar.gz")
chunks=$(ls "$work/init" | wc -l)
rm "$work/payload.tar.gz"

measure() { # name, command...: appends "seconds kilobytes" to $work/<name>
    local name=$1; shift
    rm -rf "$work/seed" "$work/tar"; mkdir -p "$work/seed" "$work/tar"; sync
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || true
    tail -n 1 "$work/time" >> "$work/result-$name"
}
for _ in $(seq "$rounds"); do
    measure injector env ZARF_INJECTOR_INIT_ROOT="$work/init" ZARF_INJECTOR_SEED_ROOT="$work/seed" \
        "$injector" "$sum" 192.0.2.1:5000
    test -s "$work/seed/index.json" || { echo "injector did not unpack" >&2; exit 1; }
    measure sha256sum sh -c "cat '$work'/init/zarf-payload-* | sha256sum"
    measure tar sh -c "cat '$work'/init/zarf-payload-* | tar -C '$work/tar' -xzf -"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "payload: $payload_bytes bytes in $chunks chunks; $rounds rounds, medians"
printf '%-28s %10s %14s\n' system "wall (s)" "peak RSS (KiB)"
for name in injector sha256sum tar; do
    wall=$(cut -d' ' -f1 "$work/result-$name" | median)
    rss=$(cut -d' ' -f2 "$work/result-$name" | median)
    label=$name; [ "$name" = sha256sum ] && label="cat chunks | sha256sum"
    [ "$name" = tar ] && label="cat chunks | tar xzf"
    printf '%-28s %10s %14s\n' "$label" "$wall" "$rss"
done
injector_wall=$(cut -d' ' -f1 "$work/result-injector" | median)
tar_wall=$(cut -d' ' -f1 "$work/result-tar" | median)
echo "injector / tar xzf wall-time ratio: $(awk -v a="$injector_wall" -v b="$tar_wall" 'BEGIN {printf "%.2f", a / b}')"
