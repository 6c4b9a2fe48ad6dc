"""The sparse family's config (``lang_module`` / ``task_module`` with method ltsft, rand_sft, bitfit,
full) and its budget rule (thesis §4.4.2-4.4.3: K as an absolute count or a density)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xlt.config import check_number
from xlt.data.blocks import MLMConfig
from xlt.errors import ConfigError
from xlt.schedule import Schedule, ScheduleOverrides


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
