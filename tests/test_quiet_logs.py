"""Quiet, single-stream logs (issue 14, item 5): no srun hint from Lightning where SLURM is installed, the
training logs on the stream of the stage lines, nothing (not even blank lines) before the first line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

from tests.helpers import REPO, launch_env
from tests.test_cached_rerun import finish_every_stage
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig


def _fake_srun(tmp_path, monkeypatch) -> None:
    """An ``srun`` on PATH outside a SLURM job, as on a cluster's login node."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)


def test_no_srun_hint_where_slurm_is_installed(tmp_path, monkeypatch):
    from lightning.fabric.plugins.environments import SLURMEnvironment

    _fake_srun(tmp_path, monkeypatch)
    with warnings.catch_warnings(record=True) as lightning_alone:
        warnings.simplefilter("always")
        SLURMEnvironment.detect()
    assert any("srun" in str(w.message) for w in lightning_alone)  # the fake srun is found
    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False), LoggerConfig(csv=False), tmp_path, "t", 0)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        fitter._trainer("phase1", [])
        fitter._trainer("evaluation", [])
    assert not [str(w.message) for w in ours if "srun" in str(w.message)]



def test_no_srun_hint_from_lightnings_later_checks_once_a_stage_builds(tmp_path, monkeypatch):
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from xlt.training.fit import quiet_libraries

    _fake_srun(tmp_path, monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_libraries()  # what run_experiment calls before building any stage
        SLURMEnvironment.detect()  # Lightning calls it again inside fit and validate
    assert not [str(w.message) for w in caught if "srun" in str(w.message)]


def test_logs_and_stage_lines_share_one_stream_and_start_at_the_first_line(tmp_path, cache_dir):
    # a templated path overridden on the command line: quoted for Hydra (README), and logged at planning
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", '+data.target.test.path="/elsewhere/{lang}.tsv"']
    finish_every_stage(overrides, tmp_path, cache_dir)
    done = subprocess.run([sys.executable, str(REPO / "launch.py"), *overrides, f"paths.root={tmp_path}",
                           f"paths.cache={cache_dir}", f"hydra.run.dir={tmp_path / 'run'}"],
                          cwd=REPO, env=launch_env(cache_dir), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].strip() and "[xlt.data.locations][INFO] - data.target.test (aym): reading the local path " \
        "/elsewhere/aym.tsv" in lines[0]
    assert any(line.startswith("cached   eval/aym") for line in lines)


def test_building_a_tiny_model_prints_nothing(tmp_path):
    """The tokenizer trainers' progress output (two blank lines each) opened the first run's log."""
    code = ("from pathlib import Path; from xlt.models.tiny import build_tiny_model; "
            f"build_tiny_model('xlm-roberta', {{'vocab_size': 300}}, Path({str(tmp_path)!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=launch_env(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "" and not done.stderr.startswith("\n") and "\n\n" not in done.stderr


def test_progress_bars_on_a_terminal_only(tmp_path, monkeypatch):
    """Rich progress bars (with ETA) where someone watches; none in a batch job's log file."""
    from lightning.pytorch.callbacks import RichProgressBar

    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=True), LoggerConfig(csv=False), tmp_path, "t", 0)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert fitter._trainer("phase1", []).progress_bar_callback is None
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert isinstance(fitter._trainer("phase1", []).progress_bar_callback, RichProgressBar)


def test_wandb_summary_run_of_a_cached_experiment(tmp_path, cache_dir):
    """Issue 14, item 7: logger=wandb writes one summary run per experiment (config, per-language results table,
    averages), also when every stage was cached; offline into the run directory, with no anonymous warning."""
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", "logger=wandb"]
    finish_every_stage(overrides, tmp_path, cache_dir)
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, str(REPO / "launch.py"), *overrides, f"paths.root={tmp_path}",
                           f"paths.cache={cache_dir}", f"hydra.run.dir={run_dir}"], cwd=REPO,
                          env=launch_env(cache_dir, {"WANDB_MODE": "offline"}), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "anonymous" not in done.stdout + done.stderr
    (summary,) = (run_dir / "logs" / "wandb").glob("offline-run-*")  # one run: nothing was trained
    (table_file,) = (summary / "files" / "media" / "table").glob("results_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["language", "accuracy"]
    assert [row[0] for row in table["data"]] == ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
    (records,) = summary.glob("run-*.wandb")  # the run's records (protobuf): name, config keys, summary keys
    data = records.read_bytes()
    assert b"ltsft_americasnli/summary" in data and b"task_module" in data and b"average/accuracy" in data
