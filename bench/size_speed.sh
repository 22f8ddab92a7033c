#!/usr/bin/env bash
# Size against speed: for each size-related build choice of the release injector, its stripped
# bytes next to its unpack throughput, all measured side by side in one run.
#
#   bench/size_speed.sh [payload-megabytes]      (default 200; ROUNDS=5 by default)
#
# Variants (all the nightly x86_64 build of release.sh, i.e. dist/zarf-injector-amd64, with one
# change each):
#   today          as release.sh: sha2 and miniz_oxide at opt-level 3, sha2's software fallback
#                  compact (sha2_backend_soft="compact"); SHA-NI is still picked at run time
#   sha2-z         sha2 at opt-level "z"
#   miniz-z        miniz_oxide at opt-level "z"
#   soft-compact   software SHA-256 forced (sha2_backend="soft"), compact: what a CPU without
#                  SHA-NI runs today
#   soft-unrolled  software SHA-256 forced, sha2's default unrolled rounds (no compact cfg): what
#                  the compact choice costs such CPUs
#
# Payloads: one OCI layout (like bench/unpack.sh: four random "layer" blobs, one compressible
# text blob, config, manifest, index.json), packed twice into 786432-byte zarf-payload-* chunks:
#   plain  an uncompressed tar: measures hashing and writing
#   gzip   the same tar, gzip -6: adds inflate (the random blobs are stored blocks, so inflate
#          work is mostly the compressible blob)
# Each run is `zarf-injector <sha256> 192.0.2.1:5000`: it unpacks, then fails to bind TEST-NET
# and exits, so its wall time (date +%s%N around it) is the unpack alone. Chunks and seed dir are
# on /dev/shm when it is a tmpfs with room (disk stays out of it); the seed dir is emptied before
# every run. Each round runs every variant once per payload, round-robin, the starting variant
# rotating from round to round; the table gives the median of ROUNDS. MB = 10^6 bytes.
#
# Builds: from a snapshot of the sources (`git archive HEAD` by default; SOURCE=worktree copies
# the working tree, uncommitted edits included) into a scratch target directory, so nothing is
# written into the repository's target/ or dist/. The build log of each variant is checked for
# the rustc flag the variant changes. Needs the toolchain, rust-src and musl files that
# ./release.sh installs: run ./release.sh once first.
#
# Output: the markdown table on stdout, progress on stderr, and the raw numbers (every run, the
# machine, the binaries' sizes and digests) in bench/results/size_speed-<date>.txt.
#
# Environment: ROUNDS (5), NIGHTLY (toolchain, "nightly"), STABLE ("stable": only its musl start
# files may be used, as in release.sh), SOURCE ("head" or "worktree"), TMPDIR (builds),
# VARIANTS (a list that starts with today, e.g. "today" alone), BASELINE (a prebuilt
# zarf-injector, e.g. the dist binary of an earlier commit: measured as variant `baseline` side
# by side with the others, so a size change can be checked for speed against where it started).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=seed_layout.sh
. "$REPO/bench/seed_layout.sh"

MEGABYTES=${1:-200}
ROUNDS=${ROUNDS:-5}
NIGHTLY=${NIGHTLY:-nightly}
STABLE=${STABLE:-stable}
SOURCE=${SOURCE:-head}
X86=x86_64-unknown-linux-musl
BIN=zarf-injector
CHUNK=786432
RUN_TIMEOUT=600                 # seconds: a run that somehow binds would otherwise serve forever
read -ra VARIANTS <<<"${VARIANTS:-today sha2-z miniz-z soft-compact soft-unrolled}"
[ -n "${BASELINE:-}" ] && VARIANTS+=(baseline)
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

die() { echo "size_speed.sh: $*" >&2; exit 1; }
log() { echo "size_speed.sh: $*" >&2; }

# --- Arguments, tools, toolchain ---------------------------------------------------------------
check_args() {
    [[ $MEGABYTES =~ ^[1-9][0-9]*$ ]] || die "payload-megabytes must be a positive integer, not '$MEGABYTES'"
    [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
    [[ $SOURCE = head || $SOURCE = worktree ]] || die "SOURCE must be head or worktree, not '$SOURCE'"
    [ "${VARIANTS[0]:-}" = today ] || die "VARIANTS must start with today (the reference of the ratios)"
    local v
    for v in "${VARIANTS[@]}"; do [ -n "$(describe "$v")" ] || die "unknown variant $v"; done
    [ -z "${BASELINE:-}" ] || [ -x "$BASELINE" ] || die "BASELINE must be an executable file, not '$BASELINE'"
    [ "$(uname -m)" = x86_64 ] || die "runs the x86_64 binaries: needs an x86_64 host"
}

check_tools() {
    local tool
    for tool in rustup cargo git readelf tar gzip split sha256sum awk timeout date find; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
}

# Read-only checks; release.sh is what installs these.
check_toolchain() {
    local first="run ./release.sh once first (it installs what the nightly build needs)"
    rustup run "$NIGHTLY" rustc -V >/dev/null 2>&1 || die "toolchain $NIGHTLY is missing: $first"
    rustup +"$NIGHTLY" component list --installed 2>/dev/null | grep -q '^rust-src' ||
        die "component rust-src of $NIGHTLY is missing (-Z build-std needs it): $first"
    local sysroot host stable_sysroot dir
    sysroot=$(rustc +"$NIGHTLY" --print sysroot)
    host=$(rustc +"$NIGHTLY" -vV | sed -n 's/^host: //p')
    LLD=$sysroot/lib/rustlib/$host/bin/rust-lld
    [ -x "$LLD" ] || die "rust-lld not found at $LLD: $first"
    stable_sysroot=$(rustc +"$STABLE" --print sysroot 2>/dev/null || true)
    X86_OBJS=""
    for dir in "$sysroot/lib/rustlib/$X86/lib/self-contained" \
               ${stable_sysroot:+"$stable_sysroot/lib/rustlib/$X86/lib/self-contained"}; do
        if [ -f "$dir/crt1.o" ] && [ -f "$dir/libc.a" ]; then X86_OBJS=$dir; break; fi
    done
    [ -n "$X86_OBJS" ] || die "no $X86 musl objects (crt1.o, libc.a) in $NIGHTLY or $STABLE: $first"
}

# --- Flags -------------------------------------------------------------------------------------
# MIRRORS release.sh's NIGHTLY_FLAGS, BUILD_STD and X86_FLAGS (release.sh cannot be sourced in
# part): when those change, change these the same way.
set_flags() {
    NIGHTLY_FLAGS=(
        -Zunstable-options -Cpanic=immediate-abort
        -Crelocation-model=static
        -Cforce-unwind-tables=no
        -Zlocation-detail=none
        -Zfmt-debug=none
        '--cfg=sha2_backend_soft="compact"'
        "-Clinker=$LLD" -Clinker-flavor=ld.lld -Clink-self-contained=yes
        -Clink-arg=--icf=all
    )
    BUILD_STD=(-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size)
    X86_FLAGS=("${NIGHTLY_FLAGS[@]}" "-Lnative=$X86_OBJS")
}
COMPACT='--cfg=sha2_backend_soft="compact"'   # sha2 0.11: src/sha256/soft.rs
SOFT='--cfg=sha2_backend="soft"'               # sha2 0.11: src/sha256.rs, README "sha2_backend"
encode() { local IFS=$'\x1f'; printf '%s' "$*"; } # CARGO_ENCODED_RUSTFLAGS

describe() {
    case $1 in
        today) echo "release.sh as is (sha2, miniz_oxide opt 3; compact soft fallback)" ;;
        sha2-z) echo "sha2 at opt-level z" ;;
        miniz-z) echo "miniz_oxide at opt-level z" ;;
        soft-compact) echo "software SHA-256 forced, compact" ;;
        soft-unrolled) echo "software SHA-256 forced, unrolled (no compact cfg)" ;;
        baseline) echo "the prebuilt binary given as BASELINE (${BASELINE:-}), e.g. an earlier release" ;;
    esac
}

# Sets FLAGS (rustflags) and CONFIG (extra cargo arguments) for a variant. Per-package profile
# overrides go through --config: cargo reads no CARGO_PROFILE_*_PACKAGE_* environment variables.
variant_flags() { # variant
    local flag found=0
    FLAGS=("${X86_FLAGS[@]}") CONFIG=()
    case $1 in
        today) ;;
        sha2-z) CONFIG=(--config 'profile.release.package.sha2.opt-level="z"') ;;
        miniz-z) CONFIG=(--config 'profile.release.package.miniz_oxide.opt-level="z"') ;;
        soft-compact) FLAGS+=("$SOFT") ;;
        soft-unrolled)
            FLAGS=()
            for flag in "${X86_FLAGS[@]}"; do
                if [ "$flag" = "$COMPACT" ]; then found=1; else FLAGS+=("$flag"); fi
            done
            [ "$found" = 1 ] || die "release.sh's flags no longer hold $COMPACT: update this script"
            FLAGS+=("$SOFT") ;;
        *) die "unknown variant $1" ;;
    esac
}

# --- Scratch -----------------------------------------------------------------------------------
make_scratch() {
    BUILD=$(mktemp -d "${TMPDIR:-/tmp}/size_speed-build.XXXXXX")
    DATA=""
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # layout + two payloads + one seed copy, about 1.1x the megabytes each; ask for 6x
    local need=$((MEGABYTES * 6000000))
    if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] &&
       [ "$(df --output=avail -B1 /dev/shm | tail -n 1)" -gt "$need" ]; then
        DATA=$(mktemp -d /dev/shm/size_speed-data.XXXXXX)
    else
        log "/dev/shm is not a tmpfs with $need bytes free: payload and seed go to $BUILD (disk)"
        DATA=$BUILD/data; mkdir "$DATA"
    fi
    BINS=$BUILD/bin; mkdir "$BINS"
}
cleanup() { rm -rf "${BUILD:-}" "${DATA:-}"; }

# Copies the sources to build into $BUILD/src; sets SOURCE_DESC.
snapshot_sources() {
    local commit
    commit=$(git -C "$REPO" rev-parse HEAD)
    mkdir "$BUILD/src"
    if [ "$SOURCE" = head ]; then
        git -C "$REPO" archive --format=tar HEAD | tar -C "$BUILD/src" -xf -
        SOURCE_DESC="git HEAD $commit"
    else
        git -C "$REPO" ls-files -z --cached --others --exclude-standard |
            (cd "$REPO" && tar --null --ignore-failed-read -T - -cf -) | tar -C "$BUILD/src" -xf -
        SOURCE_DESC="working tree at $commit"
        [ -z "$(git -C "$REPO" status --porcelain)" ] || SOURCE_DESC+=" (with uncommitted changes)"
    fi
}

# --- Build -------------------------------------------------------------------------------------
# One shared target directory: cargo keeps an artifact per profile/flag set, so std is built
# once for the variants whose rustflags match.
build_variant() { # variant
    local v=$1 logf=$BUILD/build-$1.log start=$SECONDS
    if [ "$v" = baseline ]; then
        install -m 0755 "$BASELINE" "$BINS/baseline"
        check_binary "$BINS/baseline"
        log "  baseline: $(stat -c %s "$BINS/baseline") bytes, $BASELINE"
        return
    fi
    variant_flags "$v"
    log "building $v: $(describe "$v")"
    CARGO_ENCODED_RUSTFLAGS=$(encode "${FLAGS[@]}") \
        cargo +"$NIGHTLY" build -v --release --target "$X86" --bin "$BIN" \
        --manifest-path "$BUILD/src/Cargo.toml" --target-dir "$BUILD/target" \
        --no-default-features "${BUILD_STD[@]}" "${CONFIG[@]}" >"$logf" 2>&1 ||
        { tail -n 40 "$logf" >&2; die "build of $v failed (end of its log above)"; }
    check_build_log "$v" "$logf"
    install -m 0755 "$BUILD/target/$X86/release/$BIN" "$BINS/$v"
    check_binary "$BINS/$v"
    log "  $v: $(stat -c %s "$BINS/$v") bytes, built in $((SECONDS - start)) s"
}

# The rustc line of a crate (cargo -v), if it was compiled in this build.
rustc_line() { grep -E "Running .*--crate-name $2 " "$1" | tail -n 1 || true; }

# Proves the variant's change reached rustc (a cached crate has no line; the first build, today,
# compiles everything). Patterns carry the `=`: sha2's --check-cfg names the same cfgs.
check_build_log() { # variant log
    local sha miniz
    sha=$(rustc_line "$2" sha2) miniz=$(rustc_line "$2" miniz_oxide)
    case $1 in
        today)
            [[ $sha == *opt-level=3* && $sha == *sha2_backend_soft=*compact* && $sha != *sha2_backend=* ]] &&
                [[ $miniz == *opt-level=3* ]] || die "today: sha2/miniz_oxide not built as expected (see $2)" ;;
        sha2-z) [[ $sha == *opt-level=z* ]] || die "sha2-z: sha2 was not compiled at opt-level z" ;;
        miniz-z) [[ $miniz == *opt-level=z* ]] || die "miniz-z: miniz_oxide was not compiled at opt-level z" ;;
        soft-compact)
            [[ $sha == *sha2_backend=*soft* && $sha == *sha2_backend_soft=*compact* && $sha == *opt-level=3* ]] ||
                die "soft-compact: sha2 not compiled with the soft backend and compact cfg" ;;
        soft-unrolled)
            [[ $sha == *sha2_backend=*soft* && $sha != *sha2_backend_soft=* && $sha == *opt-level=3* ]] ||
                die "soft-unrolled: sha2 not compiled with the soft backend without compact cfg" ;;
    esac
}

check_binary() { # file: static, stripped, runs (as release.sh checks)
    local out
    readelf -lW "$1" | grep -q INTERP && die "$1 is dynamically linked"
    readelf -SW "$1" | grep -q '\.symtab' && die "$1 is not stripped"
    out=$("$1" --version 2>&1) || die "$1 does not run: $out"
    [[ $out == "zarf-injector "* ]] || die "$1 --version printed: $out"
}

# --- Payload -----------------------------------------------------------------------------------
# The layout of bench/unpack.sh (bench/seed_layout.sh).
make_layout() {
    make_seed_layout "$DATA/layout" "$MEGABYTES"
    TEXT_BYTES=$SEED_TEXT_BYTES
    OUTPUT_BYTES=$(find "$DATA/layout" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
}

# Packs the layout into $DATA/init-<name>/zarf-payload-NNNN; sets SUM_<name>, BYTES_<name>,
# CHUNKS_<name>.
make_payload() { # name (plain|gzip)
    local name=$1 file=$DATA/payload
    if [ "$name" = gzip ]; then tar -C "$DATA/layout" -cf - . | gzip -6 > "$file"
    else tar -C "$DATA/layout" -cf - . > "$file"; fi
    mkdir "$DATA/init-$name"
    split -b "$CHUNK" -d -a 4 "$file" "$DATA/init-$name/zarf-payload-"
    printf -v "SUM_$name" '%s' "$(sha256sum "$file" | cut -d' ' -f1)"
    printf -v "BYTES_$name" '%s' "$(stat -c %s "$file")"
    printf -v "CHUNKS_$name" '%s' "$(find "$DATA/init-$name" -type f | wc -l)"
    rm "$file"
}

# --- Measure -----------------------------------------------------------------------------------
run_once() { # variant payload: prints the wall time in nanoseconds
    local v=$1 p=$2 sum t0 t1 seed=$DATA/seed
    sum=SUM_$p
    rm -rf "$seed"; mkdir "$seed"
    t0=$(date +%s%N)
    ZARF_INJECTOR_INIT_ROOT=$DATA/init-$p ZARF_INJECTOR_SEED_ROOT=$seed \
        timeout "$RUN_TIMEOUT" "$BINS/$v" "${!sum}" 192.0.2.1:5000 >"$DATA/out" 2>"$DATA/err" || true
    t1=$(date +%s%N)
    if ! grep -q '^extracted ' "$DATA/out" || [ ! -s "$seed/index.json" ]; then
        cat "$DATA/out" "$DATA/err" >&2
        die "$v did not unpack the $p payload (its output above)"
    fi
    grep -q 'listening on' "$DATA/out" && die "$v bound 192.0.2.1: its time is not the unpack alone"
    echo $((t1 - t0))
}

measure_all() {
    local r i k v p ns n=${#VARIANTS[@]}
    log "warm-up: every variant once on each payload (untimed, checks each unpacks)"
    for p in plain gzip; do for v in "${VARIANTS[@]}"; do run_once "$v" "$p" >/dev/null; done; done
    for r in $(seq "$ROUNDS"); do
        log "round $r/$ROUNDS"
        for p in plain gzip; do
            for k in $(seq 0 $((n - 1))); do
                i=$(((k + r - 1) % n)) v=${VARIANTS[i]}
                ns=$(run_once "$v" "$p")
                echo "run round=$r payload=$p variant=$v ns=$ns" >> "$RAW"
            done
        done
    done
    rm -rf "$DATA/seed"
}

# --- Report ------------------------------------------------------------------------------------
median_ns() { # variant payload
    awk -v v="variant=$1" -v p="payload=$2" '$3 == p && $4 == v {sub("ns=", "", $5); print $5}' "$RAW" |
        sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'
}
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN {printf "%.1f", b * 1000 / ns}'; } # bytes ns
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

machine_facts() {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "source: $SOURCE_DESC"
    echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cpus"
    echo "sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
    echo "kernel: $(uname -r)"
    echo "loadavg before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "toolchain: $(rustc +"$NIGHTLY" -V)"
    echo "data dir: $DATA ($(stat -f -c %T "$DATA"))"
    echo "megabytes: $MEGABYTES, rounds: $ROUNDS"
    echo "layout: $OUTPUT_BYTES bytes of files, of which $TEXT_BYTES compressible text"
    local p b c s
    for p in plain gzip; do
        b=BYTES_$p c=CHUNKS_$p s=SUM_$p
        echo "payload $p: ${!b} bytes, ${!c} chunks, sha256 ${!s}"
    done
    for v in "${VARIANTS[@]}"; do
        echo "binary $v: $(stat -c %s "$BINS/$v") bytes, sha256 $(sha256sum "$BINS/$v" | cut -d' ' -f1)"
    done
}

table() {
    local v size p_ns g_ns size0 p0 g0
    size0=$(stat -c %s "$BINS/today") p0=$(median_ns today plain) g0=$(median_ns today gzip)
    echo "Payload: ${BYTES_plain} B plain tar, ${BYTES_gzip} B gzip -6 tar (${OUTPUT_BYTES} B of files)," \
         "median of $ROUNDS runs, MB = 10^6 B; ratios are to \`today\` (time ratio inverted: >1 is faster)."
    echo
    echo "| variant | stripped bytes | Δ bytes | × today | plain tar MB/s | × today | gzip MB/s in | gzip MB/s out | × today |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for v in "${VARIANTS[@]}"; do
        size=$(stat -c %s "$BINS/$v") p_ns=$(median_ns "$v" plain) g_ns=$(median_ns "$v" gzip)
        printf '| %s | %d | %+d | %s | %s | %s | %s | %s | %s |\n' "$v" "$size" $((size - size0)) \
            "$(awk -v a="$size" -v b="$size0" 'BEGIN {printf "%.4f", a / b}')" \
            "$(mbps "$BYTES_plain" "$p_ns")" "$(ratio "$p0" "$p_ns")" \
            "$(mbps "$BYTES_gzip" "$g_ns")" "$(mbps "$OUTPUT_BYTES" "$g_ns")" "$(ratio "$g0" "$g_ns")"
    done
    echo
    for v in "${VARIANTS[@]}"; do echo "- \`$v\`: $(describe "$v")"; done
}

# --- Main --------------------------------------------------------------------------------------
main() {
    local start=$SECONDS v results
    check_args; check_tools; check_toolchain; set_flags
    make_scratch
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    RAW=$BUILD/raw.txt; : > "$RAW"
    snapshot_sources
    log "sources: $SOURCE_DESC; builds in $BUILD, data in $DATA"
    for v in "${VARIANTS[@]}"; do build_variant "$v"; done
    for v in "${VARIANTS[@]:1}"; do
        cmp -s "$BINS/today" "$BINS/$v" && log "warning: $v is byte-identical to today"
    done
    rm -rf "$BUILD/target"  # GBs of build-std artifacts; not needed any more
    log "making the ${MEGABYTES} MB layout and payloads in $DATA"
    make_layout; make_payload plain; make_payload gzip; rm -rf "$DATA/layout"
    measure_all
    results=$REPO/bench/results/size_speed-$(date +%F).txt
    [ -e "$results" ] && results=$REPO/bench/results/size_speed-$(date +%F-%H%M%S).txt
    mkdir -p "$REPO/bench/results"
    { machine_facts; echo; cat "$RAW"; echo; table; } > "$results"
    table
    log "raw numbers in ${results#"$REPO"/}; done in $((SECONDS - start)) s"
}
main
