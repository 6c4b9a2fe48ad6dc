"""PEFT methods as trainable, saveable, composable modules: the registry the pipeline uses.

Each method registers a config dataclass (validated from the ``lang_module`` /
``task_module`` config node: its ``validate(where)`` checks every range and choice when the
experiment is built, naming the full key), a ``train`` procedure (Lightning-driven) that returns a
:class:`ModuleArtifact`, and a ``load`` function that reads one back from an artifact dir.

A module has no learning rate of its own: it trains with the schedule it is given (the task's
``task.train``, a language module's ``lang_module.train``), so a swept rate always reaches the
optimiser. Method configs that recommend a rate set ``task.train.lr`` (conf/task_module/*.yaml).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from xlt.config import check_number, parse, to_plain
from xlt.errors import ConfigError
from xlt.modules.bitfit import bias_masks
from xlt.modules.ltsft import freeze_layer_norms, lottery_ticket_masks, maskable_parameters
from xlt.modules.masking import MaskedTraining
from xlt.modules.rand_sft import random_masks
from xlt.modules.selection import stage_seed
from xlt.modules.sft import AppliedSFT, SparseFineTuning
from xlt.tasks.base import TaskModel
from xlt.tasks.mlm import MLMConfig
from xlt.training.callbacks import L1TowardsInit, MaskedUpdates
from xlt.training.fit import Fitter, PhaseResult
from xlt.training.resume import StageScratch
from xlt.training.schedule import Schedule, ScheduleOverrides


class ModuleArtifact(Protocol):
    """A trained module: saved into an artifact dir, applied to a TaskModel, removed again.

    ``check_base`` raises unless the module was trained on base weights with ``base_hash`` (the
    model's, computed once); ``None`` is the caller's explicit opt-out (e.g. merging a module trained
    on NF4 weights into the unquantised ones). SFT modules attach only after it: their ``attach``
    (each batch, in multi-source training) reuses the hash checked once."""

    def save(self, directory: Path) -> None: ...

    def attach(self, model: TaskModel, with_head: bool) -> Any: ...

    def check_base(self, base_hash: str | None, where: str) -> None: ...


@dataclass
class TrainRequest:
    """Everything a method's training procedure needs."""

    model: TaskModel
    train: Sequence[dict[str, Any]]
    validation: Mapping[str, Sequence[dict[str, Any]]]
    collate: Callable
    schedule: Schedule
    fitter: Fitter
    seed: int
    reference_params: int | None  # parameter count of the real model a tiny stand-in represents
    meta: dict[str, Any] = field(default_factory=dict)
    config_key: str = "task_module"  # the module's config key, for error messages (lang_module, task_module)


@dataclass
class MethodSpec:
    config: type
    train: Callable[[Any, TrainRequest], tuple[ModuleArtifact, dict[str, Any]]] | None
    load: Callable[[Path], ModuleArtifact] | None
    version: int = 1  # bump when the method's training changes what it produces (part of artifact keys)


METHODS: dict[str, MethodSpec] = {}


def register_method(name: str, config: type, train: Callable | None, load: Callable | None,
                    version: int = 1) -> None:
    METHODS[name] = MethodSpec(config, train, load, version)


def parse_module_config(node: Any, where: str) -> Any:
    """The method's config dataclass, every value checked (errors name ``where.key``)."""
    method = node.get("method") if hasattr(node, "get") else None
    if method not in METHODS:
        raise ConfigError(f"{where}.method={method!r}: unknown (known: {', '.join(sorted(METHODS))})")
    config = METHODS[method].config
    if "lr" in (to_plain(node) or {}) and "lr" not in {f.name for f in dataclasses.fields(config)}:
        schedule = "task.train" if where == "task_module" else f"{where}.train"
        raise ConfigError(f"{where}.lr: a module has no learning rate of its own; set {schedule}.lr "
                          "(the one rate its optimiser gets)")
    return parse(config, node, where)


# ---------------------------------------------------------------------------- no module
@dataclass
class NoModuleConfig:
    """``method: none``: no language module (zero-shot: the plan of ``recipe.protocol=ta_only``, §3.4.2)."""

    method: str = "none"


register_method("none", NoModuleConfig, None, None)


# ---------------------------------------------------------------------------- sparse family
@dataclass
class SparseModuleConfig:
    """LT-SFT (``ltsft``), ``rand_sft``, ``bitfit`` and ``full`` fine-tuning, all stored as SFTs.

    Budget: ``density`` (K = density x body parameters) if set, else ``num_trainable`` (K);
    for a tiny stand-in model K is scaled by its size relative to the real model's
    ``model.num_parameters``, so thesis-exact K values work under the smoke profile.
    """

    method: str
    density: float | None = None
    num_trainable: int | None = None
    l1_lambda: float = 0.0  # lambda of the L1 pull towards theta0 (0.1 for language SFTs)
    freeze_layer_norm: bool = True
    # schedule overrides of LT-SFT's dense phase 1 (other methods have one phase: phase2)
    phase1: ScheduleOverrides = field(default_factory=ScheduleOverrides)
    phase2: ScheduleOverrides = field(default_factory=ScheduleOverrides)  # ... and of the sparse (or only) phase
    train: Schedule | None = None  # language modules: the MLM schedule
    mlm: MLMConfig | None = None  # language modules: MLM settings

    def validate(self, where: str) -> None:
        check_number(self.density, f"{where}.density", above=0, maximum=1, optional=True)
        check_number(self.num_trainable, f"{where}.num_trainable", minimum=1, integer=True, optional=True)
        if self.method in ("ltsft", "rand_sft") and self.density is None and self.num_trainable is None:
            raise ConfigError(f"{where}: {self.method} needs a budget: set density or num_trainable")
        check_number(self.l1_lambda, f"{where}.l1_lambda", minimum=0)
        if not isinstance(self.freeze_layer_norm, bool):
            raise ConfigError(f"{where}.freeze_layer_norm={self.freeze_layer_norm!r}: expected true or false")


def resolve_budget(cfg: SparseModuleConfig, body_params: int, maskable: int, reference_params: int | None,
                   where: str) -> int:
    """K, the number of trainable entries: ``density`` x body parameters if set, else ``num_trainable``
    (scaled by body size for a tiny stand-in of a real model). The ranges are checked when the config is
    parsed (:meth:`SparseModuleConfig.validate`); what needs the model (K <= maskable entries) here."""
    if cfg.method == "full":
        return maskable
    if cfg.method == "bitfit":
        return -1  # fixed by the architecture
    if cfg.density is not None:
        k = maskable if cfg.density == 1 else round(cfg.density * body_params)  # 100%: every maskable entry
    elif cfg.num_trainable is not None:
        k = cfg.num_trainable
        if reference_params:
            k = round(cfg.num_trainable * body_params / reference_params)
    else:
        raise ConfigError(f"{where}: set density or num_trainable")
    if not 0 < k <= maskable:
        raise ConfigError(f"{where}: K={k} trainable entries, but the model has {maskable} maskable entries")
    return k


class SFTModule:
    """A trained SFT as a pipeline module."""

    def __init__(self, sft: SparseFineTuning):
        self.sft = sft
        self.checked: tuple[str | None, str] | None = None  # (base hash, where) once check_base passed

    def save(self, directory: Path) -> None:
        self.sft.save(directory / "sft.safetensors")

    def checked_base(self) -> tuple[str | None, str]:
        if self.checked is None:
            raise ValueError("an SFT module attaches after check_base(base_hash, where) (base_hash=None: unchecked)")
        return self.checked

    def attach(self, model: TaskModel, with_head: bool) -> AppliedSFT:
        base_hash, where = self.checked_base()
        return self.sft.apply(model.body, with_abs=with_head, abs_module=model, base_hash=base_hash,
                              verify_base=base_hash is not None, where=where)

    def check_base(self, base_hash: str | None, where: str) -> None:
        if base_hash is not None:
            self.sft.check_base(base_hash, where)
        self.checked = (base_hash, where)


def load_sft_module(directory: Path) -> SFTModule:
    return SFTModule(SparseFineTuning.load(directory / "sft.safetensors"))


def train_sparse(cfg: SparseModuleConfig, request: TrainRequest) -> tuple[SFTModule, dict[str, Any]]:
    """Algorithm 1 (LTSFT) of thesis §4.3.1 and its single-phase relatives."""
    model = request.model
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


for _name in ("ltsft", "bitfit", "full"):
    register_method(_name, SparseModuleConfig, train_sparse, load_sft_module)
register_method("rand_sft", SparseModuleConfig, train_sparse, load_sft_module, version=2)  # 2: stage-seeded masks


# ---------------------------------------------------------------------------- other methods (own modules)
from xlt.training import (  # noqa: E402,F401  (registration: adapter, madg)
    adapters,
    madg,
    spiel_methods,  # noqa: E402,F401  (registration: spiel_ag, spiel_ma, lora, ia3)
)
