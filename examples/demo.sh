#!/usr/bin/env bash
# The whole injector flow on the bundled example image (examples/hello-layout, an OCI layout):
# pack it as Zarf does (tar.gz split into 786432-byte zarf-payload-NNN chunks), run zarf-injector
# on the chunks, ask its registry API for /v2/, and stop. Needs cargo, tar, split, sha256sum, curl.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin zarf-injector
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
    target/release/zarf-injector "$sum" 127.0.0.1:0 > "$work/out" &
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
echo "--- GET http://$address/v2/"
curl -sS -i "http://$address/v2/"
echo
diff -r examples/hello-layout "$work/seed" && echo "seed directory matches examples/hello-layout"
