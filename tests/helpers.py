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
