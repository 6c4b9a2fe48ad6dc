"""Several processes in one job (issue 16): Lightning's DDP on two CPU processes (gloo), with the
pipeline's stages owned by rank 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import REPO, launch, launch_env, read_json


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


# a few steps per phase; dropout 0: one process and two then take the same steps (dropout masks are per process)
SMALL = ["+profile=smoke", "trainer.accelerator=cpu", "+model.tiny.dropout=0", "trainer.max_steps_per_phase=12",
         "trainer.checkpoint_every_n_steps=4"]
LTSFT = ["data.targets=[gn]", "lang_module.train.min_steps=null", "lang_module.train.max_steps=6"]
CASES = {"ltsft_americasnli": LTSFT,  # LT-SFT language modules (masks, L1) and a task module
         "ltsft_americasnli_multisource": LTSFT,  # a multi-source task module: per-batch language switch
         # a SpIEL phase (all-reduced selection); global batches of 3: uneven parts (2 + 1 examples)
         "spiel_alpaca": ["task.train.batch_size=3"],
         "madx_americasnli": LTSFT,  # bottleneck language and task adapters (MAD-X 2.0)
         "madg_americasnli": ["data.targets=[gn]"]}  # the MAD-G generator and a task adapter on its adapters


def _command(experiment: str, devices: int, root: Path) -> list[str]:
    return [f"+experiment={experiment}", *SMALL, *CASES[experiment], f"trainer.devices={devices}",
            "trainer.strategy=ddp", f"paths.root={root}", f"hydra.run.dir={root / 'run'}"]


def _run(experiment: str, devices: int, root: Path, cache_dir: Path) -> dict:
    job = launch(_command(experiment, devices, root), cache_dir, timeout=1800)
    assert job.returncode == 0, (job.stdout + job.stderr)[-3000:]
    return read_json(root / "run" / "results.json")


def _assert_same_training(one: dict, two: dict, tolerance: float = 1e-6, overlap: float = 1.0) -> None:
    """The same metrics and, per stage, the same saved modules: sparse entries (``.../indices`` with their
    ``.../values``) at the same positions (at least ``overlap`` of them) with values within ``tolerance`` there,
    every other tensor within ``tolerance``."""
    assert one["languages"].keys() == two["languages"].keys()
    for language, metrics in one["languages"].items():
        for name, value in metrics.items():
            assert two["languages"][language][name] == pytest.approx(value, abs=1e-4), (language, name)
    compared = 0
    for label, path in one["artifacts"].items():
        for file in sorted(Path(path).glob("*.safetensors")):
            ours, theirs = load_file(file), load_file(Path(two["artifacts"][label]) / file.name)
            assert ours.keys() == theirs.keys(), (label, file.name)
            sparse = {key[:-len("indices")] for key in ours if key.endswith("/indices")}
            for prefix in sparse:
                mine = dict(zip(ours[prefix + "indices"].tolist(), ours[prefix + "values"].tolist()))
                other = dict(zip(theirs[prefix + "indices"].tolist(), theirs[prefix + "values"].tolist()))
                shared = mine.keys() & other.keys()
                assert len(shared) >= overlap * len(mine) and len(mine) == len(other), (label, prefix)
                assert max((abs(mine[i] - other[i]) for i in shared), default=0.0) <= tolerance, (label, prefix)
            for key, tensor in ours.items():
                if key.rsplit("/", 1)[0] + "/" in sparse:
                    continue
                assert tensor.shape == theirs[key].shape, (label, key)
                assert torch.allclose(tensor.double(), theirs[key].double(), atol=tolerance, rtol=0), (label, key)
            compared += len(ours)
    assert compared > 0


# per case: (tolerance, overlap). SpIEL's top-k selection may swap an entry or two per layer whose scores
# are equal within float rounding (a sum over 2 + 1 examples on two ranks, over 3 on one), and Adam
# magnifies the rounding of small gradients: measured 1-2 of 819 entries per layer, 1.4e-4 at shared ones.
TOLERANCE = {"ltsft_americasnli": (1e-6, 1.0), "ltsft_americasnli_multisource": (1e-6, 1.0),
             "spiel_alpaca": (1e-3, 0.99), "madx_americasnli": (1e-6, 1.0), "madg_americasnli": (1e-6, 1.0)}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", list(CASES))
def test_two_processes_train_the_artifacts_of_one_with_the_same_global_batch(experiment, tmp_path, cache_dir):
    one = _run(experiment, 1, tmp_path / "one", cache_dir)
    two = _run(experiment, 2, tmp_path / "two", cache_dir)
    assert read_json(tmp_path / "two" / "run" / "run.json")["processes"] == 2
    _assert_same_training(one, two, *TOLERANCE[experiment])


@pytest.mark.slow
def test_a_killed_two_process_run_resumes_from_its_checkpoint(tmp_path, cache_dir):
    root = tmp_path / "root"
    first = subprocess.Popen([sys.executable, str(REPO / "launch.py"), *_command("ltsft_americasnli", 2, root)],
                             cwd=REPO, env=launch_env(cache_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # its own process group: rank 0 and the rank it spawned
    try:
        checkpoint = _wait_for("artifacts/task_module/.work-*/phase2/last.ckpt", root, first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # every rank, with no chance to write anything
        first.wait(timeout=60)
    assert not (root / "run" / "results.json").exists()
    again = launch(_command("ltsft_americasnli", 2, root), cache_dir, timeout=1800)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert f"task phase2: resuming from checkpoint {checkpoint} (step " in again.stdout + again.stderr
    resumed = read_json(root / "run" / "results.json")
    assert resumed["stages"]["task"]["status"] == "resumed"  # built from the killed attempt's checkpoints
    _assert_same_training(_run("ltsft_americasnli", 1, tmp_path / "one", cache_dir), resumed)


def _wait_for(pattern: str, root: Path, process: subprocess.Popen, timeout: float = 1200) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        assert process.poll() is None, f"the run ended before {pattern} appeared"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {pattern}")


def test_device_counts_and_the_first_failure_of_a_job(tmp_path):
    from xlt.errors import ConfigError
    from xlt.training.distributed import claim_failure, device_count, processes_per_node

    assert [device_count(d) for d in (1, "2", [0, 1, 2], "0,1", "auto", -1)] == [1, 2, 3, 2, None, None]
    assert processes_per_node(4, "ddp") == 4
    with pytest.raises(ConfigError, match=r"trainer\.devices='two'"):
        device_count("two")
    assert claim_failure(tmp_path, 1, ValueError("broke\nmore")) == (1, "ValueError: broke")
    assert claim_failure(tmp_path, 0, RuntimeError("connection closed")) == (1, "ValueError: broke")  # first wins


def test_fsdp_on_cpu_is_refused_before_any_stage_and_on_gpus_accepted():
    """Lightning's FSDP runs on CUDA only: several CPU processes with it are a one-line config error at plan
    time (not Lightning's ValueError once the first stage trains); one device, or GPUs, pass."""
    from xlt.errors import ConfigError
    from xlt.training.distributed import check_devices
    from xlt.training.fit import TrainerConfig

    with pytest.raises(ConfigError, match=r"trainer\.strategy=fsdp: .*trainer\.accelerator='cpu'"):
        TrainerConfig(devices=2, strategy="fsdp", accelerator="cpu")
    TrainerConfig(devices=1, strategy="fsdp", accelerator="cpu")  # one process: no FSDP wrapper at all
    check_devices(2, "fsdp", "gpu")
    check_devices(8, "fsdp")  # a login node (SLURM submission) cannot tell the compute node's devices
