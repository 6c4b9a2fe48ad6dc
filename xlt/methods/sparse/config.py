"""The sparse family's config (``lang_module`` / ``task_module`` with method ltsft, rand_sft, bitfit,
full) and its budget rule (thesis §4.4.2-4.4.3: K as an absolute count or a density)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    ``pretrained`` maps a language (a language module's, or a task module's source language) to a released
    composable-sft module (hub id or local path) imported instead of training (xlt.methods.sparse.released).
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
    pretrained: dict[str, str] = field(default_factory=dict)  # language -> released module (hub id or path)

    def validate(self, where: str) -> None:
        from xlt.methods.sparse.released import check_released

        if not isinstance(self.pretrained, dict):
            raise ConfigError(f"{where}.pretrained={self.pretrained!r}: expected a mapping language -> module")
        for lang, value in self.pretrained.items():
            check_released(value, f"{where}.pretrained.{lang}")
        check_number(self.density, f"{where}.density", above=0, maximum=1, optional=True)
        check_number(self.num_trainable, f"{where}.num_trainable", minimum=1, integer=True, optional=True)
        if self.method in ("ltsft", "rand_sft") and self.density is None and self.num_trainable is None:
            raise ConfigError(f"{where}: {self.method} needs a budget: set density or num_trainable")
        check_number(self.l1_lambda, f"{where}.l1_lambda", minimum=0)
        if not isinstance(self.freeze_layer_norm, bool):
            raise ConfigError(f"{where}.freeze_layer_norm={self.freeze_layer_norm!r}: expected true or false")


    def key_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The config in artifact keys: ``pretrained`` only when set (keys of trained modules stay as they
        were), a local module by the content of its diff file (a module replaced in place gets new keys)."""
        from xlt.methods.sparse.released import DIFF_FILE, is_local
        from xlt.utils.hashing import file_fingerprint

        spec = dict(spec)
        pretrained = spec.pop("pretrained", None) or {}
        if pretrained:
            spec["pretrained"] = {}
            for lang, value in pretrained.items():
                path = Path(value).expanduser()
                if is_local(value) and (path.is_file() or (path / DIFF_FILE).is_file()):
                    value = {"local": file_fingerprint(path if path.is_file() else path / DIFF_FILE)}
                spec["pretrained"][lang] = value
        return spec


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
