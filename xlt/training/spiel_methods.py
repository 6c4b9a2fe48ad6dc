"""Chapter 7's methods in the registry: SpIEL-AG / SpIEL-MA (and their NF4 variants qSpIEL), and the
peft baselines LoRA / (IA)^3 (and qLoRA). Full fine-tuning is the registry's ``full`` method.

SpIEL's training-time work (selection windows, drop/grow after the optimiser step) is driven by
:class:`SpielCallback`, a Lightning callback calling the plain hooks of
xlt.modules.spiel_selection; the modules know nothing of Lightning. SpIEL artifacts are SFTs
(``sft.safetensors``: per linear weight, flat row-major indices and values); peft artifacts are
the adapter directories peft writes (``adapter/``) plus ``module.json`` (base model and hash).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch

from xlt.config import check_choice, check_number
from xlt.errors import ArtifactError, ConfigError
from xlt.models.loading import DTYPES, base_mismatch_message
from xlt.modules.peft_baselines import attach_ia3, attach_lora, merge_adapters
from xlt.modules.quantization import QUANTIZATIONS
from xlt.modules.selection import stage_seed
from xlt.modules.sft import AppliedSFT, SparseFineTuning
from xlt.modules.spiel import (
    GRAD_MODES,
    SpielModules,
    attach_sft_as_spiel,
    attach_spiel,
    find_target_linears,
    is_4bit,
    lora_equivalent_budget,
)
from xlt.modules.spiel_optim import SparseSM3, SpielAdamW
from xlt.modules.spiel_selection import SCHEDULES, SpielAG, SpielMA, UpdateReport, UpdateSchedule
from xlt.tasks.base import TaskModel
from xlt.training.methods import SFTModule, TrainRequest, register_method
from xlt.training.resume import atomic_torch_save
from xlt.training.schedule import Schedule

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- budgets
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


def _freeze(model: TaskModel) -> None:
    for param in model.parameters():
        param.requires_grad_(False)


# ----------------------------------------------------------------------------- SpIEL
@dataclass
class SpielConfig:
    """``task_module=spiel_ag|spiel_ma`` (§7.3, hyper-parameters §7.4.3-7.4.4, Table 7.1).

    The learning rate is the task's (``task.train.lr``; conf/task_module/spiel_*.yaml set Table 7.1's);
    ``weight_decay`` is SpIEL's own decay of phi towards the pre-trained weights, applied by its optimiser,
    so the task's AdamW decay (``task.train.weight_decay``) must stay 0."""

    method: str
    rank: int | None = 64  # LoRA-rank-equivalent budget (set exactly one of rank/density/num_trainable)
    density: float | None = None
    num_trainable: int | None = None
    targets: list[str] | None = None  # default: every linear layer of the transformer blocks
    weight_decay: float = 0.0  # lambda: decoupled decay of phi towards the pre-trained weights
    interval: int = 20  # S
    window: int = 5  # gamma (gradient-estimation steps; SpIEL-MA uses it only for its update steps)
    replace_rate: float = 0.2  # xi
    schedule: str = "linear"  # or cosine (Appendix E.2)
    quantize: str | None = None  # nf4: qSpIEL (base weights NF4, deltas in values_dtype)
    values_dtype: str = "float32"  # bfloat16 for qSpIEL in the thesis
    grad_mode: str = "sparse"  # sparse: the E.4 backward; dense: X^T dY then gather (the thesis's code)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # Adam (SpIEL-AG)
    eps: float = 1e-8  # Adam / SM3 epsilon
    sm3_beta: float = 0.0  # SM3's accumulator decay (0: running sums, as in the thesis)

    def validate(self, where: str = "task_module") -> None:
        given = [name for name in ("rank", "density", "num_trainable") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ConfigError(f"{where}: set exactly one of rank, density, num_trainable (got {given or 'none'}; "
                              f"e.g. {where}.rank=null {where}.density=0.01)")
        check_number(self.rank, f"{where}.rank", minimum=1, integer=True, optional=True)
        check_number(self.density, f"{where}.density", above=0, maximum=1, optional=True)
        check_number(self.num_trainable, f"{where}.num_trainable", minimum=1, integer=True, optional=True)
        _check_targets(self.targets, f"{where}.targets")
        check_number(self.weight_decay, f"{where}.weight_decay", minimum=0)
        check_number(self.interval, f"{where}.interval", minimum=1, integer=True)
        check_number(self.window, f"{where}.window", minimum=1, maximum=self.interval, integer=True)
        check_number(self.replace_rate, f"{where}.replace_rate", minimum=0, maximum=1)
        check_choice(self.schedule, f"{where}.schedule", SCHEDULES)
        if self.quantize is not None:
            check_choice(self.quantize, f"{where}.quantize", QUANTIZATIONS)
        check_choice(self.values_dtype, f"{where}.values_dtype", sorted(DTYPES))
        check_choice(self.grad_mode, f"{where}.grad_mode", GRAD_MODES)
        if not isinstance(self.betas, list) or len(self.betas) != 2:
            raise ConfigError(f"{where}.betas={self.betas!r}: expected [beta1, beta2]")
        for i, beta in enumerate(self.betas):
            check_number(beta, f"{where}.betas[{i}]", minimum=0, below=1)
        check_number(self.eps, f"{where}.eps", above=0)
        check_number(self.sm3_beta, f"{where}.sm3_beta", minimum=0, below=1)


def _check_targets(targets: Any, where: str) -> None:
    if targets is not None and (not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
                                or not targets):
        raise ConfigError(f"{where}={targets!r}: expected null or a non-empty list of module names")


SELECTION_RECORD = "spiel_selection.pt"  # a finished phase's selection outcome, beside its done.pt


class SpielCallback(L.Callback):
    """Drives a SpIEL selector from Lightning's hooks (micro-batch starts, the optimiser step).

    Resuming (xlt.training.resume): the selector's state (grown_at, update reports, AG's open
    selection windows) is saved with the callback's state in resume checkpoints; Lightning restores
    it before ``on_train_start``, where the selector is created, so it is kept until then. The
    indices travel with the values as a trained buffer (and with them in BestState's snapshots).
    With ``record`` (a file in the phase's scratch dir), the phase's outcome (age histogram,
    update reports) is written at the end of training, before the phase is recorded as finished,
    so that a later attempt reusing the finished phase still reports it (:meth:`outcome`)."""

    def __init__(self, modules: SpielModules, make_selector: Any, record: Path | None = None):
        self.modules, self.make_selector, self.record = modules, make_selector, record
        self.selector: Any = None
        self._current_step = 0
        self._stepped = 0
        self._pending_state: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"selector": self.selector.state_dict()} if self.selector is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending_state = state_dict.get("selector")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.selector = self.make_selector(trainer.optimizers[0], int(trainer.max_steps))
        if self._pending_state is not None:
            self.selector.load_state_dict(self._pending_state)
            self._pending_state = None
        self._current_step = self._stepped = trainer.global_step

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        step = trainer.global_step + 1
        first = step != self._current_step
        self._current_step = step
        self.selector.begin_micro_batch(step, first)

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.selector.before_optimizer_step(trainer.global_step + 1)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.global_step == self._stepped:
            return
        self._stepped = trainer.global_step
        report = self.selector.after_optimizer_step(trainer.global_step)
        if report is not None:
            pl_module.log("train/spiel_replaced", float(report.replaced))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for _, layer in self.modules:
            layer.observer = None
        if self.record is not None and trainer.is_global_zero:
            histogram, reports = self.outcome()
            atomic_torch_save({"histogram": histogram, "reports": [r.to_dict() for r in reports]}, self.record)

    def outcome(self) -> tuple[dict[int, int], list[UpdateReport]]:
        """(entries per step they were last grown at, the update reports) of this phase: from the
        selector, or from ``record`` when the phase finished in an earlier attempt."""
        if self.selector is not None:
            return self.selector.age_histogram(), list(getattr(self.selector, "reports", []))
        if self.record is not None and self.record.exists():
            saved = torch.load(self.record, weights_only=True)
            return ({int(step): int(count) for step, count in saved["histogram"].items()},
                    [UpdateReport.from_dict(report) for report in saved["reports"]])
        if self.record is not None:
            log.warning("no SpIEL selection record %s: the reused phase's updates are not reported", self.record)
        return {}, []


def train_spiel(cfg: SpielConfig, request: TrainRequest) -> tuple[SFTModule, dict[str, Any]]:
    """SpIEL-AG (Algorithm 2) or SpIEL-MA (Algorithm 3) on the model's linear layers, at the request's
    learning rate (the task's ``task.train.lr``)."""
    cfg.validate()
    model = request.model
    _freeze(model)
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
        def optimizer_factory(s: Schedule) -> torch.optim.Optimizer:
            return SpielAdamW(modules.parameters(), lr=s.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                              weight_decay=cfg.weight_decay)

        def make_selector(optimizer: Any, total: int) -> Any:
            return SpielAG(modules, optimizer, UpdateSchedule(total, cfg.interval, cfg.window, cfg.replace_rate,
                                                              cfg.schedule))
    else:
        def optimizer_factory(s: Schedule) -> torch.optim.Optimizer:
            entries = [(layer.values, layer.indices, layer.shape) for _, layer in modules]
            return SparseSM3(entries, lr=s.lr, eps=cfg.eps, beta=cfg.sm3_beta, weight_decay=cfg.weight_decay)

        def make_selector(optimizer: Any, total: int) -> Any:
            return SpielMA(modules, optimizer, UpdateSchedule(total, cfg.interval, cfg.window, cfg.replace_rate,
                                                              cfg.schedule))

    model.optimizer_factory = optimizer_factory
    phase_dir = request.fitter.scratch.phase_dir("train")
    callback = SpielCallback(modules, make_selector, phase_dir / SELECTION_RECORD if phase_dir else None)
    # the best validation state (BestState) restores the indices with the values (a trained buffer)
    result = request.fitter.fit(model, request.train, request.validation, request.collate, schedule, "train",
                                [callback])
    model.optimizer_factory = None
    histogram, updates = callback.outcome()
    meta = {**request.meta, "method": cfg.method, "k": k, "rank": cfg.rank, "quantize": cfg.quantize,
            "density": k / sum(p.numel() for p in model.backbone.parameters()),
            "grown_at": {str(step): count for step, count in histogram.items()}}
    sft = modules.to_sft(meta)
    modules.remove()
    summary = {"k": k, "num_entries": sft.num_entries, "train/steps": result.steps, "train/lr": schedule.lr,
               "updates": len(updates),
               "replaced": sum(report.replaced for report in updates),
               **{f"train/{key}": value for key, value in result.metrics.items()}}
    return SpielModule(sft), summary


class SpielModule(SFTModule):
    """A SpIEL artifact: added into dense weights, or applied on the fly to NF4 weights."""

    def attach(self, model: TaskModel, with_head: bool) -> AppliedSFT | SpielModules:
        if any(is_4bit(m) for m in model.body.modules()):
            base_hash, where = self.checked_base()
            if base_hash is not None:
                self.sft.check_base(base_hash, where)
            return attach_sft_as_spiel(model.body, self.sft)
        return super().attach(model, with_head)


def load_spiel_module(directory: Path) -> SpielModule:
    return SpielModule(SparseFineTuning.load(directory / "sft.safetensors"))


# ----------------------------------------------------------------------------- peft baselines
@dataclass
class PeftMethodConfig:
    """``task_module=lora|ia3`` through peft (§7.4.2-7.4.3): LoRA r, alpha 16, dropout 0.1 on all
    linear layers of the blocks; (IA)^3 on peft's default modules. They train with the task's schedule
    (``task.train``: learning rate and weight decay; conf/task_module/lora.yaml and ia3.yaml set Table 7.1's rate)."""

    method: str
    rank: int = 64
    alpha: float = 16.0
    dropout: float = 0.1
    targets: list[str] | None = None  # default: LoRA all linear layers, (IA)^3 peft's defaults
    feedforward: list[str] | None = None  # (IA)^3: which targets scale their input (default: peft's)
    quantize: str | None = None  # nf4: qLoRA

    def validate(self, where: str = "task_module") -> None:
        check_number(self.rank, f"{where}.rank", minimum=1, integer=True)
        check_number(self.alpha, f"{where}.alpha", above=0)
        check_number(self.dropout, f"{where}.dropout", minimum=0, below=1)
        _check_targets(self.targets, f"{where}.targets")
        _check_targets(self.feedforward, f"{where}.feedforward")
        if self.quantize is not None:
            check_choice(self.quantize, f"{where}.quantize", QUANTIZATIONS)


class PeftModule:
    """A peft adapter directory as a pipeline module."""

    def __init__(self, directory: Path | None = None, attachment: Any = None, meta: dict[str, Any] | None = None):
        self.directory, self.attachment, self.meta = directory, attachment, dict(meta or {})

    def save(self, directory: Path) -> None:
        self.attachment.save(directory / "adapter")
        (directory / "module.json").write_text(json.dumps(self.meta, indent=2) + "\n")

    def attach(self, model: TaskModel, with_head: bool) -> Any:
        if self.directory is None:
            raise ArtifactError("a peft module must be saved before it is attached")
        return merge_adapters(model.backbone, [self.directory / "adapter"])

    def check_base(self, base_hash: str | None, where: str) -> None:
        expected = self.meta.get("base_hash")
        if base_hash is not None and expected and expected != base_hash:
            raise ArtifactError(base_mismatch_message(where, self.meta, base_hash))


def train_peft(cfg: PeftMethodConfig, request: TrainRequest) -> tuple[PeftModule, dict[str, Any]]:
    cfg.validate()
    model = request.model
    _freeze(model)
    if cfg.method == "lora":
        attachment = attach_lora(model.backbone, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets)
    else:
        attachment = attach_ia3(model.backbone, cfg.targets, cfg.feedforward)
    result = request.fitter.fit(model, request.train, request.validation, request.collate, request.schedule, "train")
    meta = {**request.meta, "method": cfg.method, "rank": cfg.rank if cfg.method == "lora" else None,
            "quantize": cfg.quantize, "num_trainable": attachment.num_trainable}
    summary = {"num_trainable": attachment.num_trainable, "train/steps": result.steps, "train/lr": request.schedule.lr,
               **{f"train/{key}": value for key, value in result.metrics.items()}}
    return PeftModule(None, attachment, meta), summary


def load_peft_module(directory: Path) -> PeftModule:
    if not (directory / "adapter" / "adapter_config.json").is_file():
        raise ArtifactError(f"{directory}: no peft adapter (adapter/adapter_config.json)")
    meta = json.loads((directory / "module.json").read_text()) if (directory / "module.json").exists() else {}
    return PeftModule(directory, None, meta)


def module_quantization(cfg: Any) -> str | None:
    """The base-weight quantisation a module config asks for (None: full precision)."""
    return getattr(cfg, "quantize", None)


for _name in ("spiel_ag", "spiel_ma"):
    register_method(_name, SpielConfig, train_spiel, load_spiel_module, version=2)  # 2: stage-seeded init
for _name in ("lora", "ia3"):
    register_method(_name, PeftMethodConfig, train_peft, load_peft_module)
