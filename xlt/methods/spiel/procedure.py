"""SpIEL's training procedure: SpIEL-AG (Algorithm 2) / SpIEL-MA (Algorithm 3) and their NF4 variants
qSpIEL (§7.3) on the Fitter, with SpIEL's own optimisers (SpielAdamW with per-entry ages, SparseSM3) and
:class:`~xlt.methods.spiel.callbacks.SpielCallback` driving drop/grow. SpIEL artifacts are SFTs
(``sft.safetensors``: per linear weight, flat row-major indices and values).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from xlt.errors import ArtifactError, ConfigError
from xlt.methods import TrainRequest
from xlt.methods.core.head import copy_head
from xlt.methods.core.selection import stage_seed
from xlt.methods.core.sft import AppliedSFT, SFTModule, SparseFineTuning
from xlt.methods.spiel.callbacks import SELECTION_RECORD, SpielCallback
from xlt.methods.spiel.config import SpielConfig
from xlt.methods.spiel.optim import SparseSM3, SpielAdamW, dense_sm3_entry
from xlt.methods.spiel.selection import SpielAG, SpielMA, UpdateSchedule
from xlt.methods.spiel.sparse_linear import (
    SpielModules,
    attach_sft_as_spiel,
    attach_spiel,
    find_target_linears,
    is_4bit,
    lora_equivalent_budget,
)
from xlt.models.loading import DTYPES
from xlt.schedule import Schedule

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel


def spiel_budget(rank: int | None, density: float | None, num_trainable: int | None, model: TaskModel,
                 targets: dict[str, Any], reference_params: int | None, where: str,
                 params_per_rank: int | None = None) -> int:
    """d_phi from exactly one of: a LoRA-rank equivalent (r x sum(d_in + d_out) over the targets,
    §7.4.4), a density of the model's total parameter count, or an absolute count.

    For a tiny stand-in of a real model (``reference_params``: the real body size), absolute counts
    and rank equivalents keep the real model's density: a rank-r budget becomes
    r x ``params_per_rank`` (the real model's LoRA parameters per rank, 2,498,560 for Llama-2-7B)
    scaled by the body-size ratio, since a rank means nothing on a 64-wide model."""
    given = [name for name, value in (("rank", rank), ("density", density), ("num_trainable", num_trainable))
             if value is not None]
    if len(given) != 1:
        raise ConfigError(f"{where}: set exactly one of rank, density, num_trainable (got {given or 'none'})")
    capacity = sum(m.in_features * m.out_features for m in targets.values())
    total = sum(p.numel() for p in model.backbone.parameters())
    scale = sum(p.numel() for p in model.body.parameters()) / reference_params if reference_params else None
    if rank is not None:
        if rank < 1:
            raise ConfigError(f"{where}.rank={rank}: must be >= 1")
        if scale is not None and params_per_rank:
            k = round(rank * params_per_rank * scale)
        else:
            k = lora_equivalent_budget(targets, rank)
    elif density is not None:
        if not 0 < density <= 1:
            raise ConfigError(f"{where}.density={density}: must lie in (0, 1]")
        k = round(density * total)
    else:
        k = num_trainable if scale is None else round(num_trainable * scale)
    if not 0 < k <= capacity:
        raise ConfigError(f"{where}: {k} trainable entries, but the target layers have {capacity}")
    return k


def freeze(model: TaskModel) -> None:
    for param in model.parameters():
        param.requires_grad_(False)


def train_spiel(cfg: SpielConfig, request: TrainRequest) -> tuple[SFTModule, dict[str, Any]]:
    """SpIEL-AG (Algorithm 2) or SpIEL-MA (Algorithm 3) on the model's linear layers, at the request's
    learning rate (the task's ``task.train.lr``). A task with a new head (classification, tagging, parsing, QA)
    trains it densely beside the deltas, in the same optimiser, and saves it as the SFT's abs tensors, as LT-SFT
    task SFTs carry theirs (§4.3.2); a causal LM's own output layer stays frozen (§7.4: only the deltas train)."""
    cfg.validate()
    model = request.model
    freeze(model)
    head: dict[str, torch.nn.Parameter] = {}
    if model.head is not None:
        model.head.requires_grad_(True)
        head = model.head_parameters()
    targets = find_target_linears(model.body, cfg.targets)
    if not targets:
        raise ConfigError(f"task_module.targets={cfg.targets}: no linear layer matches")
    if cfg.quantize and not any(is_4bit(m) for m in targets.values()):
        raise ConfigError("task_module.quantize=nf4, but the model's linear layers are not 4-bit")
    k = spiel_budget(cfg.rank, cfg.density, cfg.num_trainable, model, targets, request.reference_params,
                     "task_module", request.meta.get("lora_params_per_rank"))
    # eta's random initialisation (eq. 7.6), drawn per stage: composed modules (Table 7.2) start independent
    modules = attach_spiel(model.body, k, list(targets), seed=stage_seed(request.seed, request.meta, "spiel"),
                           values_dtype=DTYPES[cfg.values_dtype])
    modules.set_grad_mode(cfg.grad_mode)
    schedule = request.schedule

    if cfg.method == "spiel_ag":
        def optimizer_factory(s: Schedule) -> torch.optim.Optimizer:  # SpIEL's own optimiser (§7.3)
            return SpielAdamW([*modules.parameters(), *head.values()], lr=s.lr, betas=tuple(cfg.betas),
                              eps=cfg.eps, weight_decay=cfg.weight_decay)

        def make_selector(optimizer: Any, total: int) -> Any:
            return SpielAG(modules, optimizer, UpdateSchedule(total, cfg.interval, cfg.window, cfg.replace_rate,
                                                              cfg.schedule))
    else:
        def optimizer_factory(s: Schedule) -> torch.optim.Optimizer:  # SpIEL's own optimiser (§7.3)
            entries = [(layer.values, layer.indices, layer.shape) for _, layer in modules]
            entries += [dense_sm3_entry(param) for param in head.values()]
            return SparseSM3(entries, lr=s.lr, eps=cfg.eps, beta=cfg.sm3_beta, weight_decay=cfg.weight_decay)

        def make_selector(optimizer: Any, total: int) -> Any:
            return SpielMA(modules, optimizer, UpdateSchedule(total, cfg.interval, cfg.window, cfg.replace_rate,
                                                              cfg.schedule))

    phase_dir = request.fitter.scratch.phase_dir("train")
    callback = SpielCallback(modules, make_selector, phase_dir / SELECTION_RECORD if phase_dir else None)
    # the best validation state (BestState) restores the indices with the values (a trained buffer)
    result = request.fitter.fit(model, request.train, request.validation, request.collate, schedule, "train",
                                [callback], optimizer=optimizer_factory)
    histogram, updates = callback.outcome()
    meta = {**request.meta, "method": cfg.method, "k": k, "rank": cfg.rank, "quantize": cfg.quantize,
            "density": k / sum(p.numel() for p in model.backbone.parameters()),
            "grown_at": {str(step): count for step, count in histogram.items()}}
    deltas = modules.to_sft(meta)
    sft = SparseFineTuning(deltas.diffs, {name: p.detach().to("cpu", copy=True) for name, p in head.items()},
                           deltas.meta)
    modules.remove()
    summary = {"k": k, "num_entries": sft.num_entries, "train/steps": result.steps, "train/lr": schedule.lr,
               "updates": len(updates),
               "replaced": sum(report.replaced for report in updates),
               **{f"train/{key}": value for key, value in result.metrics.items()}}
    return SpielModule(sft), summary


class SpielModule(SFTModule):
    """A SpIEL artifact: added into dense weights, or applied on the fly to NF4 weights; a task head it
    carries (abs tensors) is copied into the model with ``with_head``."""

    def attach(self, model: TaskModel, with_head: bool) -> AppliedSFT | SpielModules:
        if any(is_4bit(m) for m in model.body.modules()):
            base_hash, where = self.checked_base()
            if base_hash is not None:
                self.sft.check_base(base_hash, where)
            handle = attach_sft_as_spiel(model.body, self.sft)
            if with_head and self.sft.abs:
                try:
                    copy_head(model, self.sft.abs, handle.saved, "SpIEL module")  # handle.remove() restores it
                except ArtifactError:
                    handle.remove()
                    raise
            return handle
        return super().attach(model, with_head)


def load_spiel_module(directory: Path) -> SpielModule:
    return SpielModule(SparseFineTuning.load(directory / "sft.safetensors"))
