#!/usr/bin/env bash
# The generation benchmark on a lent GPU machine, as one command (device `run`, carry [".whl"]):
#   bash bench/device/run.sh                      # the default table, 10 steps (per-step figures)
#   bash bench/device/run.sh --models wan2.1-t2v-1.3b --steps 5
# Installs the carried wheels into /tmp/site, records the GPU, driver and versions, and writes the table and its
# JSON under $OUT (or ./bench-out). Budget: one 10-minute command; 15 minutes of device time a session in all.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-bench-out}"
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
export PYTHONPATH="$PWD/src:/tmp/site" PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch, diffusers, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "diffusers", diffusers.__version__, "transformers", transformers.__version__)'
} 2>&1 | tee "$out/machine.txt"
python3 -m videosynth.bench.generation --json "$out/generation.json" "$@" 2>&1 | tee "$out/generation.md"
