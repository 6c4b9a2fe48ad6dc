"""Training a fixed subset of entries of dense parameters (LT-SFT phase 2, rand-SFT, BitFit).

Implements the masked update of thesis §4.3.1: the gradient passed to the optimiser is
mu (.) grad. Masked gradients alone do not keep frozen entries still once the optimiser has
decoupled weight decay or stale moments, so after every optimiser step the frozen entries are
copied back from the reference weights: they stay bit-identical, whatever the optimiser.
Nothing here knows about Lightning; xlt.training calls these hooks.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import torch
from torch import nn


def _on_device(store: MutableMapping[str, torch.Tensor], name: str, like: torch.Tensor) -> torch.Tensor:
    """``store[name]`` on ``like``'s device, moved there once (the training loop may move the model)."""
    tensor = store[name]
    if tensor.device != like.device:
        tensor = store[name] = tensor.to(like.device)
    return tensor


class MaskedTraining:
    """Trains only the True entries of ``masks`` (flat or shaped booleans, one per parameter).

    Parameters whose mask is all False are frozen outright (``requires_grad=False``);
    parameters whose mask is all True train densely without any masking cost.
    """

    def __init__(self, params: Mapping[str, nn.Parameter], masks: Mapping[str, torch.Tensor],
                 reference: MutableMapping[str, torch.Tensor]) -> None:
        self.params = dict(params)
        self.masks: dict[str, torch.Tensor] = {}
        self.reference = reference
        for name, param in self.params.items():
            mask = masks[name].reshape(param.shape)
            if not bool(mask.any()):
                param.requires_grad_(False)
            elif not bool(mask.all()):
                self.masks[name] = mask

    def mask_gradients(self) -> None:
        """mu (.) grad for the partially trainable tensors (call before the optimiser step)."""
        for name in self.masks:
            grad = self.params[name].grad
            if grad is not None:
                grad.mul_(_on_device(self.masks, name, grad))

    @torch.no_grad()
    def restore_frozen(self) -> None:
        """Copy the reference values back into every frozen entry (call after the step)."""
        for name in self.masks:
            param = self.params[name]
            mask = _on_device(self.masks, name, param)
            reference = _on_device(self.reference, name, param)
            torch.where(mask, param.data, reference.to(param.dtype), out=param.data)


def add_l1_gradient(params: Mapping[str, nn.Parameter], reference: MutableMapping[str, torch.Tensor],
                    coefficient: float) -> float:
    """Add the gradient of J = coefficient * sum |theta - theta0| (thesis §4.3.1) to each
    parameter's ``.grad`` and return J. Called once per optimiser step, so J does not scale
    with gradient accumulation (the reference code multiplies lambda by the accumulation)."""
    total = 0.0
    with torch.no_grad():
        for name, param in params.items():
            if not param.requires_grad or name not in reference:
                continue
            delta = param.data - _on_device(reference, name, param).to(param.dtype)
            total += float(delta.abs().sum())
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            param.grad.add_(torch.sign(delta), alpha=coefficient)
    return coefficient * total
