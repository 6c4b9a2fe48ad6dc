"""A fully cached re-run is fast (issue 14, item 1): planning an experiment, hashing its stages and finding
every artifact finished imports no Lightning, transformers, datasets, torchmetrics or scipy (seconds of
imports on a busy node); they are imported only when a stage must run. benchmarks/cached_rerun.py times it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, compose_config, launch_env
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.runner import topological

HEAVY = ("lightning", "transformers", "datasets", "torchmetrics", "scipy", "pytorch_lightning")
SMOKE = ["+profile=smoke"]


def heavy_imports(importtime_log: str) -> list[str]:
    """Top-level heavy packages named in ``python -X importtime`` output."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name.split(".")[0] in HEAVY:
                names.add(name.split(".")[0])
    return sorted(names)


def finish_every_stage(overrides: list[str], root, cache) -> int:
    """Plan the experiment as launch.py will and give every stage a finished artifact (DONE and metrics),
    i.e. the store of an earlier run; returns the number of stages."""
    cfg = compose_config([*overrides, f"paths.cache={cache}"], root)
    experiment = Experiment(cfg, root / "plan")
    stages = topological(plan_experiment(experiment).stages)
    for stage in stages:
        directory = experiment.store.path(stage.kind, stage.key)
        directory.mkdir(parents=True)
        (directory / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "examples": 3}))
        (directory / "DONE").write_text("complete\n")
    return len(stages)


@pytest.mark.parametrize("experiment", ["ltsft_americasnli", "ltsft_ud_pos", "madx_americasnli", "holistic_nusax",
                                        "madg_americasnli"])
def test_a_fully_cached_rerun_imports_no_training_library(experiment, tmp_path, cache_dir):
    overrides = [f"+experiment={experiment}", *SMOKE]
    count = finish_every_stage(overrides, tmp_path, cache_dir)
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "launch.py"), *overrides,
                           f"paths.root={tmp_path}", f"paths.cache={cache_dir}", f"hydra.run.dir={run_dir}"],
                          cwd=REPO, env=launch_env(cache_dir), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert [s["status"] for s in results["stages"].values()] == ["cached"] * count
    assert heavy_imports(done.stderr) == []
