"""The jobs of a run, a multirun, or a tree of them: their overrides, results, errors and config."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ERROR_FILE = "error.json"
# overrides that do not change results (where things go, how they are launched)
IGNORED_PREFIXES = ("hydra", "paths", "cluster", "logger", "trainer.progress_bar", "trainer.num_workers")
SEED = "seed"


@dataclass
class Job:
    path: Path
    status: str  # finished | failed | unfinished
    params: dict[str, str]  # override key -> value (without ignored keys)
    results: dict[str, Any] | None = None
    error: str | None = None
    _config: dict[str, Any] | None = field(default=None, repr=False)
    _choices: dict[str, str] | None = field(default=None, repr=False)

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.path}" + (f" ({params})" if params else "")

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config (``run.json``'s, else ``.hydra/config.yaml``); {} when neither is readable."""
        if self._config is None:
            self._config = _read_config(self.path)
        return self._config

    @property
    def choices(self) -> dict[str, str]:
        """Hydra's config-group choices (``.hydra/hydra.yaml``: ``task_module: sft``), {} when absent."""
        if self._choices is None:
            self._choices = _read_choices(self.path)
        return self._choices


def find_jobs(directory: str | Path) -> list[Job]:
    """Every job dir under ``directory`` (itself included), in a stable order (numeric names by value)."""
    root = Path(directory)
    found: list[Path] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        if ".hydra" in dirs or "results.json" in files:
            found.append(here)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("artifacts", "logs", "report"))
    return [_read_job(path) for path in sorted(found, key=_natural_key)]


def _natural_key(path: Path) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def _read_job(path: Path) -> Job:
    params = parse_overrides(_read_overrides(path))
    results_file, error_file = path / "results.json", path / ERROR_FILE
    if results_file.exists():
        try:
            return Job(path, "finished", params, results=json.loads(results_file.read_text()))
        except json.JSONDecodeError as error:
            return Job(path, "failed", params, error=f"{results_file}: malformed ({error.msg})")
    if error_file.exists():
        try:
            error = json.loads(error_file.read_text()).get("error")
        except json.JSONDecodeError:
            error = error_file.read_text().strip()
        return Job(path, "failed", params, error=str(error))
    return Job(path, "unfinished", params)


def _read_overrides(path: Path) -> list[str]:
    file = path / ".hydra" / "overrides.yaml"
    if file.exists():
        return [str(item) for item in (yaml.safe_load(file.read_text()) or [])]
    run = path / "run.json"
    if run.exists():
        try:
            return [str(item) for item in json.loads(run.read_text()).get("overrides", [])]
        except json.JSONDecodeError:
            return []
    return []


def _read_config(path: Path) -> dict[str, Any]:
    run = path / "run.json"
    if run.exists():
        try:
            config = json.loads(run.read_text()).get("config")
        except json.JSONDecodeError:
            config = None
        if isinstance(config, dict):
            return config
    file = path / ".hydra" / "config.yaml"
    if file.exists():
        try:
            config = yaml.safe_load(file.read_text())
        except yaml.YAMLError:
            config = None
        if isinstance(config, dict):
            return config
    return {}


def _read_choices(path: Path) -> dict[str, str]:
    file = path / ".hydra" / "hydra.yaml"
    if not file.exists():
        return {}
    try:
        choices = ((yaml.safe_load(file.read_text()) or {}).get("hydra") or {}).get("runtime", {}).get("choices")
    except (yaml.YAMLError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in (choices or {}).items() if v is not None and not str(k).startswith("hydra/")}


def parse_overrides(overrides: Sequence[str]) -> dict[str, str]:
    """``["+experiment=x", "task_module.density=0.02"]`` -> ``{"experiment": "x", "task_module.density": "0.02"}``
    (result-neutral keys such as ``paths.*`` or ``hydra.*`` left out)."""
    params: dict[str, str] = {}
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if not sep or key.startswith(IGNORED_PREFIXES):
            continue
        params[key] = value
    return params


def write_job_error(directory: str | Path, error: BaseException | str) -> None:
    """Record why a job failed (``error.json``), for the report."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    (path / ERROR_FILE).write_text(json.dumps({"error": text}) + "\n")
