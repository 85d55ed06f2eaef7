#!/usr/bin/env bash
# Refreshes the vendored Prometheus operator CRDs (crds/) the test cluster installs, so the ServiceMonitors and the
# PrometheusRule synth renders (where the platform file enables spec.monitoring.prometheusOperator) meet the real
# schemas. Copies the files unmodified from the Go module of PROMETHEUS_OPERATOR_VERSION (versions.env) and records
# where they came from in crds/SOURCE.md. Only the kinds synth renders are vendored.
# Usage: test/cluster/monitoring/refresh-crds.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
module="github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
src="$(go mod download -json "$module" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')"
[[ -d "$src" ]] || { echo "refresh-crds: go mod download $module gave no directory" >&2; exit 1; }
dest="$here/crds"
files=(monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_servicemonitors.yaml)
rm -f "$dest"/*.yaml
for f in "${files[@]}"; do install -m 644 "$src/example/prometheus-operator-crd/$f" "$dest/$f"; done
{
  echo "# Prometheus operator CRDs, vendored"
  echo
  echo "Unmodified copies of \`example/prometheus-operator-crd/{$(IFS=,; echo "${files[*]}")}\` from the Go module"
  echo "\`$module\` (https://github.com/prometheus-operator/prometheus-operator, tag \`$PROMETHEUS_OPERATOR_VERSION\`), as served"
  echo "by the Go module proxy. The Prometheus operator, and so these files, is licensed under the Apache License 2.0"
  echo "(https://www.apache.org/licenses/LICENSE-2.0)."
  echo
  echo "Refresh with \`test/cluster/monitoring/refresh-crds.sh\` after changing PROMETHEUS_OPERATOR_VERSION in"
  echo "\`test/cluster/versions.env\`; a test fails when these files differ from the module's."
  echo
  echo "| file | sha256 |"
  echo "| --- | --- |"
  for f in "${files[@]}"; do echo "| $f | $(sha256sum "$dest/$f" | cut -d' ' -f1) |"; done
} >"$dest/SOURCE.md"
echo "prometheus-operator CRDs: $PROMETHEUS_OPERATOR_VERSION -> $dest"
