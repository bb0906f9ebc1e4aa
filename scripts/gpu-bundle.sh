#!/usr/bin/env bash
# Builds, here, everything scripts/gpu-check.sh needs on a GPU machine that has no network: this commit's sources,
# the runtime node_modules (onnxruntime pruned to linux-x64, the type checker and Prisma's CLI left out: the client is
# committed and migrations are applied by our own code), onnxruntime's CUDA provider from the npm registry beside the
# binding (scripts/setup-gpu.sh), and optionally a diffusers source checkout for the PyTorch side of the bench.
# One tar.xz, split into parts with a SHA256SUMS file; gpu-check.sh --bundle re-joins, checks and unpacks it there.
# The CUDA 13 / cuDNN 9 libraries are not bundled: the GPU machine has them in its PyTorch wheels or on its loader path.
#
# Usage: scripts/gpu-bundle.sh [--out DIR] [--part-size 64M] [--diffusers SRC] [--xz-level 0-9]
# Prints one JSON line {"bundle", "parts", "bytes", "unpacked_bytes", "commit"} last.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cuda-provider-package.sh

out=.data/gpu-bundle
part_size=64M
diffusers=
xz_level=${NPO_BUNDLE_XZ_LEVEL:-6}
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --part-size) part_size=$2; shift 2 ;;
    --diffusers) diffusers=$2; shift 2 ;;
    --xz-level) xz_level=$2; shift 2 ;;
    *) echo "gpu-bundle: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -n "$diffusers" ] && [ ! -f "$diffusers/src/diffusers/__init__.py" ]; then
  echo "gpu-bundle: --diffusers $diffusers is not a diffusers source checkout (no src/diffusers/__init__.py)" >&2
  exit 2
fi
git rev-parse --verify -q HEAD >/dev/null || { echo "gpu-bundle: needs a git checkout with a commit (the bundle holds HEAD's sources)" >&2; exit 1; }
commit=$(git rev-parse HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "gpu-bundle: uncommitted changes are not bundled (the bundle holds $commit)" >&2

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
app=$stage/npo-forge
mkdir -p "$app"
git archive --format=tar HEAD | tar -x -C "$app"

echo "gpu-bundle: installing the runtime packages" >&2
(cd "$app" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --ignore-scripts --prefer-offline >&2)
ort=$app/node_modules/onnxruntime-node/bin/napi-v6
for d in "$ort"/*/*; do [ "$d" = "$ort/linux/x64" ] || rm -rf "$d"; done
rm -rf "$app/node_modules/typescript" "$app/node_modules/prisma" "$app/node_modules/@prisma/studio-core" "$app/node_modules/@prisma/dev" \
  "$app/node_modules/@prisma/fetch-engine" "$app/node_modules/@electric-sql"
bash scripts/setup-gpu.sh --dir "$ort/linux/x64" >&2

# The pruned tree must still start: configuration, the database client, onnxruntime on CPU.
(cd "$app" && node --import tsx -e "
  const { loadConfig, createDb } = await import('./packages/platform/src/index.ts');
  createDb(loadConfig({}).databaseUrl, 'public');
  const { Session, Graph, serialize, add } = await import('./packages/graph/src/index.ts');
  const g = new Graph(); const x = g.input('x', 'float32', [2]); g.output('y', add(x, 1));
  const y = await (await Session.create(serialize(g))).run({ x: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } });
  if (y.y.data[1] !== 3) throw new Error('onnxruntime gave ' + y.y.data);
" >&2)

if [ -n "$diffusers" ]; then
  mkdir -p "$stage/diffusers"
  (cd "$diffusers" && tar -cf - src setup.py pyproject.toml 2>/dev/null || tar -cf - src) | tar -x -C "$stage/diffusers"
fi
node -e "
  const fs = require('fs');
  fs.writeFileSync(process.argv[1], JSON.stringify({
    commit: '$commit', created: new Date().toISOString(), node: process.version,
    onnxruntime_node: require('$app/node_modules/onnxruntime-node/package.json').version,
    cuda_provider: '$CUDA_PROVIDER_PACKAGE@$CUDA_PROVIDER_VERSION', diffusers: ${diffusers:+true}${diffusers:-false},
  }, null, 1));
" "$stage/bundle.json"

unpacked=$(du -sb "$stage" | cut -f1)
mkdir -p "$out"
rm -f "$out"/npo-gpu-bundle.tar.xz.part-* "$out/SHA256SUMS"
echo "gpu-bundle: compressing $((unpacked / 1048576)) MiB (xz -$xz_level)" >&2
tar -C "$stage" -cf - . | xz -T0 "-$xz_level" | split -b "$part_size" -d -a 3 - "$out/npo-gpu-bundle.tar.xz.part-"
(cd "$out" && sha256sum npo-gpu-bundle.tar.xz.part-* >SHA256SUMS)
parts=$(ls "$out"/npo-gpu-bundle.tar.xz.part-* | wc -l)
bytes=$(cat "$out"/npo-gpu-bundle.tar.xz.part-* | wc -c)
echo "{\"bundle\":\"$out\",\"parts\":$parts,\"bytes\":$bytes,\"unpacked_bytes\":$unpacked,\"commit\":\"$commit\"}"
