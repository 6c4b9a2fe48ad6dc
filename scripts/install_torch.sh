#!/usr/bin/env bash
# Install PyTorch into the given virtualenv without ever pulling a CUDA build onto a machine
# without a GPU, and without forcing the CPU build onto one with a GPU.
#   GPU (nvidia-smi works): the default PyPI build (CUDA) of torch==$XLT_TORCH (default: the lock's 2.13.0).
#   CPU: a local CPU wheel if pip can see one, else the CPU wheel from PyTorch's CPU index.
# torch's own dependencies follow constraints.txt (the lock) when it exists.
# Override everything with TORCH_SPEC="torch==X" (and TORCH_INDEX=URL).
set -euo pipefail
venv=${1:-.venv}
pip="$venv/bin/python -m pip"
version=${XLT_TORCH:-${XLT_CPU_TORCH:-2.13.0}}
constraints=()
[ -f constraints.txt ] && [ -z "${XLT_UNLOCKED:-}" ] && constraints=(-c constraints.txt)
if $venv/bin/python -c "import torch" 2>/dev/null; then
    echo "torch $($venv/bin/python -c 'import torch; print(torch.__version__)') already installed"
    exit 0
fi
if [ -n "${TORCH_SPEC:-}" ]; then
    $pip install "$TORCH_SPEC" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU found: installing the default (CUDA) build of torch==$version"
    $pip install "${constraints[@]}" "torch==$version"
elif $pip install --no-index --no-deps "torch==$version" 2>/dev/null; then
    echo "no GPU: installed the local CPU wheel torch==$version"
    $pip install "${constraints[@]}" "torch==$version"   # its dependencies, from the index
else
    echo "no GPU: installing the CPU build of torch==$version from download.pytorch.org"
    $pip install "torch==$version" --index-url https://download.pytorch.org/whl/cpu
    $pip install "${constraints[@]}" "torch==$version"
fi
