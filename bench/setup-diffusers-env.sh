#!/usr/bin/env bash
# Builds the PyTorch 2 baseline of bench/diffusers_step.py OUTSIDE the repository: a venv with torch 2.x (CPU),
# transformers, peft, accelerate and safetensors installed offline from wheel folders, and diffusers from a source
# checkout (put on the venv's path with a .pth file, its dependencies installed from the same wheels).
#
#   bash bench/setup-diffusers-env.sh <diffusers source checkout>        (or DIFFUSERS_SRC=...)
#   NPO_BENCH_VENV   where the venv goes (default ~/.cache/npo-forge/bench-venv)
#   NPO_WHEEL_DIRS   colon-separated wheel folders (default: every folder on this machine holding torch-2.*.whl
#                    or peft-*.whl, found with find)
# Prints the venv's python as its last line; bench/compare.ts reads NPO_BENCH_PYTHON or that default path.
set -euo pipefail
src="${1:-${DIFFUSERS_SRC:-}}"
if [[ -z "$src" || ! -f "$src/src/diffusers/__init__.py" ]]; then
  echo "usage: $0 <diffusers source checkout> (a folder with src/diffusers; e.g. git clone https://github.com/huggingface/diffusers)" >&2
  exit 2
fi
src="$(cd "$src" && pwd)"
venv="${NPO_BENCH_VENV:-$HOME/.cache/npo-forge/bench-venv}"
if [[ -z "${NPO_WHEEL_DIRS:-}" ]]; then
  NPO_WHEEL_DIRS="$(find / \( -path /proc -o -path /sys \) -prune -o \( -name 'torch-2.*.whl' -o -name 'peft-*.whl' -o -name 'transformers-*.whl' \) -print 2>/dev/null | xargs -r -n1 dirname | sort -u | paste -sd:)"
fi
links=()
IFS=: read -ra dirs <<<"$NPO_WHEEL_DIRS"
for d in "${dirs[@]}"; do [[ -n "$d" ]] && links+=(--find-links "$d"); done
if [[ ${#links[@]} -eq 0 ]]; then echo "no wheel folders found (set NPO_WHEEL_DIRS)" >&2; exit 1; fi

python3 -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --no-index "${links[@]}")
"${pip[@]}" 'torch>=2.6' transformers peft accelerate safetensors
# diffusers' own install_requires, resolved from the same wheels
"${pip[@]}" importlib_metadata filelock 'huggingface-hub>=1.0' numpy regex requests Pillow httpx
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$src/src" >"$site/diffusers-src.pth"
"$venv/bin/python" -c 'import torch, diffusers, peft; print("torch", torch.__version__, "diffusers", diffusers.__version__, "peft", peft.__version__)' >&2
echo "$venv/bin/python"
