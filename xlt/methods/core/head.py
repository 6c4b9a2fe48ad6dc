"""Putting a module's saved task head into a task model: shared by every module kind that carries one
(adapters, LoRA/(IA)3), so each checks shapes and records the originals the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from xlt.errors import ArtifactError


def copy_head(model: Any, tensors: Mapping[str, torch.Tensor], saved: list[tuple[Any, torch.Tensor]],
              kind: str) -> None:
    """Copy ``tensors`` (keyed by their names in ``model``, e.g. ``head.classifier.weight``) into ``model``,
    appending each parameter's original to ``saved`` first, so a handle's ``remove()`` restores it. A missing
    name or another shape raises ArtifactError (what was copied so far is in ``saved``)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, tensor in tensors.items():
            param = params.get(key)
            if param is None or tuple(param.shape) != tuple(tensor.shape):
                raise ArtifactError(f"{kind} head tensor {key!r} {tuple(tensor.shape)} does not match the model "
                                    f"({None if param is None else tuple(param.shape)})")
            saved.append((param, param.detach().clone()))
            param.copy_(tensor.to(param.device, param.dtype))
