#!/usr/bin/env bash
# The whole injector flow on the bundled example image (examples/hello-layout, an OCI layout):
# injector-pack packs it as Zarf does (a gzip'd tar split into 786432-byte zarf-payload-NNN
# chunks), zarf-injector unpacks and verifies the chunks and serves them, the registry answers
# for the catalog, tags and manifest, and SIGTERM stops it. Needs cargo and curl.
#
# INJECTOR="cmd ..." runs another build instead of target/release (CI runs the release
# binaries this way, the arm64 one under qemu-aarch64-static).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin injector-pack
if [ -z "${INJECTOR:-}" ]; then
    cargo build --release --quiet --bin zarf-injector
    INJECTOR=target/release/zarf-injector
fi
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir "$work/seed"
echo "--- injector-pack examples/hello-layout --out $work/init"
target/release/injector-pack examples/hello-layout --out "$work/init" --quiet | tee "$work/pack"
sum=$(tail -n 1 "$work/pack")

echo "--- zarf-injector $sum 127.0.0.1:0"
: > "$work/out"
ZARF_INJECTOR_INIT_ROOT="$work/init" ZARF_INJECTOR_SEED_ROOT="$work/seed" \
    $INJECTOR "$sum" 127.0.0.1:0 > "$work/out" &
pid=$!
address=
for _ in $(seq 100); do
    address=$(sed -n 's/^listening on //p' "$work/out")
    [ -n "$address" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "zarf-injector exited early" >&2; exit 1; }
    sleep 0.1
done
[ -n "$address" ] || { echo "zarf-injector did not start listening" >&2; exit 1; }
cat "$work/out"
for path in /v2/ /v2/_catalog /v2/library/hello/tags/list /v2/library/hello/manifests/1.0; do
    echo "--- GET http://$address$path"
    curl -sS --fail -i "http://$address$path"
    echo
done
diff -r examples/hello-layout/blobs "$work/seed/blobs" && echo "seed blobs match examples/hello-layout"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
echo "zarf-injector exited with status $status after SIGTERM"
[ "$status" = 0 ]
