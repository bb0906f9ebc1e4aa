#!/usr/bin/env bash
# The Dockerfile's install step, as a script so that it is tested where Docker is absent
# (packages/platform/test/image-install.test.ts runs it in a fresh clone). Only the npm registry is used here;
# the Dockerfile's apt step uses Debian's. Usage: scripts/image-install.sh <api|worker-cpu|worker-gpu>
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/image-install.sh <api|worker-cpu|worker-gpu>}
case $target in api|worker-cpu|worker-gpu) ;; *) echo "image-install: unknown target $target" >&2; exit 2 ;; esac

major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || { echo "image-install: Node.js >= 20 is required (found $(node --version))" >&2; exit 1; }

# onnxruntime-node's own install script would download CUDA binaries from outside the npm registry
export ONNXRUNTIME_NODE_INSTALL=skip
# tsx runs the TypeScript sources (a dev dependency by name, needed at run time); the Prisma client is committed
npm ci --no-audit --no-fund --ignore-scripts
# sharp ships its platform binary as an optional npm package: nothing to build
if [ "$target" = worker-gpu ]; then bash scripts/setup-gpu.sh; fi

# The image must start: configuration, the database client and (for workers) onnxruntime load.
node --import tsx -e "
  const { loadConfig } = await import('./packages/platform/src/index.ts');
  loadConfig({});
  if ('$target' !== 'api') {
    const { Session, Graph, serialize, add } = await import('./packages/graph/src/index.ts');
    const g = new Graph(); const x = g.input('x', 'float32', [2]); g.output('y', add(x, 1));
    const s = await Session.create(serialize(g));
    const y = await s.run({ x: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } });
    if (y.y.data[1] !== 3) throw new Error('onnxruntime gave ' + y.y.data);
  }
  console.log('image-install: $target ready on Node ' + process.version);
"
