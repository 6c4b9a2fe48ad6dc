"""On a real SLURM (single node, started for the tests; tests/slurm_cluster.py): a smoke sweep through
``hydra/launcher=submitit_slurm``, and a preempted job that submitit requeues and that resumes.

Skipped, with the reason in the summary, where root or apt is missing (or XLT_SKIP_SLURM is set);
installs Debian's slurm-wlm, munge, slurmdbd and mariadb-server with apt where missing."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests import slurm_cluster
from tests.helpers import REPO, launch, read_json, start_launch
from tests.test_resume_e2e import wait_for

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def slurm():
    reason = slurm_cluster.unavailable_reason()
    if reason:
        pytest.skip(f"no real SLURM: {reason}")
    installed = slurm_cluster.install()
    if installed:
        slurm_cluster.SUMMARY.append(f"installed with apt: {' '.join(installed)}")
    cluster = slurm_cluster.SingleNodeSlurm()
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _job_ids(output: str) -> list[str]:
    match = re.search(r"submitted \d+ job\(s\) to slurm: ([\d_ ]+) \(", output)
    assert match, output[-3000:]
    return match.group(1).split()


def _states(slurm, ids: list[str]) -> dict[str, list[str]]:
    out = slurm.run("sacct", "-D", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(ids))
    states: dict[str, list[str]] = {}
    for line in out.splitlines():
        job, state = line.split("|")
        states.setdefault(job, []).append(state.split()[0])
    return states


def _final_states(slurm, ids: list[str], timeout: float = 60) -> dict[str, list[str]]:
    """Each job's states in the accounting (a requeued job has several), once all have ended."""
    deadline = time.monotonic() + timeout
    while True:  # the accounting lags a few seconds behind the jobs' results
        states = _states(slurm, ids)
        ended = len(states) == len(ids) and all(s[-1] not in ("PENDING", "RUNNING") for s in states.values())
        if ended or time.monotonic() > deadline:
            return states
        time.sleep(1)


def test_smoke_sweep_on_a_real_slurm(slurm, tmp_path, cache_dir):
    sweep = tmp_path / "sweep"
    # a 2x2 sweep (language density x task density), two target languages, as one SLURM array
    result = launch(["-m", "+experiment=ltsft_americasnli", "+profile=smoke", "hydra/launcher=submitit_slurm",
                     "data.targets=[aym,gn]", "lang_module.density=0.02,0.08", "task_module.density=0.02,0.08",
                     "trainer.max_steps_per_phase=10", f"paths.root={tmp_path / 'root'}", f"hydra.sweep.dir={sweep}"],
                    cache_dir, env=slurm.env, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    ids = _job_ids(output)
    slurm_cluster.SUMMARY.append(f"real SLURM sweep: array job {ids[0].split('_')[0]}, tasks {' '.join(ids)}")
    assert len(ids) == 4 and len({i.split("_")[0] for i in ids}) == 1  # one array job
    states = _final_states(slurm, ids)
    assert set(states) == set(ids) and all(s == ["COMPLETED"] for s in states.values()), states

    for number, job_id in enumerate(ids):
        job = sweep / str(number)
        results = read_json(job / "results.json")
        assert set(results["languages"]) == {"aym", "gn"}
        assert all(0.0 <= v["accuracy"] <= 1.0 for v in results["languages"].values())
        record = read_json(job / "run.json")
        assert record["slurm_job_id"] == job_id  # the job ran under SLURM, in its array task
    built = [read_json(sweep / str(n) / "results.json")["stages"]["lang/en"]["status"] for n in range(4)]
    assert sorted(built) == ["built", "built", "cached", "cached"]  # one English SFT per language density

    report = (sweep / "report" / "report.md").read_text()  # written by the Hydra callback at the end
    assert "| language density (% of parameters) | task density (% of parameters) | aym | gn | avg | seeds |" in report
    assert len([line for line in report.splitlines() if line.startswith(("| 2 |", "| 8 |"))]) == 4
    assert "Skipped" not in report

    # the one-command report over the sweep: markdown table and a contour plot (Fig. 4.3)
    out = subprocess.run([sys.executable, "-m", "xlt.report", str(sweep), "--out", str(tmp_path / "report")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len([line for line in (tmp_path / "report" / "report.md").read_text().splitlines()
                if line.startswith(("| 2 |", "| 8 |"))]) == 4
    figure = "ltsft_americasnli_lang_module.density_x_task_module.density"
    assert (tmp_path / "report" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "report" / f"{figure}.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.slow
def test_preempted_job_is_requeued_and_resumes_with_the_same_results(slurm, tmp_path, cache_dir):
    command = ["+experiment=ltsft_americasnli", "+profile=smoke", "data.targets=[gn]",
               "lang_module.train.min_steps=null", "lang_module.train.max_steps=10", "trainer.max_steps_per_phase=150"]
    reference = launch([*command, f"paths.root={tmp_path / 'reference'}", f"hydra.run.dir={tmp_path / 'ref'}"],
                       cache_dir)
    assert reference.returncode == 0, reference.stderr[-3000:]

    root, sweep = tmp_path / "root", tmp_path / "sweep"
    job = start_launch(["-m", *command, "hydra/launcher=submitit_slurm", f"paths.root={root}",
                        f"hydra.sweep.dir={sweep}"], cache_dir, env=slurm.env)
    try:
        wait_for("artifacts/task_module/.work-*/phase2/last.ckpt", root, job)
        (job_id,) = slurm.run("squeue", "-h", "-o", "%i").split()
        slurm.run("scancel", "--signal=USR2", job_id)  # what SLURM sends before the time limit / on preemption
        output, _ = job.communicate(timeout=600)
    finally:
        if job.poll() is None:
            job.send_signal(signal.SIGTERM)
    assert job.returncode == 0, output[-5000:]
    slurm_cluster.SUMMARY.append(f"real SLURM requeue: job {job_id} preempted (USR2), requeued, resumed")

    assert _final_states(slurm, [job_id])[job_id] == ["REQUEUED", "COMPLETED"]
    log = "".join(p.read_text() for p in sorted((sweep / ".submitit").rglob("*_log.*")))
    assert "checkpoint written at step" in log and "handing over to the requeue handler" in log
    assert "Requeued job" in log  # by submitit (Lightning's own auto-requeue is off)
    assert re.search(r"task phase2: resuming from checkpoint \S+last\.ckpt \(step \d+ of \d+\)", log)
    assert "phase phase1 finished in an earlier attempt" in log

    resumed = read_json(sweep / "0" / "results.json")
    expected = read_json(tmp_path / "ref" / "results.json")
    assert resumed["languages"] == expected["languages"] and resumed["average"] == expected["average"]
    hashes = [read_json(path)["artifacts"]["task"]["content_hash"]
              for path in (sweep / "0" / "run.json", tmp_path / "ref" / "run.json")]
    assert hashes[0] == hashes[1]  # byte-identical task SFTs
