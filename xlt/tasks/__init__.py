"""Task families. ``build_task(task_cfg, tokenizer)`` returns the family for a ``task`` config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xlt.errors import ConfigError
from xlt.tasks.base import TaskFamily, TaskModel

FAMILIES: dict[str, Callable[[Any, Any], TaskFamily]] = {}


def register_family(name: str):
    def register(factory):
        FAMILIES[name] = factory
        return factory

    return register


def build_task(task_cfg: Any, tokenizer: Any) -> TaskFamily:
    family = task_cfg.get("family") if hasattr(task_cfg, "get") else None
    _import_families()
    if family not in FAMILIES:
        raise ConfigError(f"task.family={family!r}: unknown (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[family](task_cfg, tokenizer)


def _import_families() -> None:
    from xlt.tasks import (  # noqa: F401  (registration side effects)
        classification,
        instruction,
        mlm,
        parsing,
        qa,
        tagging,
        translation,
    )


__all__ = ["FAMILIES", "TaskFamily", "TaskModel", "build_task", "register_family"]
