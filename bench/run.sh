#!/usr/bin/env bash
# The benchmark of docs/BENCHMARKS.md: zarf-injector against nginx (sendfile, the same blob
# files) and the reference registry (Debian docker-registry, distribution 2.8, the same image
# pushed with skopeo), side by side in one run, alternating the systems round by round.
#
#   bench/run.sh               full run, ~10 min on 2 cores (ROUNDS=3, DURATION=3)
#   QUICK=1 bench/run.sh       ~2 min (one round, short cells): for trying the harness
#
# It measures:
#   start-up  exec -> first 200 on GET /v2/ for a ~25 MB and a ~200 MB seed payload
#             (786432-byte chunks), peak RSS during unpack; `cat chunks | tar xzf` for scale
#   serving   requests/s, body MB/s, p50/p99 latency at 1, 8 and 64 connections for manifest GET
#             and HEAD, each by tag and by digest, GET of the ~20 MB blob, Range GETs of 1 MiB
#             slices; the server's peak RSS during each cell
#   idle      IDLE_CONNS (10,000) keep-alive connections opened to a fresh server, each after one
#             `GET /v2/`, and held: the server's RSS while it holds them, and whether a new client
#             still gets 200 (zarf-injector, and nginx with worker_connections raised)
#   pull      wall time of `skopeo copy` and of containerd's `ctr images pull` of the seed image
#
# Every server runs on CPU 1 (taskset), every client on CPU 0; all listen on 127.0.0.1 on free
# ports and are stopped on exit. Results, the Markdown report and the charts go to
# bench/out/<UTC date-time>/ (report.md, serving.png, startup.png, *.jsonl).
#
# Environment: QUICK=1; ROUNDS (3), DURATION (seconds per serving cell, 3), SMALL_MB (25),
# BIG_MB (200), IDLE_CONNS (10000), SERVER_CPU (1), CLIENT_CPU (0), OUT (the output directory), KEEP=1 (keep the
# work directory), NO_INSTALL=1 (never call apt-get), INJECTOR (a zarf-injector binary to use
# instead of building the stable release build), NAME_OURS/NAME_DIST (their labels in the report;
# with both binaries given, report.md compares dist with ours cell by cell).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=../tests/clients/daemons.sh
. "$REPO/tests/clients/daemons.sh"
START=$SECONDS

if [ -n "${QUICK:-}" ]; then
    ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-0.7} STARTUP_ROUNDS=${STARTUP_ROUNDS:-1}
else
    ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-3} STARTUP_ROUNDS=${STARTUP_ROUNDS:-5}
fi
SMALL_MB=${SMALL_MB:-25} BIG_MB=${BIG_MB:-200} IDLE_CONNS=${IDLE_CONNS:-10000}
SCPU=${SERVER_CPU:-1} CCPU=${CLIENT_CPU:-0}
CONNS=(1 8 64)
OUT=${OUT:-$REPO/bench/out/$(date -u +%Y%m%d-%H%M%S)}
log() { printf '[%4ds] %s\n' $((SECONDS - START)) "$*" >&2; }
die() { echo "bench/run.sh: $*" >&2; exit 1; }

# --- Peers and tools, from Debian packages --------------------------------------------------------
missing=()
for pair in nginx:nginx docker-registry:docker-registry wrk:wrk skopeo:skopeo gnuplot:gnuplot-nox \
    /usr/bin/time:time containerd:containerd ctr:containerd curl:curl taskset:util-linux strace:strace \
    prlimit:util-linux \
    python3:python3 cargo:cargo; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ -z "${NO_INSTALL:-}" ] || die "missing: ${missing[*]}"
    [[ " ${missing[*]} " == *" cargo "* ]] && die "cargo not found: install Rust (rustup)"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server and client pinned apart)"

# --- Binaries -----------------------------------------------------------------------------------
if [ -n "${INJECTOR:-}" ]; then
    OURS=$INJECTOR
else
    log "building zarf-injector (stable release build, x86_64 musl)"
    if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
        rustup target add x86_64-unknown-linux-musl
    fi
    cargo build --release --quiet --target x86_64-unknown-linux-musl --bin zarf-injector
    OURS=$REPO/target/x86_64-unknown-linux-musl/release/zarf-injector
fi
log "building bench/loadgen"
cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
LOADGEN=$REPO/bench/loadgen/target/release/bench-loadgen
SYSTEMS=(ours)
declare -A BIN=([ours]=$OURS)
DIST=${DIST:-$REPO/dist/zarf-injector-amd64}
if [ -x "$DIST" ]; then # ./release.sh's nightly build-std binary
    SYSTEMS+=(dist)
    BIN[dist]=$(realpath "$DIST")
fi
SYSTEMS+=(nginx registry)

# --- Work directory, servers, cleanup ----------------------------------------------------------
W=$(mktemp -d /tmp/zarf-bench.XXXXXX)
mkdir -p "$OUT" "$W/tmp"
declare -A PID=() ADDR=()
CTRD_PID=
cleanup() {
    local s
    for s in "${!PID[@]}"; do stop "${PID[$s]}"; done
    [ -n "$CTRD_PID" ] && stop "$CTRD_PID"
    remove_work_dir "$W" bench/run.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_200() { # addr pid: until GET /v2/ answers 200 (10 s)
    for _ in $(seq 200); do
        curl -fsS -o /dev/null "http://$1/v2/" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Private client configuration: nothing read from or written to the host's.
export TMPDIR=$W/tmp CONTAINERS_REGISTRIES_CONF=$W/registries.conf REGISTRY_AUTH_FILE=$W/auth.json
export DOCKER_CONFIG=$W/docker CONTAINERS_STORAGE_CONF=$W/storage.conf
echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
echo '{}' >"$REGISTRY_AUTH_FILE"
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$W/c/run" "$W/c/root" >"$CONTAINERS_STORAGE_CONF"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$W/policy.json"
SKOPEO=(skopeo --policy "$W/policy.json")

# --- Seed images ---------------------------------------------------------------------------------
log "building the seed payloads (${SMALL_MB} MB and ${BIG_MB} MB)"
python3 bench/make_seed.py "$W/small" "$SMALL_MB"
python3 bench/make_seed.py "$W/big" "$BIG_MB"
info() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/$1/info.json" "$2"; }
LAYOUT=$W/small/layout
MANIFEST=$(info small manifest)
BLOB=$(info small blob)
BLOB_SIZE=$(info small blob_size)

nginx_conf() { # dir port root [worker_connections]: nginx serving the layout under `root` as library/bench
    local dir=$1 port=$2 root=$3 m=${MANIFEST#sha256:} wc=${4:-1024}
    mkdir -p "$dir/tmp" "$dir/logs"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $((wc + 64));
daemon off;
user root;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections $wc; }
http {
    access_log $dir/logs/access.log;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types { }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        location = /v2/ {
            add_header Docker-Distribution-API-Version registry/2.0;
            default_type application/json;
            return 200 '{}';
        }
        location = /v2/library/bench/manifests/seed {
            alias $root/blobs/sha256/$m;
            default_type application/vnd.oci.image.manifest.v1+json;
            add_header Docker-Content-Digest $MANIFEST;
        }
        location = /v2/library/bench/manifests/$MANIFEST {
            alias $root/blobs/sha256/$m;
            default_type application/vnd.oci.image.manifest.v1+json;
            add_header Docker-Content-Digest $MANIFEST;
        }
        location ~ "^/v2/library/bench/blobs/sha256:([0-9a-f]{64})\$" {
            alias $root/blobs/sha256/\$1;
            add_header Docker-Content-Digest sha256:\$1;
        }
    }
}
EOF
}
registry_conf() { # file port root
    cat >"$1" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $3
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$2
EOF
}

start_server() { # system: starts it pinned to SCPU, sets PID and ADDR
    local s=$1 port i
    case $s in
    ours | dist)
        taskset -c "$SCPU" "${BIN[$s]}" serve "$LAYOUT" 127.0.0.1:0 >"$W/$s.log" 2>&1 &
        PID[$s]=$!
        for i in $(seq 100); do
            ADDR[$s]=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$W/$s.log" | head -n 1)
            [ -n "${ADDR[$s]}" ] && break
            sleep 0.05
        done ;;
    nginx)
        port=$(free_port)
        nginx_conf "$W/nginx" "$port" "$LAYOUT"
        taskset -c "$SCPU" nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log" \
            >"$W/nginx.log" 2>&1 &
        PID[$s]=$!
        ADDR[$s]=127.0.0.1:$port ;;
    registry)
        port=$(free_port)
        registry_conf "$W/registry.yml" "$port" "$W/registry"
        # distribution reads REGISTRY_* variables as configuration (REGISTRY_AUTH_FILE is skopeo's)
        env -u REGISTRY_AUTH_FILE taskset -c "$SCPU" docker-registry serve "$W/registry.yml" \
            >"$W/registry.log" 2>&1 &
        PID[$s]=$!
        ADDR[$s]=127.0.0.1:$port ;;
    esac
    wait_200 "${ADDR[$s]}" "${PID[$s]}" || { tail -n 20 "$W/$s.log" >&2; die "$s did not start"; }
}
server_pids() { # system: the server's process ids, comma-separated (nginx: master and worker)
    local p=${PID[$1]}
    if [ "$1" = nginx ]; then echo "$p,$(pgrep -P "$p" | paste -sd,)"; else echo "$p"; fi
}

# --- Machine -----------------------------------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
    echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r); $(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'); docker-registry: $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null)"
    echo "skopeo: $(skopeo --version | awk '{print $3}'); containerd: $(containerd --version | awk '{print $3}')"
    echo "zarf-injector: $(stat -c %s "$OURS") bytes (stable release build)$([ -n "${BIN[dist]:-}" ] && echo "; dist: $(stat -c %s "${BIN[dist]}") bytes (nightly build-std)")"
    echo "settings: ROUNDS=$ROUNDS DURATION=$DURATION STARTUP_ROUNDS=$STARTUP_ROUNDS SERVER_CPU=$SCPU CLIENT_CPU=$CCPU IDLE_CONNS=$IDLE_CONNS"
    echo "descriptors: soft $(ulimit -Sn), hard $(ulimit -Hn) (servers under the idle test: $((IDLE_CONNS + 10000)))"
    for size in small big; do
        echo "seed $size: $(info $size payload_bytes) bytes in $(info $size chunks) chunks"
    done
    echo "blob: $BLOB_SIZE bytes ($BLOB)"
} >"$OUT/machine.txt"

# --- Start-up ------------------------------------------------------------------------------------
# The reference registry cannot take a payload: its storage is filled by a push first (timed as
# "push"), and its start-up is measured on that storage. nginx is measured as "tar xzf, then
# nginx" (what a shell-script injector would do) and alone on the unpacked files.
log "pushing the seed images into the reference registry"
start_server registry
for size in small big; do
    mkdir -p "$W/push-$size"
    ln -s "$W/$size/layout/blobs" "$W/push-$size/blobs"
    cp "$W/$size/layout/oci-layout" "$W/push-$size/"
    sed 's/docker.io\/library\/bench:seed/push/' "$W/$size/layout/index.json" >"$W/push-$size/index.json"
    t0=$(date +%s%N)
    taskset -c "$CCPU" "${SKOPEO[@]}" copy -q --preserve-digests --dest-tls-verify=false \
        "oci:$W/push-$size:push" "docker://${ADDR[registry]}/library/bench-$size:seed" >/dev/null
    echo "{\"size\":\"$size\",\"seconds\":$(( ($(date +%s%N) - t0) / 1000000 ))e-3}" >>"$OUT/push.jsonl"
done
taskset -c "$CCPU" "${SKOPEO[@]}" copy -q --preserve-digests --dest-tls-verify=false \
    "oci:$W/push-small:push" "docker://${ADDR[registry]}/library/bench:seed" >/dev/null
stop "${PID[registry]}"
unset 'PID[registry]'

startup_one() { # round size system
    local round=$1 size=$2 s=$3 port seed=$W/seed init=$W/$2/init result=
    port=$(free_port)
    rm -rf "$seed" "$W/tar"
    mkdir -p "$seed" "$W/tar"
    sync
    case $s in
    ours | dist)
        result=$(env ZARF_INJECTOR_INIT_ROOT="$init" ZARF_INJECTOR_SEED_ROOT="$seed" \
            taskset -c "$CCPU" python3 bench/startup.py "$port" \
            taskset -c "$SCPU" "${BIN[$s]}" "$(info "$size" sha256)" "127.0.0.1:$port") || true ;;
    serve) # `zarf-injector serve` on the layout already unpacked
        result=$(taskset -c "$CCPU" python3 bench/startup.py "$port" \
            taskset -c "$SCPU" "$OURS" serve "$W/$size/layout" "127.0.0.1:$port") || true ;;
    tar)
        /usr/bin/time -f '%e %M' -o "$W/time" taskset -c "$SCPU" \
            sh -c "cat '$init'/zarf-payload-* | tar -C '$W/tar' -xzf -"  || true
        result=$(awk '{printf "{\"seconds\":%s,\"hwm_kib\":%s}", $1, $2}' "$W/time") ;;
    tar+nginx)
        nginx_conf "$W/nginx-$size" "$port" "$W/tar"
        result=$(taskset -c "$CCPU" python3 bench/startup.py "$port" taskset -c "$SCPU" sh -c \
            "cat '$init'/zarf-payload-* | tar -C '$W/tar' -xzf - && exec nginx -p '$W/nginx-$size' -c '$W/nginx-$size/nginx.conf' -e '$W/nginx-$size/logs/error.log'") || true ;;
    nginx) # alone, on files unpacked beforehand (untimed)
        cat "$init"/zarf-payload-* | tar -C "$W/tar" -xzf -
        sync
        nginx_conf "$W/nginx-$size" "$port" "$W/tar"
        result=$(taskset -c "$CCPU" python3 bench/startup.py "$port" taskset -c "$SCPU" \
            nginx -p "$W/nginx-$size" -c "$W/nginx-$size/nginx.conf" -e "$W/nginx-$size/logs/error.log") || true ;;
    registry)
        registry_conf "$W/registry-start.yml" "$port" "$W/registry"
        result=$(env -u REGISTRY_AUTH_FILE taskset -c "$CCPU" python3 bench/startup.py "$port" \
            taskset -c "$SCPU" docker-registry serve "$W/registry-start.yml") || true ;;
    esac
    [ -n "$result" ] || result='{"error":"no result"}'
    case $result in *error*) log "  $s failed: $result" ;; esac
    echo "{\"round\":$round,\"size\":\"$size\",\"system\":\"$s\",\"r\":$result}" >>"$OUT/startup.jsonl"
}
STARTUP_SYSTEMS=(ours)
[ -n "${BIN[dist]:-}" ] && STARTUP_SYSTEMS+=(dist)
STARTUP_SYSTEMS+=(tar tar+nginx serve nginx registry)
for round in $(seq "$STARTUP_ROUNDS"); do
    for size in small big; do
        log "start-up: round $round/$STARTUP_ROUNDS, $size seed"
        n=${#STARTUP_SYSTEMS[@]}
        for i in $(seq 0 $((n - 1))); do # rotate the order each round
            startup_one "$round" "$size" "${STARTUP_SYSTEMS[$(((i + round) % n))]}"
        done
    done
done
rm -rf "$W/seed" "$W/tar"

# --- Serving -------------------------------------------------------------------------------------
for s in "${SYSTEMS[@]}"; do start_server "$s"; done
log "servers: $(for s in "${SYSTEMS[@]}"; do printf '%s=%s ' "$s" "${ADDR[$s]}"; done)"
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, */*'
SCENARIOS=(head-tag get-tag get-digest head-digest blob range)
cell() { # round scenario conns system
    local round=$1 sc=$2 c=$3 s=$4 url=http://${ADDR[$4]}/v2/library/bench result
    local args=(--conns "$c" --duration "$DURATION" --pids "$(server_pids "$s")")
    case $sc in
    head-tag) args+=(--url "$url/manifests/seed" --method HEAD -H "$ACCEPT") ;;
    get-tag) args+=(--url "$url/manifests/seed" -H "$ACCEPT") ;;
    get-digest) args+=(--url "$url/manifests/$MANIFEST" -H "$ACCEPT") ;;
    head-digest) args+=(--url "$url/manifests/$MANIFEST" --method HEAD -H "$ACCEPT") ;;
    blob) args+=(--url "$url/blobs/$BLOB") ;;
    range) args+=(--url "$url/blobs/$BLOB" --range-size 1048576 --range-total "$BLOB_SIZE" --expect 206) ;;
    esac
    result=$(taskset -c "$CCPU" "$LOADGEN" "${args[@]}") || log "  $s $sc c=$c: errors: $result"
    echo "{\"round\":$round,\"scenario\":\"$sc\",\"conns\":$c,\"system\":\"$s\",\"r\":$result}" >>"$OUT/serve.jsonl"
}
k=0
for round in $(seq "$ROUNDS"); do
    for sc in "${SCENARIOS[@]}"; do
        log "serving: round $round/$ROUNDS, $sc"
        for c in "${CONNS[@]}"; do
            n=${#SYSTEMS[@]}
            for i in $(seq 0 $((n - 1))); do
                cell "$round" "$sc" "$c" "${SYSTEMS[$(((i + k) % n))]}"
            done
            k=$((k + 1))
        done
    done
done

# A cross-check with wrk (GET only: wrk 4.1 cannot do HEAD): one cell per system.
log "wrk cross-check"
for sc in get-digest blob; do
    for s in "${SYSTEMS[@]}"; do
        url=http://${ADDR[$s]}/v2/library/bench
        if [ "$sc" = get-digest ]; then url=$url/manifests/$MANIFEST; else url=$url/blobs/$BLOB; fi
        taskset -c "$CCPU" wrk -t1 -c8 -d"$(awk -v d="$DURATION" 'BEGIN {d = int(d + 0.5); print (d < 1 ? 1 : d)}')s" --latency -H "$ACCEPT" "$url" >"$W/wrk.txt" 2>&1 || true
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$W/wrk.txt")
        p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
        p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
        non2xx=$(awk '/Non-2xx/ {print $NF}' "$W/wrk.txt")
        echo "{\"scenario\":\"$sc\",\"system\":\"$s\",\"rps\":\"${rps:-0}\",\"p50\":\"$p50\",\"p99\":\"$p99\",\"non2xx\":\"${non2xx:-0}\"}" >>"$OUT/wrk.jsonl"
    done
done

# System calls per request, counted by strace over one second of one connection (strace slows
# the server down; only the counts are kept).
log "system calls per request (strace -c)"
for s in "${SYSTEMS[@]}"; do
    for sc in get-digest range; do
        sargs=()
        for p in $(server_pids "$s" | tr , ' '); do sargs+=(-p "$p"); done
        strace -f -c -o "$W/strace.txt" "${sargs[@]}" 2>/dev/null &
        SPID=$!
        sleep 0.5
        url=http://${ADDR[$s]}/v2/library/bench
        if [ "$sc" = get-digest ]; then
            args=(--url "$url/manifests/$MANIFEST" -H "$ACCEPT")
        else
            args=(--url "$url/blobs/$BLOB" --range-size 1048576 --range-total "$BLOB_SIZE" --expect 206)
        fi
        result=$(taskset -c "$CCPU" "$LOADGEN" "${args[@]}" --conns 1 --duration 1 --warmup 0) || true
        kill -INT "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        python3 - "$W/strace.txt" "$s" "$sc" "$result" >>"$OUT/syscalls.jsonl" <<'PY'
import json, sys
path, system, scenario, result = sys.argv[1:5]
requests = json.loads(result).get("requests", 0) if result.strip() else 0
calls = {}
for line in open(path):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
        calls[f[-1]] = int(f[3])
print(json.dumps({"system": system, "scenario": scenario, "requests": requests, "calls": calls}))
PY
    done
done

# --- Pull ---------------------------------------------------------------------------------------
log "starting containerd"
CTRD=$W/containerd
mkdir -p "$CTRD"
write_containerd_config "$CTRD"
taskset -c "$CCPU" containerd --config "$CTRD/config.toml" >"$CTRD/log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do
    ctr -a "$CTRD/containerd.sock" version >/dev/null 2>&1 && break
    kill -0 "$CTRD_PID" 2>/dev/null || { CTRD_PID=; break; }
    sleep 0.1
done
pull_one() { # round tool system
    local round=$1 tool=$2 s=$3 ref=${ADDR[$3]}/library/bench:seed t0 ok=true ms
    t0=$(date +%s%N)
    case $tool in
    skopeo)
        taskset -c "$CCPU" "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$ref" \
            "oci:$W/pull/$round-$s:seed" >/dev/null 2>"$W/pull.err" || ok=false
        rm -rf "$W/pull/$round-$s" ;;
    ctr)
        taskset -c "$CCPU" ctr -a "$CTRD/containerd.sock" -n "b$round$s" images pull --plain-http \
            --snapshotter native "$ref" >/dev/null 2>"$W/pull.err" || ok=false ;;
    esac
    ms=$((($(date +%s%N) - t0) / 1000000))
    $ok || log "  $tool from $s failed: $(tail -n 1 "$W/pull.err")"
    echo "{\"round\":$round,\"tool\":\"$tool\",\"system\":\"$s\",\"ok\":$ok,\"seconds\":${ms}e-3}" >>"$OUT/pull.jsonl"
}
mkdir -p "$W/pull"
TOOLS=(skopeo)
[ -n "$CTRD_PID" ] && TOOLS+=(ctr)
for round in $(seq "$ROUNDS"); do
    log "pull: round $round/$ROUNDS"
    for tool in "${TOOLS[@]}"; do
        n=${#SYSTEMS[@]}
        for i in $(seq 0 $((n - 1))); do pull_one "$round" "$tool" "${SYSTEMS[$(((i + round) % n))]}"; done
    done
done

# --- Idle connections ---------------------------------------------------------------------------
# A fresh server of each kind, started with 20,000 descriptors (soft and hard: the injector
# raises its soft limit to the hard one, nginx is told by worker_rlimit_nofile), holds
# IDLE_CONNS keep-alive connections opened by bench/idle.py (which raises its own soft limit to
# its hard one, so the bench needs a hard limit above IDLE_CONNS: prlimit raises it when root).
log "idle connections: $IDLE_CONNS"
for s in "${SYSTEMS[@]}"; do stop "${PID[$s]}"; unset "PID[$s]"; done
IDLE_FDS=$((IDLE_CONNS + 10000))
[ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$IDLE_FDS" ] && prlimit --pid $$ --nofile="$IDLE_FDS:$IDLE_FDS" 2>/dev/null || true
for s in ours nginx; do
    case $s in
    ours)
        prlimit --nofile="$IDLE_FDS:$IDLE_FDS" taskset -c "$SCPU" "$OURS" serve "$LAYOUT" 127.0.0.1:0 \
            >"$W/idle-ours.log" 2>&1 &
        PID[idle-ours]=$!
        for _ in $(seq 100); do
            addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$W/idle-ours.log" | head -n 1)
            [ -n "$addr" ] && break
            sleep 0.05
        done
        pids=${PID[idle-ours]} ;;
    nginx)
        port=$(free_port)
        addr=127.0.0.1:$port
        # nginx closes idle keep-alive connections once fewer than 1/16 of worker_connections
        # are free: leave it room above IDLE_CONNS
        nginx_conf "$W/nginx-idle" "$port" "$LAYOUT" $((IDLE_CONNS + IDLE_CONNS / 8 + 100))
        sed -i 's|access_log .*;|access_log off;|' "$W/nginx-idle/nginx.conf"
        prlimit --nofile="$IDLE_FDS:$IDLE_FDS" taskset -c "$SCPU" nginx -p "$W/nginx-idle" \
            -c "$W/nginx-idle/nginx.conf" -e "$W/nginx-idle/logs/error.log" >"$W/idle-nginx.log" 2>&1 &
        PID[idle-nginx]=$!
        wait_200 "$addr" "${PID[idle-nginx]}" || true
        pids="${PID[idle-nginx]},$(pgrep -P "${PID[idle-nginx]}" | paste -sd,)" ;;
    esac
    wait_200 "$addr" "${PID[idle-$s]}" || { tail -n 5 "$W/idle-$s.log" >&2; log "  $s did not start"; continue; }
    result=$(taskset -c "$CCPU" python3 bench/idle.py "$addr" "$pids" "$IDLE_CONNS") || log "  $s: $result"
    echo "{\"system\":\"$s\",\"descriptors\":$IDLE_FDS,\"r\":${result:-null}}" >>"$OUT/idle.jsonl"
    stop "${PID[idle-$s]}"
    unset "PID[idle-$s]"
done

# --- Report ------------------------------------------------------------------------------------
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
echo "total time: $((SECONDS - START)) s" >>"$OUT/machine.txt"
python3 bench/report.py "$OUT"
log "done: $OUT/report.md"
