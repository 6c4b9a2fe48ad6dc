"""A smoke run killed with SIGKILL during task training, started again with the same command,
resumes from the task stage's checkpoint and writes the same results as an uninterrupted run."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import launch, read_json, start_launch
from xlt.utils.hashing import directory_hash

COMMAND = ["+experiment=ltsft_americasnli", "+profile=smoke", "data.targets=[gn,quy]",
           "lang_module.train.min_steps=null", "lang_module.train.max_steps=10",  # quick language SFTs
           "trainer.max_steps_per_phase=80"]


def wait_for(pattern: str, root: Path, process, timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {pattern} appeared:\n{process.stdout.read()[-3000:]}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {pattern}")


@pytest.mark.slow
def test_sigkill_during_task_training_then_rerun_resumes_with_identical_results(tmp_path, cache_dir):
    root = tmp_path / "root"
    first = start_launch([*COMMAND, f"paths.root={root}", f"hydra.run.dir={tmp_path / 'killed'}"], cache_dir)
    checkpoint = wait_for("artifacts/task_module/.work-*/phase2/last.ckpt", root, first)
    first.send_signal(signal.SIGKILL)  # no chance to clean up or save anything
    first.wait(timeout=60)
    assert not (tmp_path / "killed" / "results.json").exists()
    assert not [p for p in (root / "artifacts" / "task_module").iterdir() if (p / "DONE").exists()]

    again = launch([*COMMAND, f"paths.root={root}", f"hydra.run.dir={tmp_path / 'resumed'}"], cache_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert f"task phase2: resuming from checkpoint {checkpoint} (step " in log  # the log says from where
    assert "phase phase1 finished in an earlier attempt" in log  # phase 1 is not redone
    resumed = read_json(tmp_path / "resumed" / "results.json")
    assert resumed["stages"]["task"]["status"] == "resumed" and resumed["stages"]["lang/gn"]["status"] == "cached"

    # the uninterrupted run, in a fresh store holding only the same language SFTs
    reference_root = tmp_path / "reference"
    shutil.copytree(root / "artifacts" / "language_module", reference_root / "artifacts" / "language_module",
                    ignore=shutil.ignore_patterns(".*"))
    uninterrupted = launch([*COMMAND, f"paths.root={reference_root}", f"hydra.run.dir={tmp_path / 'whole'}"],
                           cache_dir)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    reference = read_json(tmp_path / "whole" / "results.json")
    assert reference["stages"]["task"]["status"] == "built"
    assert resumed["languages"] == reference["languages"] and resumed["average"] == reference["average"]
    assert resumed["stages"]["task"]["key"] == reference["stages"]["task"]["key"]

    # byte-identical task SFTs: the reproducibility records' content hashes agree with the files
    records = [read_json(tmp_path / run / "run.json") for run in ("resumed", "whole")]
    hashes = [record["artifacts"]["task"]["content_hash"] for record in records]
    assert hashes[0] == hashes[1] == directory_hash(Path(records[0]["artifacts"]["task"]["path"]),
                                                    exclude=["stage.json", "DONE"])
    record = records[0]
    assert record["overrides"] == [*COMMAND, f"paths.root={root}"] and record["seed"] == 42
    assert record["config"]["task_module"]["method"] == "ltsft" and record["git_sha"]
    assert record["packages"]["torch"] and record["packages"]["lightning"] and record["config_hash"]
