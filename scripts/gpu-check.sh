#!/usr/bin/env bash
# Everything a GPU machine needs checked, in one command, offline. Prints one JSON line per figure on stdout (logs go
# to stderr):
#   {"figure":"gpu"}              the device (nvidia-smi)
#   {"figure":"cuda_provider"}    onnxruntime's CUDA provider loads with every library it needs; else the missing ones
#   {"figure":"verify_reference"} verify:reference with EXECUTION_PROVIDER=cuda on tiny-unet and sdxl-tiny, per precision
#                                 (fp32, then fp16 and bf16 with their looser tolerances: unet-tolerances.ts)
#   {"figure":"bench"}            the sd15 NPO step on CUDA in fp32, fp16 and bf16 (the precision hyperparameter),
#                                 beside diffusers + PEFT on the same GPU when torch and diffusers are importable
#   {"figure":"api_job"}          a short training job through the API and a worker on CUDA (npm run demo), when
#                                 Postgres and Redis can be started there
#
# Usage: scripts/gpu-check.sh [--bundle DIR] [--work DIR] [--bench-steps N] [--skip-bench] [--skip-job]
#   --bundle DIR   parts and SHA256SUMS from scripts/gpu-bundle.sh: checked, re-joined and unpacked into --work
#                  (default /tmp/npo-gpu-check), and the check runs there; without it, it runs in this checkout
#                  (after `npm run setup:gpu`).
# CUDA 13 / cuDNN 9 libraries: NPO_CUDA_LIB_DIRS (colon-separated), else every nvidia/*/lib folder of the Python
# that has NVIDIA's wheels (`import nvidia`), else the loader's default path.
# Exit status: 0 all figures ok, 3 the CUDA provider cannot load (the line says which libraries), 1 anything else.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle=
work=/tmp/npo-gpu-check
bench_steps=3
skip_bench=
skip_job=
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) bundle=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --bench-steps) bench_steps=$2; shift 2 ;;
    --skip-bench) skip_bench=1; shift ;;
    --skip-job) skip_job=1; shift ;;
    *) echo "gpu-check: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
log() { echo "gpu-check: $*" >&2; }
figure() { echo "$1"; }
status=0

app=$here
if [ -n "$bundle" ]; then
  [ -f "$bundle/SHA256SUMS" ] || { figure "{\"figure\":\"bundle\",\"ok\":false,\"error\":\"$bundle has no SHA256SUMS\"}"; exit 1; }
  if ! (cd "$bundle" && sha256sum --quiet -c SHA256SUMS >&2); then
    figure "{\"figure\":\"bundle\",\"ok\":false,\"error\":\"a part does not match SHA256SUMS\"}"
    exit 1
  fi
  rm -rf "$work" && mkdir -p "$work"
  if ! (cd "$bundle" && cat $(awk '{print $2}' SHA256SUMS | sort)) | xz -d | tar -x -C "$work"; then
    figure "{\"figure\":\"bundle\",\"ok\":false,\"error\":\"the joined parts do not unpack\"}"
    exit 1
  fi
  app=$work/npo-forge
  figure "{\"figure\":\"bundle\",\"ok\":true,\"unpacked\":\"$work\",\"manifest\":$(cat "$work/bundle.json" | tr -d '\n')}"
fi
cd "$app"

# The loader reads LD_LIBRARY_PATH once, at process start: set it before any node process.
cuda_dirs=${NPO_CUDA_LIB_DIRS:-}
if [ -z "$cuda_dirs" ]; then
  for py in python3 python; do
    root=$($py -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null) || continue
    cuda_dirs=$(find "$root/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | paste -sd:)
    [ -n "$cuda_dirs" ] && break
  done
fi
[ -n "$cuda_dirs" ] && export LD_LIBRARY_PATH=$cuda_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
log "CUDA library folders: ${cuda_dirs:-none set, the default loader path}"
export EXECUTION_PROVIDER=cuda

if command -v nvidia-smi >/dev/null; then
  name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1 | tr -d '\042\134')
  figure "{\"figure\":\"gpu\",\"device\":\"$name\"}"
else
  figure '{"figure":"gpu","device":null,"note":"nvidia-smi not found"}'
fi

provider=$(node --import tsx --input-type=module -e "
  import { findCudaProviderProblems } from './packages/graph/src/cuda/cuda-provider.ts';
  import { Session, Graph, serialize, add } from './packages/graph/src/index.ts';
  const problems = findCudaProviderProblems();
  let session = null;
  if (!problems.length) {
    try {
      const g = new Graph(); const x = g.input('x', 'float32', [2]); g.output('y', add(x, 1));
      const y = await (await Session.create(serialize(g), { executionProvider: 'cuda' })).run({ x: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } });
      session = y.y.data[1] === 3 ? 'ran' : 'wrong result ' + Array.from(y.y.data);
    } catch (e) { session = String(e.message ?? e).slice(0, 500); }
  }
  console.log(JSON.stringify({ figure: 'cuda_provider', ok: session === 'ran', missing: problems.map((p) => p.library), problems: problems.map((p) => p.library + ' (needed by ' + p.neededBy + ', looked in ' + p.lookedIn + ')'), session }));
" 2>&1 | tail -1)
figure "$provider"
case $provider in *'"ok":true'*) ;; *) log "the CUDA provider cannot run here; stopping"; exit 3 ;; esac

for fixture in tiny-unet sdxl-tiny; do
  dir=packages/diffusion/test/fixtures/$fixture
  [ -d "$dir" ] || { figure "{\"figure\":\"verify_reference\",\"fixture\":\"$fixture\",\"ok\":null,\"note\":\"no fixture folder\"}"; continue; }
  for precision in fp32 fp16 bf16; do
    lines=$(node --import tsx packages/diffusion/src/cli/verify-reference.ts "$dir" --precision $precision 2>/dev/null)
    rc=$?
    total=$(grep -c '^{' <<<"$lines")
    failed=$(grep -c '"ok":false' <<<"$lines")
    worst=$(grep '"ok":false' <<<"$lines" | head -3 | tr -d '\042\134' | paste -sd' ')
    # the largest error of each quantity family, so the 16-bit tolerances can be set from CUDA's figures too
    errors=$(grep -o '"name":"[^"]*","max_abs_err":[^,]*' <<<"$lines" | sed -E 's/"name":"([a-z_]+(\.[a-z_]+)?)[^"]*","max_abs_err":(.*)/\1 \3/' \
      | awk '{ if (!($1 in m) || $2 > m[$1]) m[$1] = $2 } END { s = ""; for (k in m) s = s (s ? "," : "") "\"" k "\":" m[k]; print "{" s "}" }')
    figure "{\"figure\":\"verify_reference\",\"fixture\":\"$fixture\",\"provider\":\"cuda\",\"precision\":\"$precision\",\"ok\":$([ $rc = 0 ] && echo true || echo false),\"quantities\":$total,\"failed\":$failed,\"max_abs_err\":${errors:-null},\"first_failures\":\"$worst\"}"
    [ $rc = 0 ] || status=1
  done
done

if [ -z "$skip_bench" ]; then
  if node --import tsx bench/run.ts sd15 --prepare-only >&2; then
    for precision in fp32 fp16 bf16; do
      line=$(node --import tsx bench/run.ts sd15 --steps "$bench_steps" --precision $precision 2>/dev/null | tail -1)
      figure "{\"figure\":\"bench\",\"precision\":\"$precision\",\"result\":${line:-null}}"
      [ -n "$line" ] || status=1
    done
    py=${NPO_BENCH_PYTHON:-python3}
    [ -d "$work/diffusers/src" ] && export PYTHONPATH=$work/diffusers/src${PYTHONPATH:+:$PYTHONPATH}
    if $py -c 'import torch, diffusers, peft; assert torch.cuda.is_available()' 2>/dev/null; then
      line=$($py bench/diffusers_step.py sd15 --device cuda --steps "$bench_steps" 2>/dev/null | tail -1)
      figure "{\"figure\":\"bench\",\"baseline\":\"diffusers+peft\",\"result\":${line:-null}}"
    else
      figure '{"figure":"bench","baseline":"diffusers+peft","result":null,"note":"torch with CUDA, diffusers and peft are not all importable here"}'
    fi
  else
    figure '{"figure":"bench","ok":false,"note":"preparing the sd15 workload failed"}'
    status=1
  fi
fi

if [ -z "$skip_job" ]; then
  if bash scripts/services.sh >&2; then
    if out=$(node --import tsx scripts/demo.ts --steps 20 2>&1); then
      figure "{\"figure\":\"api_job\",\"ok\":true,\"steps\":20,\"provider\":\"cuda\",\"result\":\"$(tail -1 <<<"$out")\"}"
    else
      figure "{\"figure\":\"api_job\",\"ok\":false,\"error\":\"$(tail -3 <<<"$out" | tr -d '\042\134' | paste -sd' ' | cut -c1-400)\"}"
      status=1
    fi
  else
    figure '{"figure":"api_job","ok":null,"note":"Postgres, Redis or the S3 server could not be started here"}'
  fi
fi
exit $status
