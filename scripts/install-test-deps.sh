#!/usr/bin/env bash
# Installs what the test suite needs beyond `npm ci`: a real redis-server (Debian package) and the Kubernetes
# test-cluster binaries (built once from the Go module proxy, cached under ~/.cache/neurallog).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-check-rdb >/dev/null; then
  echo "install-test-deps: installing redis-server and redis-tools (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
# The Debian package starts a system-wide Redis on 6379; tests start their own on free ports and never use it.
redis-server --version

# The image tests (test/image/) build the image (mmdebstrap, image/install-deps.sh) and run it under podman with
# runc (crun refuses this machine's hybrid cgroups).
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null; then
  echo "install-test-deps: installing podman, runc and mmdebstrap (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
fi

# The real kubelet node and the local Argo CD (test/cluster/node/README.md, test/cluster/argocd/): containerd with
# runc and the CNI plugins run its pods, kube-proxy and kube-router need ipset and conntrack, socat relays the API
# server (and Argo CD's peers) into their network namespaces, ip/unshare/nsenter make those namespaces.
node_tools=(containerd ctr socat ipset conntrack ip unshare nsenter)
missing=()
for tool in "${node_tools[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ] || [ ! -x /usr/lib/cni/bridge ]; then
  echo "install-test-deps: installing containerd, CNI plugins, socat, ipset, conntrack (apt; missing: ${missing[*]:-cni})"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    containerd containernetworking-plugins socat ipset conntrack iproute2 util-linux >/dev/null
fi

# The test platform's binaries (test/cluster/README.md): Kubernetes, etcd, KWOK, Argo CD, CoreDNS, kube-router
# and the pause program, built from the Go module proxy. A no-op when the cache is complete; a cold build takes
# a long while on 2 cores (progress in the build log it names).
bash test/cluster/build-binaries.sh
