#!/usr/bin/env bash
# Refreshes the vendored Argo CD CRDs (crds/) from the Argo CD module that build-binaries.sh fetched for the
# ARGOCD_VERSION in versions.env, so the CRDs the suite applies, the binary it runs and the version the platform
# pins are one version. Copies the files unmodified and records where they came from in crds/SOURCE.md.
# Usage: test/cluster/argocd/refresh-crds.sh   (builds the argocd set first when it is not cached)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cluster="$here/.."
# shellcheck source=../versions.env
source "$cluster/versions.env"
bash "$cluster/build-binaries.sh" argocd >/dev/null
src="$(bash "$cluster/build-binaries.sh" --print-dir argocd)/crds"
dest="$here/crds"
rm -f "$dest"/*-crd.yaml
cp "$src"/*-crd.yaml "$dest/"
{
  echo "# Argo CD CRDs, vendored"
  echo
  echo "Unmodified copies of \`manifests/crds/*-crd.yaml\` from the Go module \`github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION\`"
  echo "(https://github.com/argoproj/argo-cd, tag \`$ARGOCD_VERSION\`), as served by the Go module proxy. Argo CD, and so"
  echo "these files, is licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0)."
  echo
  echo "Refresh with \`test/cluster/argocd/refresh-crds.sh\` after changing ARGOCD_VERSION in \`test/cluster/versions.env\`;"
  echo "a test fails when these files differ from the module's."
  echo
  echo "| file | sha256 |"
  echo "| --- | --- |"
  for f in "$dest"/*-crd.yaml; do echo "| $(basename "$f") | $(sha256sum "$f" | cut -d' ' -f1) |"; done
} >"$dest/SOURCE.md"
echo "argocd CRDs: $ARGOCD_VERSION -> $dest"
