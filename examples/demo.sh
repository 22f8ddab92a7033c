#!/usr/bin/env bash
# The whole injector flow on the bundled example image (examples/hello-layout, an OCI layout):
# pack it as Zarf does (tar.gz split into 786432-byte zarf-payload-NNN chunks), run zarf-injector
# on the chunks, ask its registry for the catalog, tags and manifest, stop it with SIGTERM.
# Needs cargo, tar, split, sha256sum, curl.
#
# INJECTOR="cmd ..." runs another build instead of target/release (CI runs the release
# binaries this way, the arm64 one under qemu-aarch64-static).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${INJECTOR:-}" ]; then
    cargo build --release --quiet --bin zarf-injector
    INJECTOR=target/release/zarf-injector
fi
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mkdir "$work/init" "$work/seed"
tar -C examples/hello-layout --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
    -cf - . | gzip -n > "$work/payload.tar.gz"
split -b 786432 -d -a 3 "$work/payload.tar.gz" "$work/init/zarf-payload-"
sum=$(sha256sum "$work/payload.tar.gz" | cut -d' ' -f1)
echo "payload: $(stat -c %s "$work/payload.tar.gz") bytes, sha256 $sum"

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
diff -r examples/hello-layout "$work/seed" && echo "seed directory matches examples/hello-layout"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
echo "zarf-injector exited with status $status after SIGTERM"
[ "$status" = 0 ]
