#!/usr/bin/env bash
# Makes Benchmarks/reference/.venv with the reference frameworks: PyTorch's CPU wheel and
# JAX (CPU) from PyPI, pinned to the versions the README's numbers came from.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q "torch==2.13.0+cpu" "jax[cpu]==0.10.2" numpy
"$here/.venv/bin/python" -c "import torch, jax; print('reference frameworks: torch', torch.__version__, '· jax', jax.__version__)"
