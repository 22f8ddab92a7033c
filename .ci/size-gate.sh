#!/usr/bin/env bash
# Size gate (issue 4): builds the release binaries with ./release.sh, prints their sizes and
# fails if one is over its limit. With --no-build it only checks the files already built.
#
# Limits in bytes: the stable build at most today's size + 8 KiB (8192), the dist binaries at
# most today's size + ~4 KiB, so that growth is a decision, not an accident, and never above
# issue 4's budgets: 524288 (stable, 512 KiB) and 131072 (each dist binary, 128 KiB). Lower a
# limit whenever a binary shrinks by more than a little (docs/SIZE.md has each size decision).
MAX_STABLE_AMD64=454608   # stable x86_64 musl: 446,416 on 2026-12-05 (+ 8 KiB)
MAX_DIST_AMD64=118264     # dist/zarf-injector-amd64 (nightly): 114,168 on 2026-12-05 (+ 4 KiB)
MAX_DIST_ARM64=115552     # dist/zarf-injector-arm64 (nightly): 111,456 on 2026-12-05 (+ 4 KiB)

set -euo pipefail
cd "$(dirname "$0")/.."

case ${1:-} in
    "") ./release.sh ;;
    --no-build) ;;
    *) echo "usage: .ci/size-gate.sh [--no-build]" >&2; exit 2 ;;
esac

STABLE_BIN=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/zarf-injector
failed=0
gate() { # file limit
    local file=$1 limit=$2 size verdict=ok
    if [ ! -f "$file" ]; then
        printf '%8s        %-17s %s\n' missing "(run ./release.sh)" "$file"
        failed=1
        return
    fi
    size=$(stat -c %s "$file")
    if [ "$size" -gt "$limit" ]; then verdict="OVER by $((size - limit))"; failed=1; fi
    printf '%8d bytes  limit %7d  %-16s  size + 8 KiB = %7d  %s\n' \
        "$size" "$limit" "$verdict" "$((size + 8192))" "$file"
}

echo "size gate:"
gate "$STABLE_BIN" "$MAX_STABLE_AMD64"
gate dist/zarf-injector-amd64 "$MAX_DIST_AMD64"
gate dist/zarf-injector-arm64 "$MAX_DIST_ARM64"
if [ "$failed" != 0 ]; then
    echo "size gate: FAILED (limits are at the top of .ci/size-gate.sh)" >&2
    exit 1
fi
echo "size gate: passed"
