"""Bottleneck adapters as pipeline modules: ``lang_module=adapter`` / ``task_module=adapter`` (MAD-X).

Language adapters (Pfeiffer configuration + invertible adapter, reduction factor 2: ~7.4M parameters
for mBERT/XLM-R-base sizes, the thesis's "~7.6M", §4.4.2) train with MLM on the frozen base model;
task adapters (reduction factor 16, §6.4.2, or the 32..1 sweep of §4.4.3; m = 48 for MAD-G, §3.4.3)
train with the head on base + frozen source language adapter and are stacked on top of the target
language adapter at inference (§2.3.4). An :class:`AdapterModule` implements the artifact interface
of :mod:`xlt.training.methods`, so the zero-shot recipe composes adapters exactly like SFTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import check_choice, check_number
from xlt.errors import ArtifactError, ConfigError
from xlt.models.loading import base_mismatch_message
from xlt.modules.adapters import (
    ACTIVATIONS,
    LANGUAGE,
    TASK,
    AdapterShape,
    PfeifferAdapter,
    attach_adapter,
    find_sites,
    load_adapter,
    load_adapterhub,
    save_adapter,
)
from xlt.tasks.base import TaskModel
from xlt.tasks.mlm import MLMConfig
from xlt.training.fit import PhaseResult
from xlt.training.schedule import Schedule

if TYPE_CHECKING:
    from xlt.training.methods import TrainRequest


@dataclass
class AdapterModuleConfig:
    """``method: adapter``: a Pfeiffer bottleneck adapter per layer (eq. 2.8), bottleneck = hidden /
    ``reduction_factor``; ``invertible`` adds the NICE embedding adapter (language adapters);
    ``leave_out: [-1]`` drops the last layer's adapter (MAD-X 2.0). ``pretrained`` maps a language
    to an AdapterHub Pfeiffer adapter directory to import instead of training (e.g. the public MAD-X
    language adapters)."""

    method: str = "adapter"
    reduction_factor: float = 16.0
    invertible: bool = False
    inv_reduction_factor: float = 2.0
    non_linearity: str = "relu"
    leave_out: list[int] = field(default_factory=list)
    init: str = "bert"  # bert: N(0, 0.02) (AdapterHub) | zero_up: zero up-projections
    pretrained: dict[str, str] = field(default_factory=dict)
    train: Schedule | None = None  # language modules: the MLM schedule
    mlm: MLMConfig | None = None  # language modules: MLM settings

    def validate(self, where: str) -> None:
        check_number(self.reduction_factor, f"{where}.reduction_factor", above=0)
        check_number(self.inv_reduction_factor, f"{where}.inv_reduction_factor", above=0)
        if not isinstance(self.invertible, bool):
            raise ConfigError(f"{where}.invertible={self.invertible!r}: expected true or false")
        check_choice(str(self.non_linearity).lower(), f"{where}.non_linearity", list(ACTIVATIONS))
        check_layers(self.leave_out, f"{where}.leave_out")
        check_choice(self.init, f"{where}.init", ("bert", "zero_up"))
        for lang, directory in self.pretrained.items():
            if not isinstance(directory, str) or not directory:
                raise ConfigError(f"{where}.pretrained.{lang}={directory!r}: expected an AdapterHub adapter directory")

    def shape(self, hidden_size: int, num_layers: int) -> AdapterShape:
        return AdapterShape.from_reduction_factor(
            hidden_size, num_layers, self.reduction_factor, self.leave_out, invertible=self.invertible,
            inv_reduction_factor=self.inv_reduction_factor, non_linearity=self.non_linearity)


def check_layers(layers: Any, where: str) -> None:
    """``leave_out``: a list of layer indices (negative ones count from the last layer)."""
    if not isinstance(layers, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in layers):
        raise ConfigError(f"{where}={layers!r}: expected a list of layer indices (e.g. [-1]: the last layer)")


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
            params = dict(model.named_parameters())
            try:
                with torch.no_grad():
                    for key, tensor in self.head.items():
                        param = params.get(key)
                        if param is None or tuple(param.shape) != tuple(tensor.shape):
                            raise ArtifactError(f"adapter head tensor {key!r} {tuple(tensor.shape)} does not match "
                                                f"the model ({None if param is None else tuple(param.shape)})")
                        saved.append((param, param.detach().clone()))
                        param.copy_(tensor.to(param.device, param.dtype))
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


def freeze(model: nn.Module) -> None:
    for param in model.parameters():
        param.requires_grad_(False)


def keep_layers(adapter: PfeifferAdapter, layers: tuple[int, ...]) -> PfeifferAdapter:
    """``adapter`` without its bottlenecks outside ``layers`` (an AdapterHub import has every layer; MAD-X 2.0
    drops the last one, §4.4.1)."""
    for index in set(adapter.shape.layers) - set(layers):
        del adapter.layers[str(index)]
    adapter.shape = replace(adapter.shape, layers=tuple(i for i in adapter.shape.layers if i in layers))
    return adapter


def fit_with_adapter(adapter: PfeifferAdapter, request: TrainRequest, name: str) -> PhaseResult:
    """Fit the request's phase ``train`` with ``adapter`` attached to the backbone; detached afterwards."""
    model = request.model
    handle = attach_adapter(model.backbone, adapter, owner=model, name=name)
    try:
        return request.fitter.fit(model, request.train, request.validation, request.collate, request.schedule,
                                  "train")
    finally:
        handle.remove()


def train_adapter(cfg: AdapterModuleConfig, request: TrainRequest) -> tuple[AdapterModule, dict[str, Any]]:
    """Train a language adapter (MLM; base frozen) or a task adapter (+ head; base and any attached
    language adapter frozen) for one phase with the request's schedule."""
    model = request.model
    level = LANGUAGE if request.meta.get("kind") == "language" else TASK
    sites = find_sites(model.backbone)
    shape = cfg.shape(sites.hidden_size, len(sites.layer_norms))
    meta = {**request.meta, "method": "adapter", "reduction_factor": cfg.reduction_factor}
    lang = request.meta.get("lang")
    if lang is not None and lang in cfg.pretrained:  # import instead of training
        adapter = load_adapterhub(cfg.pretrained[lang], level=level, num_layers=len(sites.layer_norms))
        if adapter.shape.hidden_size != sites.hidden_size:
            raise ArtifactError(f"{cfg.pretrained[lang]}: adapter hidden size {adapter.shape.hidden_size} != "
                                f"model hidden size {sites.hidden_size}")
        adapter = keep_layers(adapter, shape.layers)  # leave_out (MAD-X 2.0) applies to imports too
        meta["imported_from"] = str(cfg.pretrained[lang])
        return AdapterModule(adapter, None, meta), {"imported": 1, "num_parameters": adapter.num_parameters()}
    freeze(model)
    head = model.head
    if head is not None:
        head.requires_grad_(True)
    adapter = PfeifferAdapter(shape, level=level, init=cfg.init, seed=request.seed)
    result = fit_with_adapter(adapter, request, "xlt_trained_adapter")
    head_tensors = {f"head.{n}": p.detach().cpu().clone() for n, p in head.named_parameters()} if head else {}
    module = AdapterModule(adapter.cpu(), head_tensors, meta)
    return module, {"num_parameters": adapter.num_parameters(), "train/steps": result.steps,
                    "train/lr": request.schedule.lr, **{f"train/{k}": v for k, v in result.metrics.items()},
                    **{f"batches/{lang}": n for lang, n in result.batches.items()}}  # multi-source: per language


from xlt.training.methods import register_method  # noqa: E402  (here: methods imports this module)

register_method("adapter", AdapterModuleConfig, train_adapter, load_adapter_module)
