"""An experiment: the composed config, validated into typed sections, plus shared resources.

Every section is validated up front (unknown keys, bad values: each config dataclass checks its
ranges and choices as it is parsed, naming the full key such as ``task_module.density``), so a
mistake fails in a second with one line, not after days of language-module training. Data files
are checked next, before the first stage is built (``Stage.validate``, xlt.pipeline.runner).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from xlt.config import as_dict, parse, to_plain
from xlt.errors import ConfigError
from xlt.methods import METHODS, parse_module_config
from xlt.models.loading import ModelConfig, base_weights_hash, load_tokenizer, resolve_model_path
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import DataConfig, parse_data_config
from xlt.pipeline.nmt_config import NmtConfig
from xlt.pipeline.store import ArtifactStore
from xlt.schedule import Schedule
from xlt.tasks import build_task
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

TOP_LEVEL_KEYS = {"name", "seed", "model", "lang_module", "task_module", "task", "data", "recipe", "trainer",
                  "logger", "paths", "profile", "hydra", "cluster", "nmt"}


@dataclass
class PathsConfig:
    root: str
    artifacts: str
    cache: str
    data: str
    samples: str | None = None
    world: str | None = None  # the synthetic world (issue 15): data/ and encoder/ (python -m xlt.pipeline.world)


class Experiment:
    def __init__(self, cfg: DictConfig | dict[str, Any], run_dir: str | Path):
        plain = to_plain(cfg)
        unknown = sorted(set(plain) - TOP_LEVEL_KEYS)
        if unknown:
            known = ", ".join(sorted(TOP_LEVEL_KEYS))
            raise ConfigError(f"unknown top-level config key {unknown[0]!r} (known: {known})")
        self.cfg = plain
        self.run_dir = Path(run_dir)
        self.name: str = plain.get("name") or "experiment"
        self.seed: int = int(plain.get("seed", 42))
        self.profile: str | None = plain.get("profile")
        self.model = parse(ModelConfig, plain["model"], "model")
        self.model.validate()
        self.task_cfg: dict[str, Any] = plain["task"]
        self._check_model_fits_task()
        self.trainer = parse(TrainerConfig, plain.get("trainer"), "trainer")
        self.logger = parse(LoggerConfig, plain.get("logger"), "logger")
        self.paths = parse(PathsConfig, plain["paths"], "paths")
        data = dict(plain["data"])
        data.setdefault("samples_dir", self.paths.samples)
        self.data: DataConfig = parse_data_config(data)
        self.lang_module = parse_module_config(plain["lang_module"], "lang_module")
        self.task_module = parse_module_config(plain["task_module"], "task_module")
        family = build_task(self.task_cfg, tokenizer=None)  # validate the task config before any training
        self._check_task_module(getattr(family, "schedule", None))
        self.recipe_cfg: dict[str, Any] = plain["recipe"]
        self.store = ArtifactStore(self.paths.artifacts)
        self._tokenizers: dict[str, Any] = {}
        self._base_hashes: dict[str, str] = {}

    def _check_model_fits_task(self) -> None:
        """An instruction task trains a causal LM: an encoder (e.g. the synthetic world's, under
        ``+world=synthetic`` instead of ``+world=synthetic_lm``) would be loaded as one with a random head."""
        from xlt.models.tiny import ENCODER_ARCHITECTURES

        if self.task_cfg.get("family") == "instruction" and self.model.architecture in ENCODER_ARCHITECTURES:
            hint = "; on the synthetic world use +world=synthetic_lm" if self.profile == "world_synthetic" else ""
            raise ConfigError(f"model.architecture={self.model.architecture}: task.family=instruction tunes a causal "
                              f"LM, not an encoder{hint}")

    def _check_task_module(self, schedule: Schedule | None) -> None:
        """What a task module's config may not say: it trains with the task's schedule (``task.train``),
        the one home of its learning rate, so a language module's ``train``/``mlm`` would be ignored."""
        method = self.task_module.method
        if method == "none":
            raise ConfigError("task_module.method=none: a task module is required")
        if not METHODS[method].trains:
            raise ConfigError(f"task_module.method={method!r} is not trained as a task module")
        if getattr(self.task_module, "train", None) is not None:
            raise ConfigError("task_module.train: a task module trains with the task's schedule; set task.train.* "
                              "(or task_module.phase1/phase2 for LT-SFT's phases)")
        if getattr(self.task_module, "mlm", None) is not None:
            raise ConfigError("task_module.mlm: only language modules train with MLM (lang_module.mlm)")
        if method in ("spiel_ag", "spiel_ma") and schedule is not None and schedule.weight_decay:
            raise ConfigError(f"task.train.weight_decay={schedule.weight_decay}: {method} decays towards the "
                              "pre-trained weights with task_module.weight_decay; set task.train.weight_decay=0")

    @cached_property
    def nmt(self) -> NmtConfig:
        """The ``nmt`` section (chapter 6's translation model), parsed when a recipe first needs it (the
        smoke profile gives every experiment an ``nmt`` node, which others never read)."""
        if not self.cfg.get("nmt") or not isinstance(self.cfg["nmt"], dict):
            raise ConfigError("nmt: this recipe translates, but no NMT model is configured (add nmt=nllb_3_3b)")
        return parse(NmtConfig, self.cfg["nmt"], "nmt")

    # ------------------------------------------------------------------ shared resources
    @cached_property
    def model_path(self) -> str:
        return resolve_model_path(self.model, Path(self.paths.cache))

    @cached_property
    def base_model(self) -> BaseModel:
        """The configured ``model``, as stages take it (xlt.pipeline.base_model)."""
        return BaseModel(self.model, self.model_spec(), location=self.model_path)

    @property
    def tokenizer(self) -> Any:
        """The configured model's tokenizer."""
        return self.tokenizer_of(self.model_path)

    def tokenizer_of(self, path: str) -> Any:
        """The tokenizer saved with the model at ``path`` (loaded once per process)."""
        if path not in self._tokenizers:
            self._tokenizers[path] = load_tokenizer(path, self.model if path == self.model_path else None)
        return self._tokenizers[path]

    def base_hash(self, body: Any, path: str | None = None) -> str:
        """Hash of the pristine body of the model at ``path`` (default: the configured model), computed
        once per process and model: pass the body as loaded, before any module is attached."""
        path = path or self.model_path
        if path not in self._base_hashes:
            self._base_hashes[path] = base_weights_hash(body)
        return self._base_hashes[path]

    def fitter(self, label: str, work_dir: Path | None = None) -> Fitter:
        """A Fitter for stage ``label``; pass the stage's ``ctx.work_dir`` so it checkpoints there and a
        re-run (or a requeued job) resumes instead of starting over."""
        return Fitter(self.trainer, self.logger, self.run_dir / "logs", label, self.seed, run_name=self.name,
                      work_dir=work_dir)

    def with_model(self, model: ModelConfig, lang_module: Any | None = None) -> Experiment:
        """This experiment on another base model (and language-module config): e.g. a baseline model that a
        recipe runs beside the configured one (BiStil's DistilmBERT, §5.4.1). Caches are shared (per path)."""
        clone = copy.copy(self)
        clone.model = model
        if lang_module is not None:
            clone.lang_module = lang_module
        for name in ("model_path", "base_model"):  # cached properties of the configured model
            clone.__dict__.pop(name, None)
        return clone

    # ------------------------------------------------------------------ artifact keys
    def model_spec(self) -> dict[str, Any]:
        """The base model in artifact keys: hub id + revision, or a local directory's file fingerprint (a
        checkpoint overwritten at the same path gets new keys), or the tiny model's recipe."""
        spec = {"model": self.model.identity(self.paths.cache), "dtype": self.model.dtype}
        if self.model.is_tiny:
            spec["build"] = Path(self.model_path).name  # includes the tokenizer corpora's hash
        return spec

    def training_spec(self) -> dict[str, Any]:
        """Run-wide settings that change what training produces."""
        return {"seed": self.seed, "precision": self.trainer.precision, "devices": self.trainer.devices,
                "max_steps_per_phase": self.trainer.max_steps_per_phase,
                **({"mlm_max_seq_length": self.trainer.mlm_max_seq_length} if self.trainer.mlm_max_seq_length else {})}

    def module_spec(self, module_cfg: Any) -> dict[str, Any]:
        """The module config, plus the method's version where its training changed and the real model's size
        that scales an absolute budget on a stand-in (``model.num_parameters``): what shapes the module (keys)."""
        spec = as_dict(module_cfg)
        key_spec = getattr(module_cfg, "key_spec", None)  # a config that shapes its own part of the keys
        if callable(key_spec):
            spec = key_spec(spec)
        method = METHODS.get(spec.get("method"))
        if method is not None and method.version > 1:
            spec["method_version"] = method.version
        if self.model.num_parameters is not None:  # scales absolute budgets (K) on a stand-in: shapes the module
            spec["reference_params"] = self.model.num_parameters
        return spec
