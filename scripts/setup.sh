#!/usr/bin/env bash
# Installs what is missing (npm packages, the generated Prisma client) and starts the local services.
# Safe to run repeatedly; `npm test`, `npm start` and `npm run demo` call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found $(node --version))" >&2
  exit 1
fi

# onnxruntime-node's install script downloads CUDA binaries from outside the npm registry: always skipped. GPU
# workers get the CUDA provider from the npm registry instead (scripts/setup-gpu.sh, below).
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.npo-install-stamp
if [ ! -d node_modules ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
  touch "$stamp"
elif [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  # Never `npm ci` over a populated node_modules: it deletes the folder first, under any process using it.
  echo "setup: updating npm packages (npm install)"
  npm install --no-audit --no-fund
  touch "$stamp"
fi

if [ "${EXECUTION_PROVIDER:-cpu}" = cuda ]; then bash scripts/setup-gpu.sh; fi
# The dashboard's browser test drives Debian's Chromium through playwright-core (no browser download); labelled
# sample grids render their text with a system font. Install both when missing and we may (root with apt).
if { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi dejavu; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium and fonts-dejavu-core (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

if [ -f scripts/prisma-generate.sh ]; then bash scripts/prisma-generate.sh; fi
if [ "${NPO_SKIP_SERVICES:-}" != 1 ]; then bash scripts/services.sh; fi
