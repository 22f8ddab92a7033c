#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz, nightly) and runs each one briefly on its seed
# corpus: a smoke test that the targets build and that the seeds and a few seconds of
# mutation find nothing. The long runs are recorded in docs/HARDENING.md.
#
#   .ci/fuzz-short.sh [SECONDS]     default 20 s per target
#
# New inputs go to a scratch corpus, so the committed seeds do not change. A crash leaves
# its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-20}

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

cargo +nightly fuzz build -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The targets' own scratch directories (std::env::temp_dir()) go in there too.
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"
failed=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if cargo +nightly fuzz run -O "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
        echo "fuzz $target: ok, $runs executions in ${seconds}s"
    else
        echo "fuzz $target: FAILED"
        tail -40 "$log"
        failed=1
    fi
done
[ "$failed" = 0 ]
