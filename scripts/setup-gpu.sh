#!/usr/bin/env bash
# `npm run setup:gpu`: installs onnxruntime's CUDA execution provider from the npm registry and places its two
# libraries beside onnxruntime-node's binding, where onnxruntime looks for providers. Idempotent (a stamp file names
# the installed package version). The CUDA 13 / cuDNN 9 libraries themselves come from the image or the loader
# path; `EXECUTION_PROVIDER=cuda` workers check at start that everything loads and name what is missing.
# Usage: scripts/setup-gpu.sh [--dir <folder>]   (default: onnxruntime-node's binding folder)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cuda-provider-package.sh

dir=
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    *) echo "setup-gpu: unknown argument $1" >&2; exit 2 ;;
  esac
done
dir=${dir:-$(ort_binding_dir)}
[ -f "$dir/libonnxruntime.so.1" ] || [ "${NPO_SETUP_GPU_ANY_DIR:-}" = 1 ] || { echo "setup-gpu: $dir has no libonnxruntime.so.1 (is onnxruntime-node installed? run npm ci)" >&2; exit 1; }

stamp="$dir/.npo-cuda-provider"
want="$CUDA_PROVIDER_PACKAGE@$CUDA_PROVIDER_VERSION"
installed() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
  for f in $CUDA_PROVIDER_FILES; do [ -f "$dir/$f" ] || return 1; done
}
if installed; then
  echo "setup-gpu: $want already in $dir"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup-gpu: fetching $want from the npm registry"
tgz=$(fetch_cuda_provider_tarball "$tmp")
members=$(for f in $CUDA_PROVIDER_FILES; do printf '%s/%s ' "$CUDA_PROVIDER_DIR_IN_PACKAGE" "$f"; done)
# shellcheck disable=SC2086
tar -xzf "$tgz" -C "$tmp" $members
for f in $CUDA_PROVIDER_FILES; do
  # Write beside, then rename: a process that has the old file mapped keeps its copy.
  install -m 0755 "$tmp/$CUDA_PROVIDER_DIR_IN_PACKAGE/$f" "$dir/.$f.new"
  mv -f "$dir/.$f.new" "$dir/$f"
done
echo "$want" > "$stamp"
echo "setup-gpu: placed $CUDA_PROVIDER_FILES in $dir"
