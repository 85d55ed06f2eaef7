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

# The test platform's binaries (test/cluster/README.md): Kubernetes, etcd, KWOK, Argo CD, CoreDNS, kube-router
# and the pause program, built from the Go module proxy. A no-op when the cache is complete; a cold build takes
# a long while on 2 cores (progress in the build log it names).
bash test/cluster/build-binaries.sh
