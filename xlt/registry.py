"""One registry pattern for everything xlt looks up by a config name: PEFT methods, task
families, recipes and file readers.

Each registry names the package its entries live in. An entry registers itself where it is
defined (``@FAMILIES.register("classification")``, or ``METHODS.register("ltsft", spec)`` in a
method package's ``__init__``); nothing keeps a hand-written import list. The first lookup imports
every module of the package (and a lookup of an unknown name scans again, so a module added later
is found), and registering a name twice is an error, not a silent overwrite. Adding a method, task
family, recipe or reader is therefore one new file (or folder) in its package plus its yaml.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from xlt.errors import ConfigError

T = TypeVar("T")


class DuplicateRegistration(ValueError):
    """Two entries of one registry claim the same name (a programming error, not a user's)."""


class Registry(Generic[T]):
    """Named entries of one kind, discovered from the modules of ``package``.

    ``config_key`` is the config key that selects an entry (``task.family``), used in the one-line
    error for an unknown name."""

    def __init__(self, kind: str, package: str, config_key: str):
        self.kind, self.package, self.config_key = kind, package, config_key
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._scanned: set[str] = set()

    # ------------------------------------------------------------------ registration
    def add(self, name: str, entry: T, origin: str | None = None) -> T:
        """Register ``entry`` under ``name``; a name registered twice raises :class:`DuplicateRegistration`."""
        if name in self._entries and self._entries[name] is not entry:
            raise DuplicateRegistration(f"{self.kind} {name!r} is registered twice: in {self._origins[name]} and in "
                                        f"{origin or getattr(entry, '__module__', '?')}")
        self._entries[name] = entry
        self._origins[name] = origin or getattr(entry, "__module__", "?")
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    # ------------------------------------------------------------------ lookup
    def discover(self) -> None:
        """Import every module (and subpackage) of the registry's package not imported yet; their
        registrations run on import. Modules whose name starts with ``_`` are skipped."""
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.startswith("_") or module.name in self._scanned:
                continue
            self._scanned.add(module.name)
            importlib.import_module(f"{self.package}.{module.name}")

    def get(self, name: object, where: str | None = None) -> T:
        """The entry called ``name``; an unknown name is a one-line ConfigError naming ``where``
        (default: the registry's config key) and the known names."""
        if name not in self._entries:
            self.discover()
        if not isinstance(name, str) or name not in self._entries:
            raise ConfigError(f"{where or self.config_key}={name!r}: unknown (known: {', '.join(self.names())})")
        return self._entries[name]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self.discover()
        return name in self._entries

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        self.discover()
        return iter(sorted(self._entries.items()))

    def forget(self, name: str) -> None:
        """Remove an entry (tests that register a throwaway entry clean up with this)."""
        self._entries.pop(name, None)
        self._origins.pop(name, None)


def resolve(reference: str) -> object:
    """The object a ``"package.module:attribute"`` reference names (imported on first use, so that a
    registry entry can point at code that needs heavy imports, e.g. Lightning, without importing it)."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
