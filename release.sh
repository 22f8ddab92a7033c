#!/usr/bin/env bash
# Builds the release binaries of zarf-injector (see issue 4 and docs/SIZE.md):
#
#   dist/zarf-injector-amd64   nightly, x86_64-unknown-linux-musl, std rebuilt (-Z build-std)
#   dist/zarf-injector-arm64   nightly, aarch64-unknown-linux-musl, the same
#   target/x86_64-unknown-linux-musl/release/zarf-injector
#                              stable: what a user without nightly gets
#
# All three are static, stripped musl executables; the script checks that and prints each size
# in bytes. It installs the rustup targets and components it needs (only when missing, so a
# second run is a no-op build of a few seconds) and stops with one clear line if a tool is
# missing. It ignores RUSTFLAGS from the environment. The stable build is exactly
# `cargo build --release --target x86_64-unknown-linux-musl --bin zarf-injector`, with the flags
# of .cargo/config.toml; the nightly builds replace those flags with the ones below.
#
# The nightly is pinned (PINNED_NIGHTLY), so that a release is the same bytes on any machine:
# the toolchain of that date is installed if missing, unless the toolchain called "nightly" is
# that very compiler (the same rustc commit), which is then used as it is.
#
# Environment: NIGHTLY (toolchain, default: the pinned one), STABLE (default "stable"),
# CARGO_TARGET_DIR (default "target"; the nightly builds go to its "nightly" subdirectory so
# that they never clobber the stable ones).
set -euo pipefail
cd "$(dirname "$0")"

# rustc 1.97.0-nightly (e50aa6fba 2026-05-19), published as nightly-2026-05-20.
PINNED_NIGHTLY=nightly-2026-05-20
PINNED_COMMIT=e50aa6fba4e63ab34c72bf9acfd2c307c1155d1a
STABLE=${STABLE:-stable}
BIN=zarf-injector
TARGET_DIR=${CARGO_TARGET_DIR:-target}
NIGHTLY_DIR=$TARGET_DIR/nightly
X86=x86_64-unknown-linux-musl
ARM=aarch64-unknown-linux-musl
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

die() { echo "release.sh: $*" >&2; exit 1; }
start=$SECONDS

# --- Tools -------------------------------------------------------------------------------------
for tool in rustup cargo readelf; do
    command -v "$tool" >/dev/null || case $tool in
        readelf) die "readelf not found: install binutils (apt-get install -y binutils)" ;;
        *) die "$tool not found: install Rust with rustup (https://rustup.rs)" ;;
    esac
done
command -v cc >/dev/null || die "cc not found: build scripts and the stable musl build link with cc (apt-get install -y gcc)"

have_toolchain() { rustup run "$1" rustc -V >/dev/null 2>&1; }
if [ -z "${NIGHTLY:-}" ]; then
    NIGHTLY=$PINNED_NIGHTLY
    if ! have_toolchain "$NIGHTLY" && have_toolchain nightly &&
        rustc +nightly -vV | grep -qx "commit-hash: $PINNED_COMMIT"; then
        NIGHTLY=nightly
    fi
fi
for tc in "$STABLE" "$NIGHTLY"; do
    if ! have_toolchain "$tc"; then
        echo "release.sh: installing toolchain $tc" >&2
        rustup toolchain install "$tc" --profile minimal >&2 || die "cannot install toolchain $tc"
    fi
done

# Targets and components, added only when missing (rustup's own check is slower).
need_target() { # toolchain target
    rustup +"$1" target list --installed | grep -qx "$2" && return
    echo "release.sh: adding target $2 to $1" >&2
    rustup +"$1" target add "$2" >&2 || die "cannot add target $2 to toolchain $1 (rustup +$1 target add $2)"
}
need_component() { # toolchain component
    rustup +"$1" component list --installed | grep -q "^$2" && return
    echo "release.sh: adding component $2 to $1" >&2
    rustup +"$1" component add "$2" >&2 || die "cannot add component $2 to toolchain $1 (rustup +$1 component add $2)"
}
need_target "$STABLE" "$X86"    # the stable build
need_target "$STABLE" "$ARM"    # its musl start files and libc.a link the nightly arm64 build
need_component "$NIGHTLY" rust-src

nightly_sysroot=$(rustc +"$NIGHTLY" --print sysroot)
stable_sysroot=$(rustc +"$STABLE" --print sysroot)
host=$(rustc +"$NIGHTLY" -vV | sed -n 's/^host: //p')
LLD=$nightly_sysroot/lib/rustlib/$host/bin/rust-lld
[ -x "$LLD" ] || die "rust-lld not found at $LLD (it ships with the $NIGHTLY toolchain's rustc component)"

# build-std needs none of a target's prebuilt rlibs, only its musl start files (crt1.o, crti.o,
# ...) and libc.a. The nightly musl targets may not be installable (the nightly aarch64 one was
# not, here), and the stable toolchain's copies are the same musl: use whichever is present.
musl_objects() { # target
    local dir
    for dir in "$nightly_sysroot/lib/rustlib/$1/lib/self-contained" \
               "$stable_sysroot/lib/rustlib/$1/lib/self-contained"; do
        if [ -f "$dir/crt1.o" ] && [ -f "$dir/libc.a" ]; then echo "$dir"; return; fi
    done
    die "no $1 musl objects (crt1.o, libc.a) in $NIGHTLY or $STABLE: rustup +$STABLE target add $1"
}
X86_OBJS=$(musl_objects "$X86")
ARM_OBJS=$(musl_objects "$ARM")

# --- Flags -------------------------------------------------------------------------------------
# Bytes each one saves on the nightly binaries (x86_64 / aarch64), measured at commit 1525d7e by
# building without it, once each: see docs/SIZE.md.
NIGHTLY_FLAGS=(
    # panics abort at once, no message: the panic strategy that replaced
    # build-std-features=panic_immediate_abort (vs -Cpanic=abort: -80,784 / -72,968)
    -Zunstable-options -Cpanic=immediate-abort
    -Crelocation-model=static   # non-PIE, no self-relocation at start-up (-5,984 / +288)
    -Cforce-unwind-tables=no    # (-25,216 / -23,832)
    -Zlocation-detail=none      # (0 / 0: immediate-abort keeps no panic locations anyway)
    -Zfmt-debug=none            # `{:?}` prints nothing: never rely on it at run time (-1,184 / -1,184)
    '--cfg=sha2_backend_soft="compact"' # as in .cargo/config.toml: keep the two in step
    # rust-lld needs no cross gcc and, unlike GNU ld, does not pad segments to pages in the file
    # (x86_64: -3,136 vs cc + GNU ld with -z noseparate-code, which lld does by default)
    "-Clinker=$LLD" -Clinker-flavor=ld.lld -Clink-self-contained=yes
    # identical functions (drop glue and `Vec::push` of same-layout types, musl's dummies)
    # linked once; nothing here compares function addresses (-256 / -200)
    -Clink-arg=--icf=all
)
# Replaces the default std features (panic-unwind, backtrace): (-4,064 / -3,696), faster build.
BUILD_STD=(-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size)
X86_FLAGS=("${NIGHTLY_FLAGS[@]}" "-Lnative=$X86_OBJS")
ARM_FLAGS=("${NIGHTLY_FLAGS[@]}" "-Lnative=$ARM_OBJS")
encode() { local IFS=$'\x1f'; printf '%s' "$*"; } # CARGO_ENCODED_RUSTFLAGS: paths may hold spaces

# --- Build -------------------------------------------------------------------------------------
# The stable build is the plain command a user types. The nightly ones leave out the `pack`
# feature: injector-pack's host-side crates never reach the injector, but they would switch on
# features of shared dependencies (libc's `std`, +96/+144 bytes) and cost build time.
echo "release.sh: stable $X86" >&2
cargo +"$STABLE" build --release --target "$X86" --bin "$BIN" --target-dir "$TARGET_DIR"
echo "release.sh: nightly $X86" >&2
CARGO_ENCODED_RUSTFLAGS=$(encode "${X86_FLAGS[@]}") \
    cargo +"$NIGHTLY" build --release --target "$X86" --bin "$BIN" --target-dir "$NIGHTLY_DIR" \
    --no-default-features "${BUILD_STD[@]}"
echo "release.sh: nightly $ARM" >&2
CARGO_ENCODED_RUSTFLAGS=$(encode "${ARM_FLAGS[@]}") \
    cargo +"$NIGHTLY" build --release --target "$ARM" --bin "$BIN" --target-dir "$NIGHTLY_DIR" \
    --no-default-features "${BUILD_STD[@]}"

# The section header table, `.shstrtab` and `.comment` (rustc's and lld's version strings) sit
# after the last loaded segment; nothing loads or runs them (the kernel reads program headers
# only), so the copy in dist/ ends where the last segment ends (-1,328 / -1,256 bytes).
strip_section_headers() { # built-binary destination
    local src=$1 dst=$2 phoff phentsize phnum end=0 i at type offset filesz
    field() { od -An -t "u$2" -j "$1" -N "$2" "$src" | tr -d ' '; } # offset width
    phoff=$(field 32 8) phentsize=$(field 54 2) phnum=$(field 56 2)
    for ((i = 0; i < phnum; i++)); do
        at=$((phoff + i * phentsize))
        type=$(field "$at" 4) offset=$(field $((at + 8)) 8) filesz=$(field $((at + 32)) 8)
        [ "$type" = 1 ] && [ $((offset + filesz)) -gt "$end" ] && end=$((offset + filesz))
    done
    [ "$end" -gt 0 ] || die "$src: no loadable segment"
    head -c "$end" "$src" >"$dst.tmp"
    # e_shoff (8 bytes at 40), then e_shnum and e_shstrndx (2 bytes each at 60 and 62): zero
    printf '\0\0\0\0\0\0\0\0' | dd of="$dst.tmp" bs=1 seek=40 conv=notrunc status=none
    printf '\0\0\0\0' | dd of="$dst.tmp" bs=1 seek=60 conv=notrunc status=none
    chmod 0755 "$dst.tmp"
    mv "$dst.tmp" "$dst"
}
mkdir -p dist
strip_section_headers "$NIGHTLY_DIR/$X86/release/$BIN" dist/zarf-injector-amd64
strip_section_headers "$NIGHTLY_DIR/$ARM/release/$BIN" dist/zarf-injector-arm64
STABLE_BIN=$TARGET_DIR/$X86/release/$BIN

# --- Checks ------------------------------------------------------------------------------------
check() { # file machine ("X86-64" or "AArch64") label
    local file=$1 machine=$2 label=$3 header program dynamic sections
    [ -f "$file" ] || die "$file was not built"
    header=$(readelf -h "$file") program=$(readelf -lW "$file") dynamic=$(readelf -dW "$file")
    sections=$(readelf -SW "$file")
    grep -q "Machine:.*$machine" <<<"$header" || die "$file is not an $machine executable"
    grep -q 'INTERP' <<<"$program" && die "$file is dynamically linked (it has an ELF interpreter)"
    grep -q '(NEEDED)' <<<"$dynamic" && die "$file needs shared libraries"
    grep -q '\.symtab' <<<"$sections" && die "$file is not stripped"
    printf '%8d bytes  %-30s %s\n' "$(stat -c %s "$file")" "$label" "$file"
}
check dist/zarf-injector-amd64 X86-64 "nightly x86_64 musl, static"
check dist/zarf-injector-arm64 AArch64 "nightly aarch64 musl, static"
check "$STABLE_BIN" X86-64 "stable x86_64 musl, static"

# A binary that links but cannot start (wrong start files, bad relocations) fails here.
run_version() { # label command...
    local label=$1 out; shift
    out=$("$@" --version 2>&1) || die "$label does not run: $* --version: $out"
    case $out in "zarf-injector "*) ;; *) die "$label --version printed: $out" ;; esac
}
if [ "$(uname -m)" = x86_64 ]; then
    run_version amd64 dist/zarf-injector-amd64
    run_version stable "$STABLE_BIN"
fi
if [ "$(uname -m)" = aarch64 ]; then
    run_version arm64 dist/zarf-injector-arm64
elif command -v qemu-aarch64-static >/dev/null; then
    run_version arm64 qemu-aarch64-static dist/zarf-injector-arm64
else
    echo "release.sh: qemu-aarch64-static not found, arm64 not run (apt-get install -y qemu-user-static)" >&2
fi
echo "release.sh: done in $((SECONDS - start)) s" >&2
