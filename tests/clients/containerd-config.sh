# Sourced by tests/clients/run.sh and bench/run.sh: writes DIR/config.toml for a private
# containerd daemon (root, state and sockets under DIR, no CRI plugin, content isolated per
# namespace so that every pull fetches every blob from the registry).
write_containerd_config() { # DIR
    cat >"$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/containerd.sock"
[ttrpc]
  address = "$1/containerd.sock.ttrpc"
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
