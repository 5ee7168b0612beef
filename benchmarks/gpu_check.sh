#!/usr/bin/env bash
# The GPU path, measured (issue 21). On a CUDA machine, from the repository root:
#
#     bash benchmarks/gpu_check.sh            # installs the project into .venv, then measures (~10-20 min)
#     bash benchmarks/gpu_check.sh --dry-run  # CPU, tiny sizes, no nvidia-smi, no notebooks (seconds; CI runs it)
#
# Measures: the full profile trained on the embedded dataset (python -m camlib train --profile full) with GPU
# utilisation sampled by nvidia-smi every 200 ms; training images/s with AMP and channels_last on and off; every
# notebook executed in the full profile. Writes benchmarks/results/gpu.json (--out FILE elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
for a in "$@"; do [[ "$a" == "--dry-run" ]] && DRY=1; done
PY=${PYTHON:-.venv/bin/python}
if [[ $DRY == 0 ]]; then
  command -v nvidia-smi >/dev/null || { echo "gpu_check: nvidia-smi not found: run on a CUDA machine, or --dry-run"; exit 2; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  if [[ ! -x $PY ]]; then python3 -m venv .venv; PY=.venv/bin/python; fi
  $PY -m pip install -q -e ".[dev]"   # torch from PyPI ships CUDA; Colab's preinstalled torch is kept
  $PY -c "import torch; assert torch.cuda.is_available(), 'this torch build has no CUDA'; print(torch.__version__, torch.cuda.get_device_name(0))"
fi
exec $PY benchmarks/gpu_check.py "$@"
