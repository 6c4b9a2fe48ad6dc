"""Task families: one module per family (a ``TaskFamily`` + its ``TaskModel``), registered with
``@register_family(name)`` and found by the ``FAMILIES`` registry (xlt.registry): adding a family is
one new module here plus its ``conf/task/*.yaml``. ``build_task(task_cfg, tokenizer)`` returns the
family a ``task`` config names (``task.family``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xlt.registry import Registry

if TYPE_CHECKING:
    from xlt.tasks.base import TaskFamily

FAMILIES: Registry[Callable[[Any, Any], TaskFamily]] = Registry("task family", "xlt.tasks", "task.family")


def register_family(name: str) -> Callable:
    """Class decorator: ``@register_family("classification")`` on a ``TaskFamily`` subclass."""
    return FAMILIES.register(name)


def build_task(task_cfg: Any, tokenizer: Any) -> TaskFamily:
    family = task_cfg.get("family") if hasattr(task_cfg, "get") else None
    return FAMILIES.get(family)(task_cfg, tokenizer)


__all__ = ["FAMILIES", "build_task", "register_family"]
