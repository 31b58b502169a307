#!/usr/bin/env bash
# The whole test suite: lint, types, unit and integration tests, then the QEMU end-to-end tests.
# Missing Debian packages are installed when running as root, else the exact apt-get command is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
bash scripts/e2e-deps.sh
npx biome check src test bench
npx tsc -p tsconfig.json --noEmit
# Node 20's test runner takes no globs: the shell expands them.
node --import tsx --test --test-concurrency=2 --test-reporter=spec test/unit/**/*.test.ts test/integration/**/*.test.ts
node --import tsx --test --test-concurrency=1 --test-reporter=spec test/e2e/**/*.test.ts
