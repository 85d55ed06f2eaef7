#!/usr/bin/env bash
# The whole suite, as CI runs it. First the fast static checks (`npm run check`: type-check, lint, format check,
# generated-file freshness), which need only `npm ci`; on failure it stops there, before the test dependencies
# (a test cluster build takes 20-40 minutes cold) are installed. Then every test; the exit code is non-zero if
# any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== check"
npm run check || {
  echo "test-all: failed: check (typecheck, lint, format or generated files); fix it before the tests run" >&2
  exit 1
}
bash scripts/install-test-deps.sh || exit 1

failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  "$@" || failed+=("$name")
}

mkdir -p .tmp
rm -f .tmp/vitest-report.json
step tests npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json
# One plain closing line that any CI reader understands.
if [ -f .tmp/vitest-report.json ]; then
  node -e '
    const r = require("./.tmp/vitest-report.json");
    console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  '
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-all: failed: ${failed[*]}" >&2
  exit 1
fi
