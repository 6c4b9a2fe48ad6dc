"""Shared fixtures: a tiny model cache shared by the whole session, offline hub settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One model cache for the session (tiny models and tokenizers are built once)."""
    path = Path(os.environ.get("XLT_TEST_CACHE") or tmp_path_factory.mktemp("xlt-cache"))
    return path


@pytest.fixture(scope="session")
def tiny_xlmr_path(cache_dir) -> str:
    from xlt.models.tiny import build_tiny_model

    return str(build_tiny_model("xlm-roberta", {}, cache_dir))


@pytest.fixture(scope="session")
def tiny_bert_path(cache_dir) -> str:
    from xlt.models.tiny import build_tiny_model

    return str(build_tiny_model("bert", {}, cache_dir))


@pytest.fixture(scope="session")
def llama_path(cache_dir) -> str:
    from xlt.models.tiny import build_tiny_model

    return str(build_tiny_model("llama", {}, cache_dir))


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory, cache_dir):
    """The session's smoke runs of experiments, over one shared artifact store (tests/helpers.py)."""
    from tests.helpers import SmokeRuns

    return SmokeRuns(tmp_path_factory.mktemp("smoke"), cache_dir)


def pytest_terminal_summary(terminalreporter) -> None:
    """What the real-SLURM tests did (installed packages, job ids): shown even when they pass."""
    from tests import slurm_cluster

    if slurm_cluster.SUMMARY:
        terminalreporter.section("real SLURM")
        for line in slurm_cluster.SUMMARY:
            terminalreporter.write_line(line)
