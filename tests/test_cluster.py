"""The cluster path without a cluster: sbatch rendering (dry run), the ``cluster`` group and its
git-ignored local override, and the zip sweeper (paired sweep dimensions)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from tests.helpers import CONF, launch
from xlt.cluster.config import parse_cluster_config
from xlt.cluster.sweeper import SweepError, ZipSweeper, zip_sweep
from xlt.errors import ConfigError


def test_dry_run_renders_the_sbatch_script_and_submits_nothing(tmp_path, cache_dir):
    sweep_dir = tmp_path / "sweep"
    result = launch(["-m", "+experiment=ltsft_americasnli", "hydra/launcher=submitit_slurm", "cluster.dry_run=true",
                     "task_module.density=0.02,0.04,0.08", "cluster.partition=gpu-a100", "cluster.account=proj7",
                     "cluster.gpus_per_node=2", "cluster.timeout_min=600", "cluster.array_parallelism=2",
                     "cluster.mem_gb=48", "cluster.qos=high",
                     "cluster.setup=[module load cuda/12.4,source /opt/xlt/.venv/bin/activate]",
                     f"hydra.sweep.dir={sweep_dir}", f"paths.root={tmp_path}"], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "3 job(s) would be submitted as one array job (slurm); nothing was submitted" in out
    for number, density in enumerate(["0.02", "0.04", "0.08"]):
        assert f"#   job {number}: +experiment=ltsft_americasnli" in out and f"task_module.density={density}" in out
    for line in ("#SBATCH --partition=gpu-a100", "#SBATCH --account=proj7", "#SBATCH --gpus-per-node=2",
                 "#SBATCH --time=600", "#SBATCH --array=0-2%2", "#SBATCH --mem=48GB", "#SBATCH --qos=high",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --job-name=ltsft_americasnli", "#SBATCH --signal=USR2@120",
                 "# setup\nmodule load cuda/12.4\nsource /opt/xlt/.venv/bin/activate\n",
                 "-m submitit.core._submit"):
        assert line in out, line
    assert not (sweep_dir / ".submitit").exists() and not (sweep_dir / "report").exists()

    # the experiment's own requests (XLM-R base: 1 GPU, 32 GB, a day), and the smoke profile's (CPU)
    result = launch(["-m", "+experiment=ltsft_americasnli", "hydra/launcher=submitit_slurm", "cluster.dry_run=true",
                     f"hydra.sweep.dir={sweep_dir}", f"paths.root={tmp_path}"], cache_dir)
    assert "#SBATCH --gpus-per-node=1" in result.stdout and "#SBATCH --mem=32GB" in result.stdout
    assert "#SBATCH --time=1440" in result.stdout and "--array" not in result.stdout  # one job: no array
    result = launch(["-m", "+experiment=ltsft_americasnli", "+profile=smoke", "hydra/launcher=submitit_slurm",
                     "cluster.dry_run=true", f"hydra.sweep.dir={sweep_dir}", f"paths.root={tmp_path}"], cache_dir)
    assert "--gpus-per-node" not in result.stdout and "#SBATCH --mem=4GB" in result.stdout


def test_bad_cluster_config_fails_before_submitting(tmp_path, cache_dir):
    result = launch(["-m", "+experiment=ltsft_americasnli", "hydra/launcher=submitit_slurm", "cluster.dry_run=true",
                     "+cluster.partiton=gpu", f"hydra.sweep.dir={tmp_path / 'sweep'}", f"paths.root={tmp_path}"],
                    cache_dir)
    assert result.returncode != 0 and "cluster: unknown key 'partiton'" in result.stderr
    with pytest.raises(ConfigError, match=r"cluster.timeout_min=0: must be >= 1"):
        parse_cluster_config({"timeout_min": 0})
    with pytest.raises(ConfigError, match=r"cluster.setup: expected a list"):
        parse_cluster_config({"setup": "module load cuda"})
    assert parse_cluster_config({"gpus_per_node": None}).gpus_per_node is None


def test_local_cluster_file_is_applied_below_experiment_and_command_line(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf, ignore=shutil.ignore_patterns("local.yaml"))

    def cluster(overrides):
        with initialize_config_dir(str(conf), version_base="1.3"):
            cfg = compose("config", overrides=[*overrides, f"paths.root={tmp_path}"])
        return OmegaConf.to_container(cfg, resolve=True)

    assert cluster([])["cluster"]["partition"] is None  # no local file: the defaults
    (conf / "cluster" / "local.yaml").write_text(
        "cluster:\n  partition: gpu\n  account: proj7\n  mem_gb: 64\n  setup: [module load cuda]\n"
        "paths:\n  artifacts: /scratch/me/artifacts\n")
    local = cluster([])
    assert local["cluster"]["partition"] == "gpu" and local["cluster"]["setup"] == ["module load cuda"]
    assert local["cluster"]["mem_gb"] == 64 and local["paths"]["artifacts"] == "/scratch/me/artifacts"
    experiment = cluster(["+experiment=ltsft_americasnli"])  # the experiment's request wins over the site file
    assert experiment["cluster"]["partition"] == "gpu" and experiment["cluster"]["mem_gb"] == 32
    assert cluster(["+experiment=ltsft_americasnli", "cluster.mem_gb=80"])["cluster"]["mem_gb"] == 80
    assert "local.yaml" in (CONF.parent / ".gitignore").read_text()


def _jobs(arguments, groups):
    return zip_sweep(OverridesParser.create().parse_overrides(arguments), groups)


def test_zip_sweep_pairs_dimensions_and_multiplies_the_rest():
    jobs = _jobs(["+experiment=x", "task_module=lora,ia3,spiel_ag", "task.train.lr=1e-4,3e-4,1e-4", "seed=1,2"],
                 [["task_module", "task.train.lr"]])
    assert len(jobs) == 6
    assert jobs[0] == ["+experiment=x", "task_module=lora", "task.train.lr=0.0001", "seed=1"]
    pairs = {(job[1], job[2]) for job in jobs}
    assert pairs == {("task_module=lora", "task.train.lr=0.0001"), ("task_module=ia3", "task.train.lr=0.0003"),
                     ("task_module=spiel_ag", "task.train.lr=0.0001")}
    assert _jobs(["a=1,2", "b=3,4"], []) == [["a=1", "b=3"], ["a=1", "b=4"], ["a=2", "b=3"], ["a=2", "b=4"]]
    assert _jobs(["+a=1,2", "b=3,4", "c=5"], [["a", "b"]]) == [["+a=1", "b=3", "c=5"], ["+a=2", "b=4", "c=5"]]
    with pytest.raises(SweepError, match=r"zip\[0\]: zipped keys need as many values each"):
        _jobs(["a=1,2", "b=3,4,5"], [["a", "b"]])
    with pytest.raises(SweepError, match=r"'c' is not swept"):
        _jobs(["a=1,2", "b=3,4"], [["a", "c"]])
    with pytest.raises(SweepError, match="in two groups"):
        _jobs(["a=1,2", "b=3,4", "c=5,6"], [["a", "b"], ["b", "c"]])


def test_zip_sweep_from_the_command_line(tmp_path, cache_dir):
    result = launch(["-m", "+experiment=ltsft_americasnli", "+profile=smoke", "hydra/launcher=submitit_slurm",
                     "cluster.dry_run=true", "task_module=ltsft,bitfit", "task.train.lr=2e-5,1e-4", "seed=1,2",
                     "hydra.sweeper.zip=[[task_module,task.train.lr]]", f"hydra.sweep.dir={tmp_path / 's'}",
                     f"paths.root={tmp_path}"], cache_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = [line for line in result.stdout.splitlines() if line.startswith("#   job ")]
    assert len(jobs) == 4 and "#SBATCH --array=0-3%4" in result.stdout
    assert all(("task_module=ltsft task.train.lr=2e-05" in j) != ("task_module=bitfit task.train.lr=0.0001" in j)
               for j in jobs)


@pytest.mark.parametrize("error,raised,message", [
    (RuntimeError("job 0 broke"), RuntimeError, "job 0 broke"),  # a bug: its own traceback
    (ConfigError("task_module.density=7: must lie in (0, 1]"), SweepError,  # bad input: one line
     r"1 of 3 job\(s\) failed; the first \(a=1\): task_module.density=7"),
])
def test_failed_job_does_not_stop_the_sweep_and_the_report_is_written(tmp_path, monkeypatch, error, raised,
                                                                      message):
    launched = []

    class Launcher:
        def launch(self, batch, initial_job_idx):
            returns = []
            for overrides in batch:
                launched.append(overrides)
                ret = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
                ret.return_value = 0.5
                if overrides == ["a=1"]:
                    ret.status, ret.return_value = JobStatus.FAILED, error
                returns.append(ret)
            return returns

    sweeper = ZipSweeper(max_batch_size=1)
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    sweeper.launcher, sweeper.hydra_context = Launcher(), SimpleNamespace(config_loader=None)
    monkeypatch.setattr(sweeper, "validate_batch_is_legal", lambda batch: None)
    with pytest.raises(raised, match=message):
        sweeper.sweep(["a=1,2,3"])
    assert launched == [["a=1"], ["a=2"], ["a=3"]]  # every batch ran
    assert (tmp_path / "sweep" / "report" / "report.md").exists()


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_sweep(tmp_path, cache_dir):
    sweep = tmp_path / "sweep"
    result = launch(["-m", "+experiment=ltsft_americasnli", "+profile=smoke", "hydra/launcher=submitit_local",
                     "data.targets=[gn]", "trainer.max_steps_per_phase=5", "task_module.density=0.02,0.08",
                     f"paths.root={tmp_path / 'root'}", f"hydra.sweep.dir={sweep}"], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "submitted 2 job(s) to local:" in result.stdout + result.stderr
    assert all((sweep / str(n) / "results.json").exists() for n in range(2))
    assert "| 8 |" in (sweep / "report" / "report.md").read_text()  # task density 0.08, in %


def test_a_multi_device_job_asks_for_one_task_and_one_gpu_per_device(tmp_path, cache_dir):
    """Issue 16, item 5: tasks per node and GPUs per node follow trainer.devices; srun ends all tasks when
    one fails; the jobs of one sweep (one array job) must ask for the same number of devices."""
    sweep_dir = tmp_path / "sweep"
    common = ["-m", "+experiment=ltsft_americasnli", "hydra/launcher=submitit_slurm", "cluster.dry_run=true",
              f"hydra.sweep.dir={sweep_dir}", f"paths.root={tmp_path}"]
    result = launch([*common, "trainer.devices=4", "trainer.strategy=ddp"], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in ("#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4", "--kill-on-bad-exit=1"):
        assert line in result.stdout, line
    one = launch(common, cache_dir)
    assert "#SBATCH --ntasks-per-node=1" in one.stdout and "--kill-on-bad-exit" not in one.stdout
    mixed = launch([*common, "trainer.devices=1,2"], cache_dir)
    assert mixed.returncode != 0 and "trainer.devices: the jobs of one sweep share one SLURM request" in mixed.stderr
