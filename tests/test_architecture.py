"""The layers of docs/architecture.md hold in the code: no module imports from a layer above its own,
Lightning stays out of the algorithms, and nothing needs an import list to be found."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import REPO

XLT = REPO / "xlt"

# Bottom to top, as docs/architecture.md draws them: a module may import its own layer and the ones below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("xlt", "xlt.errors", "xlt.config", "xlt.schedule", "xlt.registry", "xlt.paths", "xlt.utils")),
    ("typology and metrics", ("xlt.typology", "xlt.eval")),
    ("data", ("xlt.data",)),
    ("models", ("xlt.models",)),
    ("algorithms", ("xlt.methods", "xlt.translation", "xlt.distillation")),
    ("tasks", ("xlt.tasks",)),
    ("training", ("xlt.training",)),
    ("procedures", ()),  # the methods' procedure.py / callbacks.py and the distillation procedure (below)
    ("pipeline", ("xlt.pipeline",)),
    ("front", ("xlt.cluster", "xlt.report")),
]
PROCEDURE_FILES = re.compile(r"^xlt\.(methods\.\w+|distillation)\.(procedure|callbacks)$")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    if PROCEDURE_FILES.match(module):
        return next(i for i, (name, _) in enumerate(LAYERS) if name == "procedures")
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module}: in no layer of docs/architecture.md"
    return best


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, lazy ones included, except those under
    ``if TYPE_CHECKING:`` (type hints only)."""
    tree = ast.parse(path.read_text(), str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base.startswith("xlt")]
    return found


SOURCES = sorted(XLT.rglob("*.py"))


def test_no_module_imports_from_a_layer_above_its_own():
    violations: list[str] = []
    modules = {module_name(p) for p in SOURCES}
    for path in SOURCES:
        here = module_name(path)
        own = layer_of(here)
        for line, target in imports(path):
            if not target.startswith("xlt.") and target != "xlt":
                continue
            target_module = target
            while target_module not in modules and "." in target_module:
                target_module = target_module.rpartition(".")[0]  # an imported name, not a module
            if layer_of(target_module) > own and not any(f":{line}: " in v for v in violations[-3:]):
                violations.append(f"{path.relative_to(REPO)}:{line}: {here} ({LAYERS[own][0]}) imports "
                                  f"{target_module} ({LAYERS[layer_of(target_module)][0]})")
    assert not violations, "\n".join(violations)


def test_lightning_stays_out_of_the_algorithms():
    """Only task models, the training loop, procedures and callbacks (and what drives them) import Lightning."""
    allowed = {name for name, _ in LAYERS[LAYERS.index(next(x for x in LAYERS if x[0] == "tasks")):]}
    offenders = [f"{path.relative_to(REPO)}:{line}" for path in SOURCES for line, target in imports(path)
                 if target.split(".")[0] in ("lightning", "pytorch_lightning")
                 and LAYERS[layer_of(module_name(path))][0] not in allowed]
    assert not offenders, offenders


def test_no_import_circles_papered_over():
    """No ``noqa: E402`` (a module-level import after code: the sign of an import circle) in xlt/."""
    offenders = [f"{path.relative_to(REPO)}:{i}" for path in SOURCES
                 for i, line in enumerate(path.read_text().splitlines(), 1) if "noqa: E402" in line]
    assert not offenders, offenders


@pytest.mark.parametrize("package", ["xlt/methods", "xlt/tasks", "xlt/pipeline/recipes", "xlt/data/formats"])
def test_registries_need_no_import_list(package):
    """No module of a registry's package imports its siblings just to register them."""
    root = REPO / package
    siblings = {p.stem for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    dotted = package.replace("/", ".")
    init = (root / "__init__.py").read_text()
    listed = [name for name in siblings if name != "__init__" and re.search(
        rf"from {re.escape(dotted)} import [^\n]*\b{name}\b|import {re.escape(dotted)}\.{name}\b", init)]
    assert not listed, f"{package}/__init__.py imports {listed} (registration must not need an import list)"


THROWAWAY_FAMILY = """
from dataclasses import dataclass

from xlt.tasks import register_family
from xlt.tasks.classification import ClassificationFamily


@register_family("{name}")
class ThrowawayFamily(ClassificationFamily):
    pass
"""


def test_a_task_family_in_one_new_file_is_found_with_no_other_edit():
    from xlt.tasks import FAMILIES, build_task

    name = "zz_throwaway_family"
    path = XLT / "tasks" / f"{name}.py"
    path.write_text(THROWAWAY_FAMILY.format(name=name))
    try:
        family = build_task({"family": name, "name": "nli", "labels": ["a", "b"]}, tokenizer=None)
        assert type(family).__name__ == "ThrowawayFamily" and name in FAMILIES.names()
    finally:
        path.unlink()
        FAMILIES.forget(name)


def test_a_name_registered_twice_is_an_error():
    from xlt.methods import METHODS, register_method
    from xlt.methods.none import NoModuleConfig
    from xlt.registry import DuplicateRegistration

    assert "none" in METHODS
    with pytest.raises(DuplicateRegistration, match="method 'none' is registered twice"):
        register_method("none", NoModuleConfig)


@pytest.mark.parametrize("registry, key", [("xlt.methods:METHODS", "method"), ("xlt.tasks:FAMILIES", "task.family"),
                                           ("xlt.pipeline.recipes:RECIPES", "recipe.name"),
                                           ("xlt.data.readers:READERS", "format")])
def test_every_registry_discovers_its_package(registry, key):
    from xlt.errors import ConfigError
    from xlt.registry import resolve

    entries = resolve(registry)
    assert len(entries.names()) >= 4
    with pytest.raises(ConfigError, match=rf"^{key}='nope': unknown \(known: "):
        entries.get("nope")
