# Sourced by tests/clients/run.sh and bench/run.sh, which both run private daemons (servers
# under test, containerd) in a work directory: the containerd config, stopping a daemon, and
# removing the work directory.

# Writes DIR/config.toml for a private containerd daemon (root under DIR; state and sockets
# under RUNDIR, default DIR, so that a caller with a long DIR can keep the socket paths under
# the 108-byte limit of a unix socket address; no CRI plugin; content isolated per namespace so
# that every pull fetches every blob from the registry). The socket is RUNDIR/containerd.sock.
write_containerd_config() { # DIR [RUNDIR]
    local run=${2:-$1}
    cat >"$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$run/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$1/opt"
[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
EOF
}

# Removes the work directory DIR once its daemons are stopped, unless KEEP is set. containerd's
# native snapshotter bind-mounts while unpacking: never delete through a mount.
remove_work_dir() { # DIR LABEL (for the messages)
    if grep -q " $1/" /proc/self/mounts 2>/dev/null; then
        echo "$2: mounts left under $1, not removing it" >&2
    elif [ -n "${KEEP:-}" ]; then
        echo "kept $1" >&2
    else
        rm -rf "$1"
    fi
}

# Stops process PID: SIGTERM, up to 5 s to exit, then SIGKILL; reaps it if it is a child.
stop() { # PID
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
