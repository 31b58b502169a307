#!/usr/bin/env bash
# The whole test suite: lint, types, unit and integration tests, then the QEMU end-to-end tests.
# Missing Debian packages are installed when running as root, else the exact apt-get command is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
bash scripts/e2e-deps.sh
npm run lint
npx tsc -p tsconfig.json --noEmit
npx tsc -p web/tsconfig.json --noEmit
# The web UI is served from web/dist and driven by the browser tests: build it (and the server) first.
npm run build
# Node 20's test runner takes no globs: the shell expands them.
node --import tsx --test --test-concurrency=2 --test-reporter=spec test/unit/**/*.test.ts test/integration/**/*.test.ts
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/e2e/**/*.test.ts
