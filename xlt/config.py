"""Turning config nodes into typed dataclasses, with one-line errors naming the bad key.

:func:`parse` builds a dataclass from a config node and then calls its ``validate(where)`` method
if it has one, with ``where`` the node's full key (``task_module``, ``lang_module.train``), so range
and enum checks name the full key (``task_module.density``) and fail when the experiment is built,
not when the stage that uses the value starts. A field whose type has a ``from_config(node, where)``
classmethod is built by it (e.g. :class:`xlt.schedule.ScheduleOverrides`).
"""

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
            if value is not None and hasattr(tp, "from_config"):
                value = tp.from_config(value, f"{where}.{name}")
            elif _is_dataclass_type(tp) and value is not None:
                value = parse(tp, value, f"{where}.{name}")
            kwargs[name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    try:
        result = cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from None
    validate = getattr(result, "validate", None)
    if callable(validate):
        validate(where)
    return result


def check_number(value: Any, where: str, *, minimum: float | None = None, maximum: float | None = None,
                 above: float | None = None, below: float | None = None, integer: bool = False,
                 optional: bool = False) -> None:
    """Raise a one-line :class:`ConfigError` naming ``where`` unless ``value`` is a number (an integer
    with ``integer``; None with ``optional``) with ``minimum <= value <= maximum``, ``value > above``
    and ``value < below`` (each bound optional)."""
    if value is None and optional:
        return
    kind = "an integer" if integer else "a number"
    numeric = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not numeric or (not integer and value != value):  # bools and NaN are not numbers
        raise ConfigError(f"{where}={value!r}: expected {kind}{' or null' if optional else ''}")
    limits = [(minimum is None or value >= minimum, f">= {minimum}"), (above is None or value > above, f"> {above}"),
              (maximum is None or value <= maximum, f"<= {maximum}"), (below is None or value < below, f"< {below}")]
    if not all(ok for ok, _ in limits):
        bounds = [text for (_, text), bound in zip(limits, (minimum, above, maximum, below)) if bound is not None]
        raise ConfigError(f"{where}={value!r}: must be {' and '.join(bounds)}")


def check_choice(value: Any, where: str, choices: Any) -> None:
    """Raise a one-line :class:`ConfigError` naming ``where`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{where}={value!r}: expected one of {', '.join(map(str, choices))}")


def as_dict(obj: Any) -> Any:
    """Dataclass (or nested containers) to plain dicts, for hashing and saving."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_dict(v) for v in obj]
    return obj


def check_names(value: Any, where: str) -> None:
    """Raise unless ``value`` is None or a non-empty list of strings (module names, language codes)."""
    if value is not None and (not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{where}={value!r}: expected null or a non-empty list of names")
