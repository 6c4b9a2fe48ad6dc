"""Turning config nodes into typed dataclasses, with one-line errors naming the bad key."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

from xlt.errors import ConfigError

T = TypeVar("T")


def to_plain(node: Any) -> Any:
    """Resolved plain Python containers from an OmegaConf node (anything else unchanged)."""
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def parse(cls: type[T], node: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``node``; unknown keys and missing required keys raise
    :class:`ConfigError` naming ``where.key``. Nested dataclass fields are parsed recursively."""
    data = to_plain(node)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})")
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            value = data[name]
            tp = _unwrap_optional(hints[name])
            if _is_dataclass_type(tp) and value is not None:
                value = parse(tp, value, f"{where}.{name}")
            kwargs[name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None


def as_dict(obj: Any) -> Any:
    """Dataclass (or nested containers) to plain dicts, for hashing and saving."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_dict(v) for v in obj]
    return obj
