"""Bottleneck adapters as pipeline modules: ``lang_module=adapter`` / ``task_module=adapter`` (MAD-X).

Language adapters (Pfeiffer configuration + invertible adapter, reduction factor 2: ~7.4M parameters
for mBERT/XLM-R-base sizes, the thesis's "~7.6M", §4.4.2) train with MLM on the frozen base model;
task adapters (reduction factor 16, §6.4.2, or the 32..1 sweep of §4.4.3; m = 48 for MAD-G, §3.4.3)
train with the head on base + frozen source language adapter and are stacked on top of the target
language adapter at inference (§2.3.4). An :class:`~xlt.methods.adapters.artifact.AdapterModule` implements the artifact
interface of :mod:`xlt.methods`, so the zero-shot recipe composes adapters exactly like SFTs.
"""

from __future__ import annotations

from typing import Any

from xlt.errors import ArtifactError
from xlt.methods import TrainRequest
from xlt.methods.adapters.artifact import AdapterModule, freeze, keep_layers
from xlt.methods.adapters.bottleneck import LANGUAGE, TASK, PfeifferAdapter, attach_adapter, find_sites, load_adapterhub
from xlt.methods.adapters.config import AdapterModuleConfig
from xlt.training.fit import PhaseResult


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
