#!/usr/bin/env bash
# The init (pid 1) of the real node's pid namespace, started by real-node.ts as
#   nsenter --net=/run/netns/NETNS unshare --pid --fork --mount-proc --mount --propagation private \
#     bash node-init.sh NODE_DIR
# NODE_DIR holds node.env (written by real-node.ts) and the configs. Everything the node runs is a child of this
# script, so ending it ends them all: the kernel kills a pid namespace's processes when its init exits.
# Output of each daemon goes to NODE_DIR/logs/<name>.log.
set -euo pipefail
node_dir="$1"
# shellcheck source=/dev/null
source "$node_dir/node.env"

# A sysfs of this network namespace (the kubelet and CNI read /sys/class/net), keeping the host's cgroup mounts.
mkdir -p "$node_dir/mnt/cgroup"
mount --rbind /sys/fs/cgroup "$node_dir/mnt/cgroup"
mount -t sysfs sysfs /sys
mount --rbind "$node_dir/mnt/cgroup" /sys/fs/cgroup
# The kubelet and kube-proxy write kernel settings on start; /proc/sys is the shared kernel's, so the ones that are
# not per network namespace get files of their own.
for setting in vm/overcommit_memory kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys \
  kernel/keys/root_maxbytes; do
  [[ -e "/proc/sys/$setting" ]] || continue
  file="$node_dir/sysctl/${setting//\//_}"
  mkdir -p "$node_dir/sysctl"
  cat "/proc/sys/$setting" >"$file"
  mount --bind "$file" "/proc/sys/$setting"
done

ip link set lo up
ip link set "$NODE_VETH" name eth0
ip addr add "$NODE_IP/30" dev eth0
ip link set eth0 up
# Pods reach the node's own address (and through it the API relay) via the bridge; nothing routes beyond.
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true

pids=()
run() {
  local name="$1"
  shift
  "$@" >>"$node_dir/logs/$name.log" 2>&1 &
  pids+=("$!")
}
stop_all() {
  trap - TERM INT
  # kubelet first, so it does not restart what containerd is stopping; the kernel kills the rest when we exit.
  kill -TERM "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop_all TERM INT

# The API server listens on the host's loopback; the node reaches it through a unix socket relay (the host end is
# a socat process of the cluster). Bound to the node's addresses only, inside this network namespace.
run api-relay socat "TCP-LISTEN:6443,bind=0.0.0.0,fork,reuseaddr" "UNIX-CONNECT:$API_SOCKET"
run containerd containerd --config "$node_dir/containerd.toml"
for _ in $(seq 1 200); do [[ -S "$node_dir/containerd/containerd.sock" ]] && break; sleep 0.05; done
echo ready >"$node_dir/containerd.ready"
# Images are imported by real-node.ts (ctr through the socket) before the kubelet starts.
while [[ ! -e "$node_dir/images.ready" ]]; do sleep 0.1; done
run kubelet "$KUBELET" --config="$node_dir/kubelet.yaml" --kubeconfig="$node_dir/kubelet.kubeconfig" \
  --container-runtime-endpoint="unix://$node_dir/containerd/containerd.sock" --hostname-override="$NODE_NAME" \
  --node-ip="$NODE_IP" --root-dir="$node_dir/kubelet" --cert-dir="$node_dir/kubelet/pki" \
  --register-with-taints="$NODE_TAINT" --node-labels="$NODE_LABELS" --v=1
run kube-proxy "$KUBE_PROXY" --config="$node_dir/kube-proxy.yaml" --hostname-override="$NODE_NAME" --v=1
# kube-router identifies its node by the Node object: it starts once the kubelet registered it (real-node.ts).
while [[ ! -e "$node_dir/node.registered" ]]; do sleep 0.1; done
run kube-router "$KUBE_ROUTER" --kubeconfig="$node_dir/kube-router.kubeconfig" --run-firewall=true \
  --run-router=false --run-service-proxy=false --enable-cni=false --hostname-override="$NODE_NAME" \
  --health-port=0 --metrics-port=0 --v=1

wait -n "${pids[@]}" || true
echo "a node daemon exited; stopping the node" >&2
stop_all
