#!/usr/bin/env bash
# Real registry clients against a registry serving the client fixture (issue 3, "Done when"):
# skopeo (inspect, copy --all, list-tags), containerd's ctr (images pull, content fetch, images
# check), podman pull, and docker manifest inspect, all over plain HTTP on 127.0.0.1.
#
# Installs nothing. CI installs the clients first (Debian 12 packages; docker is the CLI only,
# already at /usr/local/bin/docker on these machines):
#
#   apt-get install -y --no-install-recommends skopeo podman containerd docker-registry jq curl python3
#
# Usage:
#   run.sh --reference     start the reference registry (Debian docker-registry, distribution 2.8)
#                          on a free port, push the fixture into it with skopeo, run the checks
#   run.sh --ours BIN      start `BIN serve <fixture layout> 127.0.0.1:0`, run the checks
#   run.sh ADDR            run the checks against a registry already serving the layout that
#                          `fixture.py` builds (it is deterministic), e.g. 127.0.0.1:5000
#
# Prints one PASS/FAIL line per check (a failing check is followed by the end of its client's
# output) and ends with exactly `N passed, M failed`; exits 1 if any check failed, 2 on bad usage.
# Everything lives in one temp dir under TMPDIR, except podman's runroots and containerd's state
# and sockets, which live in a short /tmp/zp.XXXXXX so that any TMPDIR works (podman refuses a
# runroot over 50 characters); both are removed on exit, and every process started here is stopped.
#
# Environment: KEEP=1 keeps the temp dir (logs, copies, client roots); CLIENT_TIMEOUT (seconds,
# default 60) bounds each client command; DOCKER is the docker CLI (default: docker on PATH, else
# /usr/local/bin/docker).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=daemons.sh
. "$HERE/daemons.sh"
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-60}
DOCKER=${DOCKER:-$(command -v docker || echo /usr/local/bin/docker)}

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

MODE= BIN= ADDR=
case "${1:-}" in
--reference) MODE=reference ;;
--ours) MODE=ours; BIN=${2:-}; [ -n "$BIN" ] || usage
    [ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable" >&2; exit 2; }
    BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;;
-h | --help | '') usage ;;
-*) usage ;;
*) MODE=address; ADDR=$1 ;;
esac

START=$(date +%s%N)
T=$(mktemp -d "${TMPDIR:-/tmp}/zi-clients.XXXXXX")
# Paths that must stay short whatever TMPDIR is (issue 13): podman refuses a runroot longer than
# 50 characters, and a unix socket path (containerd's) is limited to 107 bytes.
R=$(mktemp -d /tmp/zp.XXXXXX)
mkdir -p "$T/tmp" "$T/logs" "$T/copy" "$T/podman" "$R/podman" "$R/containerd"
SERVER_PID= SERVER_LOG= CTRD_PID=

cleanup() {
    [ -n "$CTRD_PID" ] && stop "$CTRD_PID"
    [ -n "$SERVER_PID" ] && stop "$SERVER_PID"
    remove_work_dir "$T" run.sh
    remove_work_dir "$R" run.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Checks: each runs in a subshell with its output in a log; the log's end is shown on failure.

PASSED=0 FAILED=0 N=0
check() { # name command...: runs the command under `set -e` in a subshell
    local name=$1 rc
    shift
    N=$((N + 1))
    ( set -e; "$@" ) >"$T/logs/$N.log" 2>&1
    rc=$?
    report "$name" "$rc"
}
step() { # name command...: runs the command in this shell (it starts processes, sets variables)
    local name=$1 rc
    shift
    N=$((N + 1))
    "$@" >"$T/logs/$N.log" 2>&1
    rc=$?
    report "$name" "$rc"
}
report() { # name rc
    if [ "$2" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        echo "PASS $1"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL $1"
        tail -n 25 "$T/logs/$N.log" | awk '{print "    | " $0}'
    fi
}
fail() { echo "$*" >&2; return 1; }
to() { timeout -k 5 "$CLIENT_TIMEOUT" "$@"; }
sha256_of() { sha256sum "$1" | awk '{print "sha256:" $1}'; }
need() { # tool...: fails the check when a client is missing
    local t missing=0
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "$t is not installed (see the apt line at the top of run.sh)" >&2; missing=1; }
    done
    return $missing
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------------
# Fixture and client configuration (private: nothing read from or written to the host's config)

python3 "$HERE/fixture.py" "$T/fixture" || { echo "run.sh: fixture.py failed" >&2; exit 1; }
LAYOUT=$T/fixture/layout
IMAGES=$T/fixture/images.tsv

export TMPDIR=$T/tmp
export CONTAINERS_REGISTRIES_CONF=$T/registries.conf REGISTRY_AUTH_FILE=$T/auth.json
export CONTAINERS_STORAGE_CONF=$T/storage.conf DOCKER_CONFIG=$T/docker
echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
echo '{}' >"$REGISTRY_AUTH_FILE"
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' \
    "$R/podman/default" "$T/podman/default/root" >"$CONTAINERS_STORAGE_CONF"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$T/policy.json"
mkdir -p "$DOCKER_CONFIG"
SKOPEO=(skopeo --policy "$T/policy.json")

# ---------------------------------------------------------------------------------------------
# The registry under test

start_reference() {
    need docker-registry curl || return 1
    local port i
    for _ in 1 2 3; do # a free port can be taken before the registry binds it: retry
        port=$(free_port)
        cat >"$T/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $T/registry
http:
  addr: 127.0.0.1:$port
EOF
        SERVER_LOG=$T/registry.log
        # distribution reads REGISTRY_* variables as configuration: REGISTRY_AUTH_FILE (exported
        # above for skopeo and podman) would become its `auth` section.
        env -u REGISTRY_AUTH_FILE docker-registry serve "$T/registry.yml" >"$SERVER_LOG" 2>&1 &
        SERVER_PID=$!
        for i in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
                ADDR=127.0.0.1:$port
                return 0
            fi
            sleep 0.1
        done
        stop "$SERVER_PID"
        SERVER_PID=
    done
    cat "$SERVER_LOG"
    fail "docker-registry did not start"
}

start_ours() {
    local i
    SERVER_LOG=$T/ours.log # stdout (the `listening on` line) and stderr (the access log)
    "$BIN" serve "$LAYOUT" 127.0.0.1:0 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 100); do
        ADDR=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$SERVER_LOG" | head -n 1)
        [ -n "$ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$SERVER_LOG"
    fail "$BIN serve printed no 'listening on ADDR' line within 10 s"
}

# A source skopeo can push one fixture entry from: skopeo 1.9's oci: transport only selects
# OCI-typed index.json entries, by `ref.name`, so OCI content gets a one-entry layout sharing the
# fixture's blobs, and Docker schema2 content a dir: copy (manifest.json + blobs by hex digest).
push_source() { # name digest mediatype closure -> prints the skopeo source
    local name=$1 digest=$2 mediatype=$3 closure=$4 dir=$T/push/$1 d
    mkdir -p "$dir"
    case $mediatype in
    application/vnd.docker.*)
        printf 'Directory Transport Version: 1.1\n' >"$dir/version"
        cp "$LAYOUT/blobs/sha256/${digest#sha256:}" "$dir/manifest.json"
        for d in ${closure//,/ }; do
            [ "$d" = "$digest" ] || ln -s "$LAYOUT/blobs/sha256/${d#sha256:}" "$dir/${d#sha256:}"
        done
        echo "dir:$dir" ;;
    *)
        ln -s "$LAYOUT/blobs" "$dir/blobs"
        cp "$LAYOUT/oci-layout" "$dir/oci-layout"
        jq -c --arg d "$digest" '{schemaVersion: 2, manifests: [first(.manifests[] | select(.digest == $d))
            | .annotations = {"org.opencontainers.image.ref.name": "push"}]}' \
            "$LAYOUT/index.json" >"$dir/index.json"
        echo "oci:$dir:push" ;;
    esac
}

push_one() { # kind repo tag digest mediatype config closure
    local dest src
    if [ "$3" = - ]; then dest=$2@$4; else dest=$2:$3; fi
    src=$(push_source "$N" "$4" "$5" "$7")
    to "${SKOPEO[@]}" copy --all --preserve-digests --dest-tls-verify=false "$src" "docker://$ADDR/$dest"
}

# ---------------------------------------------------------------------------------------------
# containerd: its own daemon, root, state and socket under $T; a fresh namespace per check, and
# content isolated per namespace so that every check fetches every blob from the registry.

CTRD=$T/containerd CTRD_SOCK=$R/containerd/containerd.sock
start_containerd() {
    need containerd ctr || return 1
    local i
    mkdir -p "$CTRD"
    write_containerd_config "$CTRD" "$R/containerd"
    containerd --config "$CTRD/config.toml" >"$CTRD/log" 2>&1 &
    CTRD_PID=$!
    for i in $(seq 100); do
        ctr -a "$CTRD_SOCK" version >/dev/null 2>&1 && return 0
        kill -0 "$CTRD_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$CTRD/log"
    fail "containerd did not start"
}
export CONTAINERD_SNAPSHOTTER=native
ctr_() { to ctr -a "$CTRD_SOCK" -n "zi$N" "$@"; }

has_all() { # file closure: every digest of the closure is a line of file
    local d missing=0
    for d in ${2//,/ }; do grep -qx "$d" "$1" || { echo "missing $d" >&2; missing=1; }; done
    return $missing
}

# ---------------------------------------------------------------------------------------------
# The checks, per fixture row: kind repo tag digest mediatype config closure

ref_of() { if [ "$3" = - ]; then echo "$2@$4"; else echo "$2:$3"; fi; }

skopeo_raw() { # the manifest bytes by tag or digest hash to the expected digest
    local ref got
    ref=$(ref_of "$@")
    to "${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$ADDR/$ref" >"$T/raw.$N"
    got=$(sha256_of "$T/raw.$N")
    [ "$got" = "$4" ] || fail "manifest of $ref hashes to $got, expected $4"
}

skopeo_inspect() {
    local ref
    ref=$(ref_of "$@")
    if [ "$1" = artifact ]; then
        # containers/image refuses image inspection of non-image artifacts ("unsupported
        # image-specific operation on artifact"): fetch the config blob instead.
        to "${SKOPEO[@]}" inspect --config --raw --tls-verify=false "docker://$ADDR/$ref" >"$T/cfg.$N"
        [ "$(cat "$T/cfg.$N")" = "{}" ] || fail "config of $ref is not {}"
        return
    fi
    to "${SKOPEO[@]}" inspect --tls-verify=false "docker://$ADDR/$ref" >"$T/inspect.$N"
    cat "$T/inspect.$N"
    jq -e --arg d "$4" '.Digest == $d and .Os == "linux" and .Architecture == "amd64"' \
        "$T/inspect.$N" >/dev/null || fail "skopeo inspect: wrong Digest/Os/Architecture"
}

skopeo_copy() { # copy --all verifies every digest; the copy's manifest digest must be the original
    local ref out=$T/copy/$N got d
    ref=$(ref_of "$@")
    to "${SKOPEO[@]}" copy --all --preserve-digests --src-tls-verify=false "docker://$ADDR/$ref" "oci:$out:copy"
    got=$(jq -r '.manifests[0].digest' "$out/index.json")
    [ "$got" = "$4" ] || fail "copied manifest is $got, expected $4"
    for d in ${7//,/ }; do
        [ "$(sha256_of "$out/blobs/sha256/${d#sha256:}")" = "$d" ] || fail "copy lacks $d"
    done
    rm -rf "$out"
}

ctr_pull() { # pull and unpack linux/amd64; check says complete and unpacked; index: all platforms
    local ref line
    ref=$(ref_of "$@")
    ctr_ images pull --plain-http "$ADDR/$ref"
    ctr_ images check | tee "$T/check.$N"
    line=$(awk -v r="$ADDR/$ref" '$1 == r' "$T/check.$N")
    [ "$(echo "$line" | awk '{print $3}')" = "$4" ] || fail "ctr: $ref is not $4"
    echo "$line" | grep -q ' complete (' || fail "ctr: $ref incomplete"
    [ "$(echo "$line" | awk '{print $NF}')" = true ] || fail "ctr: $ref not unpacked"
    if [ "$1" = index ]; then
        ctr_ content fetch --plain-http --all-platforms "$ADDR/$ref"
        ctr_ content ls -q >"$T/content.$N"
        has_all "$T/content.$N" "$7"
    fi
}

ctr_fetch() { # artifacts are not images: fetch all content instead of pulling
    local ref
    ref=$(ref_of "$@")
    ctr_ content fetch --plain-http --all-platforms "$ADDR/$ref"
    ctr_ content ls -q >"$T/content.$N"
    has_all "$T/content.$N" "$7"
}

podman_pull() { # [--arch A] row: private vfs root per check; image ID = config digest
    local arch=() ref root=$T/podman/$N run=$R/podman/$N got config
    if [ "$1" = --arch ]; then arch=(--arch "$2"); shift 2; fi
    ref=$(ref_of "$@")
    config=$6
    if [ ${#arch[@]} -gt 0 ]; then # the config of that platform's manifest in the fixture
        config=$(jq -r --arg a "${arch[1]}" '.manifests[] | select(.platform.architecture == $a) | .digest' \
            "$LAYOUT/blobs/sha256/${4#sha256:}")
        config=$(jq -r .config.digest "$LAYOUT/blobs/sha256/${config#sha256:}")
    fi
    local p=(podman --root "$root/root" --runroot "$run" --storage-driver vfs
        --events-backend file --cgroup-manager cgroupfs)
    to "${p[@]}" pull "${arch[@]}" --signature-policy "$T/policy.json" --tls-verify=false "$ADDR/$ref"
    got=$(to "${p[@]}" image inspect --format '{{.Digest}} sha256:{{.Id}}' "$ADDR/$ref")
    rm -rf "$root" "$run"
    [ "$got" = "$4 $config" ] || fail "podman: got '$got', expected '$4 $config'"
}

docker_inspect() { # -v gives each manifest's raw bytes (base64) and descriptor
    local ref want
    ref=$(ref_of "$@")
    [ -x "$DOCKER" ] || fail "no docker CLI at $DOCKER"
    to "$DOCKER" manifest inspect --insecure -v "$ADDR/$ref" >"$T/docker.$N"
    jq -c '[.] | flatten | .[] | {Ref, Descriptor}' "$T/docker.$N"
    if [ "$1" = index ]; then
        want=$(jq -c '[.manifests[].digest] | sort' "$LAYOUT/blobs/sha256/${4#sha256:}")
    else
        want="[\"$4\"]"
    fi
    jq -e --argjson want "$want" '[.] | flatten | map(.Descriptor.digest) | sort == $want' \
        "$T/docker.$N" >/dev/null || fail "docker: descriptors are not $want"
    jq -r '[.] | flatten | .[] | .Descriptor.digest + " " + .Raw' "$T/docker.$N" |
        while read -r d raw; do
            [ "$(echo "$raw" | base64 -d | sha256sum | awk '{print "sha256:" $1}')" = "$d" ] ||
                fail "docker: raw manifest of $d does not hash to it"
        done
}

list_tags() { # repo tags...
    local repo=$1 want
    shift
    want=$(printf '%s\n' "$@" | jq -R . | jq -cs 'sort')
    to "${SKOPEO[@]}" list-tags --tls-verify=false "docker://$ADDR/$repo" >"$T/tags.$N"
    cat "$T/tags.$N"
    jq -e --argjson want "$want" '.Tags | sort == $want' "$T/tags.$N" >/dev/null ||
        fail "tags of $repo are not $want"
}

# ---------------------------------------------------------------------------------------------

ROWS=()
while IFS= read -r line; do
    case $line in '#'* | '') continue ;; esac
    ROWS+=("$line")
done <"$IMAGES"

check "clients installed" need skopeo podman containerd ctr jq curl python3 "$DOCKER"
case $MODE in
reference) step "start docker-registry (distribution 2.8)" start_reference ;;
ours) step "start $BIN serve" start_ours ;;
esac
if [ -z "$ADDR" ]; then
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
echo "registry at $ADDR"

if [ "$MODE" = reference ]; then
    for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        check "push $(ref_of "${f[@]}")" push_one "${f[@]}"
    done
fi

step "start containerd" start_containerd
CTRD_OK=$([ -n "$CTRD_PID" ] && echo 1)

for row in "${ROWS[@]}"; do
    IFS=$'\t' read -r -a f <<<"$row"
    ref=$(ref_of "${f[@]}")
    kind=${f[0]}
    check "skopeo inspect --raw $ref ($kind)" skopeo_raw "${f[@]}"
    check "skopeo inspect $ref" skopeo_inspect "${f[@]}"
    check "skopeo copy --all $ref" skopeo_copy "${f[@]}"
    if [ -n "$CTRD_OK" ]; then
        if [ "$kind" = artifact ]; then
            check "ctr content fetch $ref" ctr_fetch "${f[@]}"
        else
            check "ctr images pull $ref" ctr_pull "${f[@]}"
        fi
    fi
    [ "$kind" = artifact ] || check "podman pull $ref" podman_pull "${f[@]}"
    [ "$kind" = index ] && check "podman pull --arch arm64 $ref" podman_pull --arch arm64 "${f[@]}"
    check "docker manifest inspect $ref" docker_inspect "${f[@]}"
done

for repo in $(for row in "${ROWS[@]}"; do echo "$row" | cut -f2; done | sort -u); do
    mapfile -t tags < <(for row in "${ROWS[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        [ "${f[1]}" = "$repo" ] && [ "${f[2]}" != - ] && echo "${f[2]}"
    done | sort -u)
    check "skopeo list-tags $repo" list_tags "$repo" "${tags[@]}"
done

if [ "$FAILED" -gt 0 ] && [ -n "$SERVER_LOG" ]; then
    echo "--- end of the registry's log ($SERVER_LOG)"
    tail -n 30 "$SERVER_LOG" | awk '{print "    | " $0}'
fi
ms=$((($(date +%s%N) - START) / 1000000))
printf 'took %d.%03d s\n' $((ms / 1000)) $((ms % 1000))
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
