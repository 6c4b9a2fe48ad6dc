"""Helpers for tests that compose configs or run launch.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def compose_config(overrides: list[str], root: Path) -> Any:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[*overrides, f"paths.root={root}"])


def experiments() -> list[str]:
    return sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def launch_env(cache: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "XLT_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "PYTHONPATH": str(REPO), **(extra or {})}


def launch(args: list[str], cache: Path, timeout: int = 600, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "launch.py"), *args], cwd=REPO, env=launch_env(cache, env),
                          capture_output=True, text=True, timeout=timeout)


def start_launch(args: list[str], cache: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """launch.py in the background (stdout and stderr together)."""
    return subprocess.Popen([sys.executable, str(REPO / "launch.py"), *args], cwd=REPO, env=launch_env(cache, env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


class SmokeRun:
    """One ``+experiment=NAME +profile=smoke`` run of :class:`SmokeRuns`."""

    def __init__(self, experiment: str, process: subprocess.CompletedProcess, run_dir: Path):
        self.experiment, self.process, self.run_dir = experiment, process, run_dir

    def results(self) -> dict[str, Any]:
        """results.json of the run, which must have exited with 0."""
        assert self.process.returncode == 0, f"{self.experiment}: exit {self.process.returncode}\n" \
                                             f"{self.process.stderr[-3000:]}"
        return read_json(self.run_dir / "results.json")


class SmokeRuns:
    """Smoke runs of the experiments sharing one artifact store (as the jobs of a real project do: stages
    that experiments share, such as language modules and the MAD-G generator, are built once), each
    experiment launched at most once per session, so that tests that need an experiment's run (a sweep
    that reuses its artifacts) read the every-experiment test's run instead of launching their own."""

    def __init__(self, root: Path, cache: Path):
        self.root, self.cache = root, cache
        self._runs: dict[str, SmokeRun] = {}

    def run(self, experiment: str, timeout: int = 3600) -> SmokeRun:
        if experiment not in self._runs:
            run_dir = self.root / "runs" / experiment
            process = launch([f"+experiment={experiment}", "+profile=smoke", f"paths.root={self.root}",
                              f"hydra.run.dir={run_dir}"], self.cache, timeout=timeout)
            self._runs[experiment] = SmokeRun(experiment, process, run_dir)
        return self._runs[experiment]
