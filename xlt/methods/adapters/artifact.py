"""An adapter as a pipeline module (xlt.methods.ModuleArtifact): saved, attached to a task model (with its
task head), removed; and MAD-X 2.0's trimming of imported adapters. No Lightning."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.errors import ArtifactError
from xlt.methods.adapters.bottleneck import LANGUAGE, PfeifferAdapter, attach_adapter, load_adapter, save_adapter
from xlt.methods.core.head import copy_head
from xlt.models.loading import base_mismatch_message

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel


class AttachedModule:
    """Handle of an attached :class:`AdapterModule`: removes the adapter and restores the head."""

    def __init__(self, handle: Any, saved: list[tuple[nn.Parameter, torch.Tensor]]):
        self.handle, self.saved = handle, saved

    def remove(self) -> None:
        with torch.no_grad():
            for param, original in reversed(self.saved):
                param.copy_(original)
        self.saved.clear()
        self.handle.remove()


class AdapterModule:
    """A trained (or generated, or imported) adapter with an optional task head, as a pipeline module."""

    def __init__(self, adapter: PfeifferAdapter, head: dict[str, torch.Tensor] | None = None,
                 meta: dict[str, Any] | None = None):
        self.adapter = adapter
        self.head = dict(head or {})
        self.meta = dict(meta or {})

    def save(self, directory: Path) -> None:
        save_adapter(directory, self.adapter, {f"head/{k}": v for k, v in self.head.items()},
                     {**self.meta, "num_parameters": self.adapter.num_parameters()})

    def attach(self, model: TaskModel, with_head: bool) -> AttachedModule:
        """Insert the (frozen) adapter into ``model`` and, with ``with_head``, copy in the head."""
        self.adapter.requires_grad_(False)
        name = _free_name(model, f"xlt_adapter_{'language' if self.adapter.level == LANGUAGE else 'task'}")
        handle = attach_adapter(model.backbone, self.adapter, owner=model, name=name)
        saved: list[tuple[nn.Parameter, torch.Tensor]] = []
        if with_head and self.head:
            try:
                copy_head(model, self.head, saved, "adapter")
            except ArtifactError:
                AttachedModule(handle, saved).remove()
                raise
        return AttachedModule(handle, saved)

    def check_base(self, base_hash: str | None, where: str) -> None:
        expected = self.meta.get("base_hash")
        if base_hash is not None and expected and expected != base_hash:
            raise ArtifactError(base_mismatch_message(where, self.meta, base_hash))


def _free_name(model: nn.Module, stem: str) -> str:
    index = 0
    while f"{stem}_{index}" in model._modules:
        index += 1
    return f"{stem}_{index}"


def load_adapter_module(directory: Path) -> AdapterModule:
    adapter, extra, config = load_adapter(directory)
    head = {key[len("head/"):]: tensor for key, tensor in extra.items() if key.startswith("head/")}
    return AdapterModule(adapter, head, config)


def keep_layers(adapter: PfeifferAdapter, layers: tuple[int, ...]) -> PfeifferAdapter:
    """``adapter`` without its bottlenecks outside ``layers`` (an AdapterHub import has every layer; MAD-X 2.0
    drops the last one, §4.4.1)."""
    for index in set(adapter.shape.layers) - set(layers):
        del adapter.layers[str(index)]
    adapter.shape = replace(adapter.shape, layers=tuple(i for i in adapter.shape.layers if i in layers))
    return adapter


def freeze(model: nn.Module) -> None:
    for param in model.parameters():
        param.requires_grad_(False)
