#!/usr/bin/env bash
# The whole suite, as CI runs it: install test dependencies, then type-check, lint, format check and every test.
# Every step runs even when an earlier one fails, so one run shows every problem; the exit code is non-zero if
# any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh || exit 1

failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  "$@" || failed+=("$name")
}

step typecheck npm run typecheck
step lint npm run lint
step format npm run format:check

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
