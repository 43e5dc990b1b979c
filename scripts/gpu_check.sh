#!/usr/bin/env bash
# The paper-scale image path measured in one command (at most ~8 minutes on a CUDA GPU):
# DDPM++ training images/s, peak memory and loss in fp32 and bf16 at batch 512, Heun
# generation at 510 NFE, 2-process DDP when two GPUs are visible, and the estimated wall time
# of configs/cifar10.yaml, as JSON on stdout (and results/benchmarks/gpu_check.json).
# Without CUDA it runs a ~30 s smoke version on a small UNet. Extra arguments go to
# `python -m inflationary_flows bench --gpu` (e.g. --budget-s 300 --compile --channels-last).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m inflationary_flows bench --gpu --threads "$(nproc)" "$@"
