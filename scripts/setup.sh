#!/usr/bin/env bash
# Create .venv and install imbalance-lab into it (editable). `bash scripts/setup.sh dev` adds the
# test and lint tools. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# PyTorch first, pinned: left to the package's open range with no torch installed, pip would
# fetch a multi-GB CUDA build. On a GPU machine set TORCH_SPEC to the build you want.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
extra=""
[ "${1:-}" = "dev" ] && extra="[dev]"
.venv/bin/python -m pip install -q -e ".${extra}"
echo "imbalance-lab installed in .venv (activate with: . .venv/bin/activate)"
