"""PEFT methods, one package per family, each holding its pure algorithm (no Lightning), its
training procedure (``procedure.py``) and its Lightning callbacks (``callbacks.py``):

- ``core/``: what the families share: the SFT format (``sft.py``), exact top-K selection
  (``selection.py``), masked training (``masking.py``), NF4 quantisation (``quantization.py``)
- ``sparse/``: LT-SFT (``ltsft``, §4.3), ``rand_sft``, ``bitfit``, ``full`` fine-tuning
- ``spiel/``: SpIEL-AG / SpIEL-MA and qSpIEL (§7.3)
- ``adapters/``: bottleneck adapters and MAD-X (§2.2.1, §2.3.4)
- ``madg/``: MAD-G, adapters generated from typology (§3.3)
- ``peft/``: LoRA and (IA)^3 through the ``peft`` library (§7.4.2)
- ``none.py``: no module (TA-only)

A family registers its methods in its package's ``__init__``: a config dataclass (parsed from the
``lang_module`` / ``task_module`` node, its ``validate(where)`` checking every value with the full key
when the experiment is built) and references (``"module:function"``, imported on first use, so that
planning does not import Lightning) to its training procedure, which returns a :class:`ModuleArtifact`,
and to the loader that reads one back from an artifact directory. The ``METHODS`` registry finds the
packages itself (xlt.registry): adding a method is one new package plus its ``conf/*_module/*.yaml``.

A module has no learning rate of its own: it trains with the schedule it is given (the task's
``task.train``, a language module's ``lang_module.train``), so a swept rate always reaches the
optimiser. Method configs that recommend a rate set ``task.train.lr`` (conf/task_module/*.yaml).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from xlt.config import parse, to_plain
from xlt.errors import ConfigError
from xlt.registry import Registry, resolve
from xlt.schedule import Schedule

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel
    from xlt.training.fit import Fitter


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


TrainProcedure = Callable[[Any, TrainRequest], tuple[ModuleArtifact, dict[str, Any]]]
ArtifactLoader = Callable[[Path], ModuleArtifact]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its config class, its training procedure and artifact loader (as
    ``"module:function"`` references, or None for a method that trains / stores nothing), and a version
    that is part of artifact keys (bump it when the method's training changes what it produces)."""

    config: type
    procedure: str | None = None
    loader: str | None = None
    version: int = 1

    @property
    def trains(self) -> bool:
        """Whether the method has a training procedure (known without importing it, so planning stays light)."""
        return self.procedure is not None

    @property
    def train(self) -> TrainProcedure | None:
        return resolve(self.procedure) if self.procedure else None  # type: ignore[return-value]

    @property
    def load(self) -> ArtifactLoader | None:
        return resolve(self.loader) if self.loader else None  # type: ignore[return-value]


METHODS: Registry[MethodSpec] = Registry("method", "xlt.methods", "method")


def register_method(name: str, config: type, procedure: str | None = None, loader: str | None = None,
                    version: int = 1) -> MethodSpec:
    """Register method ``name`` (a second registration of the name is an error)."""
    return METHODS.add(name, MethodSpec(config, procedure, loader, version), origin=config.__module__)


def parse_module_config(node: Any, where: str) -> Any:
    """The method's config dataclass, every value checked (errors name ``where.key``)."""
    method = node.get("method") if hasattr(node, "get") else None
    config = METHODS.get(method, f"{where}.method").config
    if "lr" in (to_plain(node) or {}) and "lr" not in {f.name for f in dataclasses.fields(config)}:
        schedule = "task.train" if where == "task_module" else f"{where}.train"
        raise ConfigError(f"{where}.lr: a module has no learning rate of its own; set {schedule}.lr "
                          "(the one rate its optimiser gets)")
    fields = {f.name for f in dataclasses.fields(config)}
    phases = sorted({"phase1", "phase2"} & set(to_plain(node) or {}) - fields)
    if phases:
        raise ConfigError(f"{where}.{phases[0]}: method {method!r} trains in one phase, so LT-SFT's phase "
                          f"schedules do not apply (an experiment may set them for LT-SFT); drop them with "
                          f"'~{where}.{phases[0]}' or set the schedule under the task's train keys")
    return parse(config, node, where)
