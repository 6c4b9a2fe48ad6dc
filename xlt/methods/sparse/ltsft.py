"""Lottery-Ticket Sparse Fine-Tuning (thesis §4.3.1, Algorithm 1; set-up §4.4.2-4.4.3).

Phase 1 fully fine-tunes theta0 into theta1; the K entries with the largest |theta1 - theta0|
over all maskable tensors are selected (exactly K, globally, ties broken deterministically);
all parameters, the task head included, are reset to theta0; phase 2 trains only those K
entries with a fresh optimiser and schedule. phi = theta2 - theta0 is the SFT.

This file holds the method's parts that do not depend on the training loop: which
parameters are maskable, the language-SFT preparation (untied, frozen output embeddings;
frozen LayerNorm) and the selection itself. The loop lives in ``xlt.training.sparse``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from xlt.methods.core.selection import abs_diff_scores, topk_masks


def is_layer_norm(name: str, module: nn.Module | None = None) -> bool:
    if module is not None and isinstance(module, nn.LayerNorm):
        return True
    lowered = name.lower()
    return "layernorm" in lowered or "layer_norm" in lowered or ".ln_" in lowered or lowered.startswith("ln_")


def freeze_layer_norms(model: nn.Module) -> int:
    """Freeze every LayerNorm (and RMSNorm) parameter; returns how many tensors were frozen."""
    frozen = 0
    for module_name, module in model.named_modules():
        norm_like = isinstance(module, nn.LayerNorm) or type(module).__name__.endswith(("LayerNorm", "RMSNorm"))
        if norm_like or is_layer_norm(module_name):
            for param in module.parameters(recurse=False):
                param.requires_grad_(False)
                frozen += 1
    return frozen


def untie_and_freeze_output_embeddings(model: nn.Module) -> None:
    """Decouple the MLM output matrix from the input embeddings and freeze it (§4.4.2):
    otherwise the top-K fills up with embedding rows."""
    output = model.get_output_embeddings()  # type: ignore[operator]
    if output is None:
        return
    weight = output.weight
    if weight is model.get_input_embeddings().weight:  # type: ignore[operator]
        output.weight = nn.Parameter(weight.detach().clone())
    output.weight.requires_grad_(False)
    if hasattr(model, "config"):
        model.config.tie_word_embeddings = False


def maskable_parameters(body: nn.Module, exclude: tuple[str, ...] = ("pooler",),
                        include_layer_norm: bool = False) -> dict[str, nn.Parameter]:
    """Body parameters that may enter an SFT: trainable, not excluded by name, and not
    LayerNorm (unless ``include_layer_norm``, as for full fine-tuning)."""
    result = {}
    for name, param in body.named_parameters():
        if not param.requires_grad or any(part in name for part in exclude):
            continue
        if include_layer_norm or not is_layer_norm(name):
            result[name] = param
    return result


def lottery_ticket_masks(after: Mapping[str, torch.Tensor], before: Mapping[str, torch.Tensor],
                         k: int) -> dict[str, torch.Tensor]:
    """Exactly-K global selection of the largest |theta1 - theta0| (flat boolean masks)."""
    numels = {name: tensor.numel() for name, tensor in after.items()}
    return topk_masks(numels, abs_diff_scores(after, before), k)
