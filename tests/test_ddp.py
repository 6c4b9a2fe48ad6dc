"""Several processes in one job (issue 16): Lightning's DDP on two CPU processes (gloo), with the
pipeline's stages owned by rank 0."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.helpers import REPO, launch_env


@pytest.mark.slow
@pytest.mark.parametrize("failing_rank", [1, 0])
def test_a_rank_that_raises_ends_the_job_promptly_with_its_message(failing_rank, tmp_path, cache_dir):
    job = subprocess.run([sys.executable, str(REPO / "tests" / "ddp_worker.py"), str(tmp_path), str(failing_rank)],
                         cwd=REPO, env=launch_env(cache_dir), capture_output=True, text=True, timeout=240)
    seconds = time.time() - float((tmp_path / "failed-at").read_text())  # from the failure to the job's end
    output = job.stdout + job.stderr
    assert job.returncode != 0, output[-3000:]
    assert f"ValueError: rank {failing_rank} broke at step 3" in output, output[-3000:]
    assert not (tmp_path / "finished").exists()
    assert not list((tmp_path / "artifacts" / "language_module").glob("*/DONE"))
    assert seconds < 60, f"{seconds:.0f}s: the job hung after the failure"
