#!/usr/bin/env bash
# Install PyTorch into the given virtualenv without ever pulling a CUDA build onto a machine
# without a GPU, and without forcing the CPU build onto one with a GPU.
#   GPU (nvidia-smi works): the default PyPI build (CUDA), any version >= 2.6.
#   CPU: a local CPU wheel if pip can see one (torch==$XLT_CPU_TORCH, default 2.13.0), else the
#        CPU wheel from PyTorch's CPU index.
# Override everything with TORCH_SPEC="torch==X" (and TORCH_INDEX=URL).
set -euo pipefail
venv=${1:-.venv}
pip="$venv/bin/python -m pip"
if $venv/bin/python -c "import torch" 2>/dev/null; then
    echo "torch $($venv/bin/python -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi
if [ -n "${TORCH_SPEC:-}" ]; then
    $pip install "$TORCH_SPEC" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU found: installing the default (CUDA) torch build"
    $pip install "torch>=2.6"
else
    cpu_version=${XLT_CPU_TORCH:-2.13.0}
    if $pip install --no-index --no-deps "torch==$cpu_version" 2>/dev/null; then
        echo "no GPU: installed the local CPU wheel torch==$cpu_version"
        $pip install "torch==$cpu_version"   # its dependencies, from the index
    else
        echo "no GPU: installing the CPU build from download.pytorch.org"
        $pip install torch --index-url https://download.pytorch.org/whl/cpu
    fi
fi
