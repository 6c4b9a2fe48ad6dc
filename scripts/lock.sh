#!/usr/bin/env bash
# Refresh constraints.txt, the lock that `make test`, `make demo` and CI install from.
#
# Resolves today's newest versions allowed by pyproject.toml (with the dev and eval extras: lm-eval
# runs in tests/test_harness.py) in a brand-new virtualenv, then writes every installed distribution
# except torch and its CUDA/Triton wheels (scripts/install_torch.sh chooses the build for the machine: CUDA with a GPU, CPU without).
# Whoever moves the lock runs the tests on it before committing it:
#     make lock && rm -rf .venv && make test
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=$(mktemp -d /tmp/xlt-lock.XXXXXX)
trap 'rm -rf "$venv"' EXIT
$python -m venv "$venv"
XLT_UNLOCKED=1 bash scripts/install_torch.sh "$venv"
torch_version=$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
"$venv/bin/python" -m pip install --quiet -e ".[dev,eval]" "torch==$torch_version"
{
    echo "# The known-good versions that \`make test\`, \`make demo\` and CI install (pip -c constraints.txt)."
    echo "# pyproject.toml keeps the lower bounds users get. Refresh: \`make lock\` (scripts/lock.sh), then"
    echo "# \`rm -rf .venv && make test\` before committing. torch is left to scripts/install_torch.sh."
    echo "# Resolved $(date -u +%Y-%m-%d) with $("$venv/bin/python" --version), torch $torch_version."
    "$venv/bin/python" -m pip freeze --exclude-editable --all \
        | grep -v -i -E '^(torch|triton|nvidia-[a-z0-9_-]+|pip|setuptools|wheel)==' | sort -f
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages); now: rm -rf .venv && make test"
