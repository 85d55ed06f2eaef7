#!/usr/bin/env bash
# The whole suite, as CI runs it: install test dependencies, then type-check, lint, format check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm run typecheck
npm run lint
npm run format:check
npx vitest run
