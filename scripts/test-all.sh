#!/usr/bin/env bash
# The whole suite, as CI runs it: install test dependencies, then type-check, lint, format check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm run typecheck
npm run lint
npm run format:check
mkdir -p .tmp
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest-report.json || status=$?
# One plain closing line that any CI reader understands.
node -e '
  const r = require("./.tmp/vitest-report.json");
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
