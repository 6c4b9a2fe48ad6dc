"""4-bit NormalFloat base weights with double quantisation (Dettmers et al., 2023; thesis §7.2.3,
eq. 7.8) for qSpIEL and qLoRA, through bitsandbytes.

Models load quantised with :func:`nf4_config` (transformers' ``BitsAndBytesConfig``): every linear
layer except the output layer becomes a ``bitsandbytes.nn.Linear4bit`` whose weight is
dequantised to the compute dtype (bfloat16 in the thesis) each time it is used.
:func:`quantize_linears` does the same to a model already in memory (used by tests and
benchmarks). bitsandbytes >= 0.45 runs NF4 on the CPU too.

On CPUs with AVX512-BF16, bitsandbytes (>= 0.49) repacks a ``Linear4bit`` the first time it runs in
eval mode on inputs that need no gradient: its block scales (absmax) are rounded to bfloat16 and the
layer then computes in bfloat16, whatever compute dtype was configured. Evaluation would then see
different weights from training (logits differ by ~1e-3 on a tiny Llama). :func:`keep_training_numerics`
turns that repacking off, so a model evaluates with exactly the weights it was trained and validated on;
every NF4 model xlt builds goes through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

QUANTIZATIONS = ("nf4",)


def nf4_config(compute_dtype: torch.dtype = torch.bfloat16) -> Any:
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def nf4_linear(linear: nn.Linear, compute_dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """An NF4, double-quantised copy of ``linear`` (frozen) on the same device."""
    import bitsandbytes as bnb

    device = linear.weight.device
    layer = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=linear.bias is not None,
                              compute_dtype=compute_dtype, compress_statistics=True, quant_type="nf4")
    layer.weight = bnb.nn.Params4bit(linear.weight.detach().to("cpu").clone(), requires_grad=False,
                                     compress_statistics=True, quant_type="nf4")
    if linear.bias is not None:
        layer.bias = nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
    keep_training_numerics(layer)
    return layer.to(device)  # quantisation happens on the move to the device


def keep_training_numerics(model: nn.Module) -> int:
    """Stop bitsandbytes from repacking ``Linear4bit`` layers for its bfloat16 CPU inference kernel
    (see the module docstring); returns how many layers were set."""
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def quantize_linears(root: nn.Module, skip: Iterable[str] = ("lm_head",),
                     compute_dtype: torch.dtype = torch.bfloat16) -> int:
    """Replace every ``nn.Linear`` under ``root`` (except names ending in ``skip``) by an NF4 layer;
    returns how many were replaced."""
    skip = tuple(skip)
    names = [name for name, m in root.named_modules() if isinstance(m, nn.Linear) and not name.endswith(skip)]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = root.get_submodule(parent_name) if parent_name else root
        setattr(parent, child, nf4_linear(getattr(parent, child), compute_dtype))
    return len(names)
