#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts Postgres/Redis/S3 if needed, runs every test file.
# Extra arguments filter test files by path substring (e.g. `npm test -- packages/graph`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/run-tests.mjs "$@"
