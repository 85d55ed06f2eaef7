#!/usr/bin/env bash
# Builds the test platform's binaries once, from the Go module proxy, into a cache outside the repo. One set per
# upstream project, each in a directory named after its version (versions.env) with a .complete marker:
#
#   kubernetes   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl
#   etcd         etcd
#   kwok         kwok, kwokctl, and KWOK's stage definitions (stages/)
#   argocd       argocd (one binary; the components are symlinks to it), its git/gpg wrapper scripts, its CRDs
#   coredns      coredns with only the plugins cluster DNS needs
#   kube-router  kube-router (NetworkPolicy enforcement on the real node)
#   pause        the sandbox ("pause") program of the real node's pods, from node/pause/
#   prometheus   promtool (checks and unit-tests the platform's alerting rules, charts-src/constructs/monitoring*)
#
# Idempotent: a set whose directory has the .complete marker costs nothing. The marker is written last, after the
# set's files were built into a scratch directory and moved into place, so a failed or interrupted build is never
# mistaken for a complete one; the next run builds that set again (the shared Go build cache keeps it cheap).
#
# Usage: test/cluster/build-binaries.sh [SET...]        (default: every set)
#        test/cluster/build-binaries.sh --print-dir SET  (the set's cache directory, built or not)
# NEURALLOG_BIN_CACHE overrides ~/.cache/neurallog/bin.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${NEURALLOG_BIN_CACHE:-$HOME/.cache/neurallog/bin}"
all_sets=(kubernetes etcd kwok argocd coredns kube-router pause prometheus)

set_dir() {
  case "$1" in
    kubernetes) echo "$cache_root/kubernetes-$KUBERNETES_VERSION" ;;
    etcd) echo "$cache_root/etcd-$ETCD_VERSION" ;;
    kwok) echo "$cache_root/kwok-$KWOK_VERSION" ;;
    # Argo CD and CoreDNS are built against the control plane's Kubernetes modules: both versions name the dir.
    argocd) echo "$cache_root/argocd-${ARGOCD_VERSION}_k8s-$KUBERNETES_VERSION" ;;
    coredns) echo "$cache_root/coredns-${COREDNS_VERSION}_k8s-$KUBERNETES_VERSION" ;;
    kube-router) echo "$cache_root/kube-router-$KUBE_ROUTER_VERSION" ;;
    prometheus) echo "$cache_root/prometheus-$PROMETHEUS_VERSION" ;;
    # Our own source: its content names the dir.
    pause) echo "$cache_root/pause-$(sha256sum "$here/node/pause/main.go" | cut -c1-12)" ;;
    *) echo "build-binaries: unknown set '$1' (sets: ${all_sets[*]})" >&2; return 1 ;;
  esac
}

if [[ "${1:-}" == "--print-dir" ]]; then
  set_dir "${2:?--print-dir needs a set}"
  exit 0
fi
sets=("$@")
[[ ${#sets[@]} -gt 0 ]] || sets=("${all_sets[@]}")
for s in "${sets[@]}"; do set_dir "$s" >/dev/null; done

missing=()
for s in "${sets[@]}"; do [[ -f "$(set_dir "$s")/.complete" ]] || missing+=("$s"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "test binaries: cached in $cache_root (${sets[*]})"
  exit 0
fi

command -v go >/dev/null || { echo "build-binaries: Go >= 1.21 is required to fetch $GO_TOOLCHAIN, none on PATH" >&2; exit 1; }
mkdir -p "$cache_root"
# One build at a time per cache (CI and a person may start it together); the shared build cache needs it too.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  echo "build-binaries: another build holds $cache_root/.lock; waiting for it"
  flock 9
fi

# Every set is compiled by the same toolchain into the same build cache, so packages that two sets share at the
# same version (Kubernetes' client-go, apimachinery, ... in kubernetes, argocd and coredns) compile once. The
# cache is removed once every set is complete: nothing else needs it (it peaks at several GB).
export GOTOOLCHAIN="$GO_TOOLCHAIN" GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0
export GOCACHE="$cache_root/.gocache"
log="$cache_root/build.log"
# Two cores are shared with everyone else: build with two jobs at low priority.
build() { nice -n 10 go build -p 2 "$@"; }

# Writes a wrapper module: go.mod with the given requirement and replace lines, tools.go importing the packages.
wrapper_module() {
  local dir=$1 module=$2 requires=$3 replaces=$4 imports=$5
  mkdir -p "$dir"
  {
    echo "module $module"
    echo
    echo "go 1.26.0"
    echo
    echo "require ("
    echo "$requires"
    echo ")"
    if [[ -n "$replaces" ]]; then
      echo
      echo "replace ("
      echo "$replaces"
      echo ")"
    fi
  } >"$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "// Package tools only names the commands this module builds, so that \`go mod tidy\` keeps their requirements."
    echo "package tools"
    echo
    echo "import ("
    for p in $imports; do echo "	_ \"$p\""; done
    echo ")"
  } >"$dir/tools.go"
}

# The go.mod the proxy serves for module@version.
proxy_gomod() {
  local json
  json="$(go mod download -json "$1")"
  sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p' <<<"$json"
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging/... paths, which only
# work inside its own repo. Every wrapper that pulls it in pins each of them to its published v0.<minor>.<patch>
# instead; the list comes from the go.mod the proxy serves for this exact version, not from memory.
staging_version="v0.${KUBERNETES_VERSION#v1.}"
kubernetes_pins() {
  local gomod modules
  gomod="$(proxy_gomod "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  modules="$(sed -nE 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+) => \./staging/src/.*#\1#p' "$gomod")"
  [[ -n "$modules" ]] || { echo "no staging replace directives found in $gomod" >&2; return 1; }
  while read -r m; do echo "	$m => $m $staging_version"; done <<<"$modules"
}

build_kubernetes() {
  local out=$1 src=$2
  wrapper_module "$src" neurallog.test/kubernetes-binaries "	k8s.io/kubernetes $KUBERNETES_VERSION" \
    "$(kubernetes_pins)" \
    "k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl"
  # The same version variables hack/lib/version.sh sets, so /version and the node report the real release.
  local kube_major kube_minor build_date ldflags="-s -w" pkg
  IFS=. read -r kube_major kube_minor _ <<<"${KUBERNETES_VERSION#v}"
  build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$kube_major -X $pkg.gitMinor=$kube_minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  (
    cd "$src"
    go mod tidy
    build -ldflags "$ldflags" -o "$out/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
      k8s.io/kubernetes/cmd/kubectl
  )
  "$out/bin/kube-apiserver" --version
}

build_etcd() {
  local out=$1 src=$2 gomod siblings
  # Its own wrapper: Kubernetes 1.37 requires etcd's client modules at 3.7, which would pull the server to 3.7
  # too. The server module replaces its sibling modules with ../ paths; pin each to the same published version.
  gomod="$(proxy_gomod "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  siblings="$(sed -nE 's#^[[:space:]]*(go\.etcd\.io/etcd/[A-Za-z0-9/._-]+) => \.\./.*#\1#p' "$gomod")"
  [[ -n "$siblings" ]] || { echo "no sibling replace directives found in $gomod"; return 1; }
  wrapper_module "$src" neurallog.test/etcd-binary "	go.etcd.io/etcd/server/v3 $ETCD_VERSION" \
    "$(while read -r m; do echo "	$m => $m $ETCD_VERSION"; done <<<"$siblings")" go.etcd.io/etcd/server/v3
  (cd "$src" && go mod tidy && build -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3)
  "$out/bin/etcd" --version
}

build_kwok() {
  local out=$1 src=$2 kwok_dir
  wrapper_module "$src" neurallog.test/kwok-binaries "	sigs.k8s.io/kwok $KWOK_VERSION" "" \
    "sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl"
  (
    cd "$src"
    go mod tidy
    build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
      -o "$out/bin/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  )
  # The stage definitions (what KWOK does to fake Nodes and Pods) ship in the module, not in the binary.
  kwok_dir="$(cd "$src" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$out/stages"
  cp -r "$kwok_dir/kustomize/stage/." "$out/stages/"
  chmod -R u+w "$out/stages"
}

build_argocd() {
  local out=$1 src=$2 gomod replaces argocd_dir
  # Argo CD's own version-pinning replace lines, minus its ./gitops-engine path replace (the proxy serves that
  # module as github.com/argoproj/argo-cd/gitops-engine/v3 at the same version) and with its Kubernetes modules
  # moved to the control plane's patch release, so they are the ones the kubernetes set already compiled.
  gomod="$(proxy_gomod "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")"
  replaces="$(sed -n '/^replace (/,/^)/p' "$gomod" | grep '=>' | grep -v '^[[:space:]]*k8s\.io/' | grep -v '\./')"
  wrapper_module "$src" neurallog.test/argocd-binary \
    "	github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION
	k8s.io/kubernetes $KUBERNETES_VERSION" \
    "$replaces
$(kubernetes_pins)" github.com/argoproj/argo-cd/v3/cmd
  (
    cd "$src"
    go mod tidy
    build -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}" \
      -o "$out/bin/argocd" github.com/argoproj/argo-cd/v3/cmd
  )
  # One binary serves every component by the name it was started as.
  local c
  for c in argocd-repo-server argocd-application-controller argocd-applicationset-controller argocd-server; do
    ln -sf argocd "$out/bin/$c"
  done
  # repo-server runs these on every manifest generation (even with GPG off): they must be on PATH, executable.
  argocd_dir="$(cd "$src" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
  install -m 755 "$argocd_dir/hack/git-verify-wrapper.sh" "$argocd_dir/hack/gpg-wrapper.sh" "$out/bin/"
  # The CRDs of the version that runs: the suite validates against these and installs them.
  mkdir -p "$out/crds"
  install -m 644 "$argocd_dir"/manifests/crds/*-crd.yaml "$out/crds/"
  "$out/bin/argocd" version --client --short || true
}

build_coredns() {
  local out=$1 src=$2 p
  # CoreDNS builds as a library: a main of our own with only the plugins cluster DNS needs keeps the build small
  # (the stock binary pulls in every cloud provider's SDK). Directive order is CoreDNS' plugin.cfg order.
  local plugins="errors log health ready kubernetes cache loop reload loadbalance"
  wrapper_module "$src" neurallog.test/coredns-binary \
    "	github.com/coredns/coredns $COREDNS_VERSION
	k8s.io/kubernetes $KUBERNETES_VERSION" "$(kubernetes_pins)" ""
  rm "$src/tools.go"
  {
    echo "// Command coredns is CoreDNS with the plugins cluster DNS of the test platform's real node needs."
    echo "package main"
    echo
    echo "import ("
    echo '	"github.com/coredns/coredns/core/dnsserver"'
    echo '	"github.com/coredns/coredns/coremain"'
    echo
    for p in $plugins; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ")"
    echo
    echo "func init() {"
    echo "	dnsserver.Directives = []string{$(for p in $plugins; do printf '"%s", ' "$p"; done)}"
    echo "}"
    echo
    echo "func main() { coremain.Run() }"
  } >"$src/main.go"
  (cd "$src" && go mod tidy && build -ldflags "-s -w" -o "$out/bin/coredns" .)
  "$out/bin/coredns" -version
}

build_kube_router() {
  local out=$1 src=$2
  wrapper_module "$src" neurallog.test/kube-router-binary \
    "	github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION" "" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  (
    cd "$src"
    go mod tidy
    build -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
      -o "$out/bin/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  )
  "$out/bin/kube-router" --version || true
}

build_prometheus() {
  local out=$1 src=$2 release
  # Prometheus publishes its Go module as v0.<major><minor>.<patch> (v0.316.0 is Prometheus 3.16.0).
  release="${PROMETHEUS_VERSION#v0.}"
  release="${release:0:1}.$((10#${release:1:2})).${release#*.}"
  wrapper_module "$src" neurallog.test/prometheus-binaries \
    "	github.com/prometheus/prometheus $PROMETHEUS_VERSION" "" github.com/prometheus/prometheus/cmd/promtool
  (
    cd "$src"
    go mod tidy
    build -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release" \
      -o "$out/bin/promtool" github.com/prometheus/prometheus/cmd/promtool
  )
  "$out/bin/promtool" --version
}

build_pause() {
  local out=$1 src=$2
  mkdir -p "$src"
  cp "$here/node/pause/main.go" "$src/"
  printf 'module neurallog.test/pause\n\ngo 1.26.0\n' >"$src/go.mod"
  (cd "$src" && build -ldflags "-s -w" -o "$out/bin/pause" .)
}

build_set() {
  local s=$1 dir scratch started elapsed
  dir="$(set_dir "$s")"
  [[ -f "$dir/.complete" ]] && return 0
  scratch="$dir/.partial"
  rm -rf "$scratch" && mkdir -p "$scratch/out/bin" "$scratch/src"
  echo "=== $(date -u +%FT%TZ) $s: build start ($(go env GOVERSION))"
  started=$(date +%s)
  "build_${s//-/_}" "$scratch/out" "$scratch/src"
  elapsed=$(($(date +%s) - started))
  find "$dir" -mindepth 1 -maxdepth 1 ! -name .partial -exec rm -rf {} +
  mv "$scratch/out/"* "$dir/"
  rm -rf "$scratch"
  echo "$elapsed" >"$dir/build-seconds"
  # Written last: its presence means every file of the set is in place.
  date -u +%FT%TZ >"$dir/.complete"
  echo "=== $(date -u +%FT%TZ) $s: built in ${elapsed}s"
}

echo "test binaries: cold build of ${missing[*]} into $cache_root (log: $log); this takes a while on 2 cores"
for s in "${missing[@]}"; do
  trap 'echo "build-binaries: building '"$s"' failed; last lines of '"$log"':" >&2; tail -n 30 "$log" >&2' EXIT
  build_set "$s" >>"$log" 2>&1
  trap - EXIT
  echo "test binaries: $s built in $(cat "$(set_dir "$s")/build-seconds")s"
done

complete=true
for s in "${all_sets[@]}"; do [[ -f "$(set_dir "$s")/.complete" ]] || complete=false; done
if $complete; then rm -rf "$GOCACHE"; fi
