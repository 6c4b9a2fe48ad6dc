"""LT-SFT's training procedure (thesis §4.3.1, Algorithm 1; set-up §4.4.2-4.4.3) and its
single-phase relatives rand-SFT (§4.4.1), BitFit and full fine-tuning, all stored as SFTs.

Phase 1 trains densely; the exact global top-K of |theta1 - theta0| is selected in bounded memory
(xlt.methods.core.selection); every parameter, the head included, is reset to theta0; phase 2 trains
with a fresh optimiser and schedule, gradients masked and frozen entries copied back after every step
(callbacks.py), with the L1 pull towards theta0 added once per optimiser step.
"""

from __future__ import annotations

from typing import Any

import torch

from xlt.methods import TrainRequest
from xlt.methods.core.masking import MaskedTraining
from xlt.methods.core.selection import stage_seed
from xlt.methods.core.sft import SFTModule, SparseFineTuning
from xlt.methods.sparse.bitfit import bias_masks
from xlt.methods.sparse.callbacks import L1TowardsInit, MaskedUpdates
from xlt.methods.sparse.config import SparseModuleConfig, resolve_budget
from xlt.methods.sparse.ltsft import freeze_layer_norms, lottery_ticket_masks, maskable_parameters
from xlt.methods.sparse.rand_sft import random_masks
from xlt.training.fit import PhaseResult
from xlt.training.resume import StageScratch


def train_sparse(cfg: SparseModuleConfig, request: TrainRequest) -> tuple[SFTModule, dict[str, Any]]:
    """Algorithm 1 (LTSFT) of thesis §4.3.1 and its single-phase relatives; a language (or source
    language) named in ``cfg.pretrained`` imports that released module instead (xlt.methods.sparse.released)."""
    model = request.model
    key = request.meta.get("lang") if request.meta.get("kind") == "language" else request.meta.get("source")
    if key in cfg.pretrained:
        return _import_released(cfg, request, key)
    if cfg.freeze_layer_norm:
        freeze_layer_norms(model)
    maskable = maskable_parameters(model.body, include_layer_norm=not cfg.freeze_layer_norm)
    head = model.head_parameters()
    body_params = sum(p.numel() for p in model.body.parameters())
    where = request.config_key
    k = resolve_budget(cfg, body_params, sum(p.numel() for p in maskable.values()), request.reference_params, where)
    theta0 = {name: p.detach().clone() for name, p in maskable.items()}
    # a resumed build (xlt.training.resume) starts from the head init of the interrupted one
    scratch = getattr(request.fitter, "scratch", None) or StageScratch(None)
    head0 = scratch.keep("head_init", lambda: {name: p.detach().to("cpu", copy=True) for name, p in head.items()})
    with torch.no_grad():
        for name, param in head.items():
            param.copy_(head0[name].to(param.device))
    callbacks = []
    if cfg.l1_lambda:
        total_params = sum(p.numel() for p in model.parameters())
        l1_params = {**{f"body.{n}": p for n, p in maskable.items()}, **{f"head.{n}": p for n, p in head.items()}}
        l1_reference = {**{f"body.{n}": t for n, t in theta0.items()}, **{f"head.{n}": t for n, t in head0.items()}}
        callbacks.append(L1TowardsInit(l1_params, l1_reference, cfg.l1_lambda / total_params))
    phases: dict[str, PhaseResult] = {}
    schedules = {"phase2": request.schedule.merged(cfg.phase2, f"{where}.phase2")}
    if cfg.method == "ltsft":
        schedules = {"phase1": request.schedule.merged(cfg.phase1, f"{where}.phase1"), **schedules}
        phases["phase1"] = request.fitter.fit(
            model, request.train, request.validation, request.collate, schedules["phase1"], "phase1", callbacks)
        # phase 1's outcome is kept, so a build resumed during phase 2 does not redo phase 1
        masks = scratch.keep("phase1_masks", lambda: lottery_ticket_masks(
            {n: p.detach() for n, p in maskable.items()}, theta0, k))
        with torch.no_grad():  # reset everything, the head included, to theta0 (same init)
            for name, param in maskable.items():
                param.copy_(theta0[name])
            for name, param in head.items():
                param.copy_(head0[name])
    elif cfg.method == "rand_sft":
        # seeded by the stage's identity too: each language / task SFT draws its own subset
        masks = random_masks({n: p.shape for n, p in maskable.items()}, k,
                             stage_seed(request.seed, request.meta, "rand_sft"))
    elif cfg.method == "bitfit":
        masks = bias_masks(maskable)
        k = int(sum(int(m.sum()) for m in masks.values()))
    else:  # full
        masks = {n: torch.ones(p.numel(), dtype=torch.bool) for n, p in maskable.items()}
    masked = MaskedTraining(maskable, masks, theta0)
    phases["phase2"] = request.fitter.fit(
        model, request.train, request.validation, request.collate, schedules["phase2"], "phase2",
        [*callbacks, MaskedUpdates(masked)])
    meta = {**request.meta, "method": cfg.method, "k": k, "density": k / body_params}
    sft = SparseFineTuning.from_masks({n: p.detach() for n, p in maskable.items()}, theta0, masks,
                                      abs_tensors={n: p.detach() for n, p in head.items()}, meta=meta)
    summary = {"k": k, "density": k / body_params, "num_entries": sft.num_entries,
               **{f"{phase}/steps": r.steps for phase, r in phases.items()},
               **{f"{phase}/lr": schedule.lr for phase, schedule in schedules.items()},
               **{f"{phase}/{key}": value for phase, r in phases.items() for key, value in r.metrics.items()}}
    return SFTModule(sft), summary


def _import_released(cfg: SparseModuleConfig, request: TrainRequest, key: str) -> tuple[SFTModule, dict[str, Any]]:
    from xlt.methods.sparse.released import import_released

    sft = import_released(cfg.pretrained[key], request.model, request.meta, f"{request.config_key}.pretrained.{key}")
    body_params = sum(p.numel() for p in request.model.body.parameters())
    k = sft.num_entries
    sft.meta.update({"method": cfg.method, "k": k, "density": k / body_params})
    return SFTModule(sft), {"imported": 1, "k": k, "density": k / body_params, "num_entries": k}
