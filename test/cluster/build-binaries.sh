#!/usr/bin/env bash
# Builds the test control plane once, from the Go module proxy, into a cache outside the repo:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kwokctl
# and copies KWOK's stage definitions next to them. Needs Go >= 1.26.0 (the go directive of k8s.io/kubernetes
# v1.37, etcd v3.6.16 and kwok v0.8.0); GOTOOLCHAIN=local so Go never tries to download a toolchain.
#
# Idempotent: a cache directory with the .complete marker means no work. The marker is written last, after every
# binary was built into a scratch directory and moved into place, so a failed or interrupted build is never
# mistaken for a complete one; the next run starts that build over (the Go build cache keeps it cheap).
#
# Usage: test/cluster/build-binaries.sh [--print-dir]   (NEURALLOG_K8S_CACHE overrides ~/.cache/neurallog/k8s)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${NEURALLOG_K8S_CACHE:-$HOME/.cache/neurallog/k8s}"
dir="$cache_root/k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$dir"
  exit 0
fi
if [[ -f "$dir/.complete" ]]; then
  echo "cluster binaries: cached in $dir"
  exit 0
fi

command -v go >/dev/null || { echo "build-binaries: Go >= 1.26.0 is required (apt/golang.org), none on PATH" >&2; exit 1; }
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [[ "$go_minor" -lt 26 ]]; then
  echo "build-binaries: Go >= 1.26.0 is required, found $(go env GOVERSION)" >&2
  exit 1
fi

mkdir -p "$dir"
log="$dir/build.log"
# Only one build per cache directory at a time (CI and a person may start it together).
exec 9>"$dir/.lock"
if ! flock -n 9; then
  echo "build-binaries: another build holds $dir/.lock; waiting for it"
  flock 9
  if [[ -f "$dir/.complete" ]]; then echo "cluster binaries: cached in $dir"; exit 0; fi
fi

echo "cluster binaries: cold build into $dir (log: $log); this takes a while on 2 cores"
started=$(date +%s)
scratch="$dir/.partial"
rm -rf "$scratch" "$dir/bin" "$dir/stages"
mkdir -p "$scratch/bin" "$scratch/src"

export GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false" CGO_ENABLED=0
# A build cache of our own (about 4.5 GB for these packages): kept while the build is incomplete, so a retry
# after a failure compiles only what is left; removed once the binaries are in place, as nothing else needs it.
export GOCACHE="$dir/.gocache"
# Two cores are shared with everyone else: build with two jobs at low priority.
build() { nice -n 10 go build -p 2 "$@"; }
build_all() {
echo "=== $(date -u +%FT%TZ) build start: $(go env GOVERSION), kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION"

# --- Kubernetes ---------------------------------------------------------------------------------------------
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging/... paths, which only
# work inside its own repo. A wrapper module pins each of them to its published v0.<minor>.<patch> instead; the
# list comes from the go.mod the proxy serves for this exact version, not from memory.
kube_mod_json="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION")"
kube_gomod="$(sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p' <<<"$kube_mod_json")"
staging_version="v0.${KUBERNETES_VERSION#v1.}"
staging_modules="$(sed -nE 's#^[[:space:]]*(k8s\.io/[A-Za-z0-9._-]+) => \./staging/src/.*#\1#p' "$kube_gomod")"
[[ -n "$staging_modules" ]] || { echo "no staging replace directives found in $kube_gomod"; exit 1; }

mkdir -p "$scratch/src/kubernetes"
{
  echo "module neurallog.test/kubernetes-binaries"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  while read -r m; do echo "	$m => $m $staging_version"; done <<<"$staging_modules"
  echo ")"
} >"$scratch/src/kubernetes/go.mod"
cat >"$scratch/src/kubernetes/tools.go" <<'GO'
//go:build tools

// Package tools only names the commands this module builds, so that `go mod tidy` keeps their requirements.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
# The same version variables hack/lib/version.sh sets, so /version reports the real release.
IFS=. read -r kube_major kube_minor _ <<<"${KUBERNETES_VERSION#v}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$kube_major -X $pkg.gitMinor=$kube_minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
(
  cd "$scratch/src/kubernetes"
  go mod tidy
  build -ldflags "$kube_ldflags" -o "$scratch/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
)
echo "=== $(date -u +%FT%TZ) kubernetes built"

# --- etcd ---------------------------------------------------------------------------------------------------
# Its own wrapper: Kubernetes 1.37 requires etcd's client modules at 3.7, which would pull the server to 3.7 too.
# The server module replaces its sibling modules with ../ paths; pin each to the same published version.
etcd_mod_json="$(go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
etcd_gomod="$(sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p' <<<"$etcd_mod_json")"
etcd_siblings="$(sed -nE 's#^[[:space:]]*(go\.etcd\.io/etcd/[A-Za-z0-9/._-]+) => \.\./.*#\1#p' "$etcd_gomod")"
[[ -n "$etcd_siblings" ]] || { echo "no sibling replace directives found in $etcd_gomod"; exit 1; }
mkdir -p "$scratch/src/etcd"
{
  echo "module neurallog.test/etcd-binary"
  echo
  echo "go 1.26.0"
  echo
  echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  echo
  echo "replace ("
  while read -r m; do echo "	$m => $m $ETCD_VERSION"; done <<<"$etcd_siblings"
  echo ")"
} >"$scratch/src/etcd/go.mod"
cat >"$scratch/src/etcd/tools.go" <<'GO'
//go:build tools

// Package tools only names the command this module builds, so that `go mod tidy` keeps its requirements.
package tools

import _ "go.etcd.io/etcd/server/v3"
GO
(
  cd "$scratch/src/etcd"
  go mod tidy
  build -ldflags "-s -w" -o "$scratch/bin/etcd" go.etcd.io/etcd/server/v3
)
echo "=== $(date -u +%FT%TZ) etcd built"

# --- KWOK ---------------------------------------------------------------------------------------------------
# sigs.k8s.io/kwok has no replace directives; a wrapper module still keeps its requirements apart from the others.
mkdir -p "$scratch/src/kwok"
printf 'module neurallog.test/kwok-binaries\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok %s\n' "$KWOK_VERSION" \
  >"$scratch/src/kwok/go.mod"
cat >"$scratch/src/kwok/tools.go" <<'GO'
//go:build tools

// Package tools only names the commands this module builds, so that `go mod tidy` keeps their requirements.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
GO
(
  cd "$scratch/src/kwok"
  go mod tidy
  build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
    -o "$scratch/bin/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
)
# The stage definitions (what KWOK does to fake Nodes and Pods) ship in the module, not in the binary.
kwok_dir="$(cd "$scratch/src/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
mkdir -p "$scratch/stages"
cp -r "$kwok_dir/kustomize/stage/." "$scratch/stages/"
chmod -R u+w "$scratch/stages"
echo "=== $(date -u +%FT%TZ) kwok built"

"$scratch/bin/kube-apiserver" --version
"$scratch/bin/etcd" --version
}

# Not `if ! build_all`: that would switch off `set -e` inside it. A failure exits through this trap instead.
trap 'echo "build-binaries: build failed; last lines of $log:" >&2; tail -n 30 "$log" >&2' EXIT
build_all >>"$log" 2>&1
trap - EXIT
mv "$scratch/bin" "$dir/bin"
mv "$scratch/stages" "$dir/stages"
rm -rf "$scratch" "$GOCACHE"
elapsed=$(($(date +%s) - started))
echo "$elapsed" >"$dir/build-seconds"
# Written last: its presence means every binary above is in place.
date -u +%FT%TZ >"$dir/.complete"
echo "=== $(date -u +%FT%TZ) build complete in ${elapsed}s" | tee -a "$log"
