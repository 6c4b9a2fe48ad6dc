"""Hydra launchers that submit sweep jobs through submitit: ``hydra/launcher=submitit_slurm`` and
``submitit_local`` (conf/hydra/launcher/), built on hydra-submitit-launcher. Hydra loads plugins
only from the ``hydra_plugins`` namespace: hydra_plugins/xlt_plugins/ exposes these classes.
Every option comes from the ``cluster`` config group (xlt.cluster.config).

Over the plugin's launchers they add:

- a dry run (``cluster.dry_run=true``): print the sbatch script the jobs would get (rendered by
  submitit itself) and each job's overrides, and submit nothing;
- the ``cluster`` config is validated (unknown keys are errors) before anything is submitted;
- the submitted job ids are logged, and a job that dies without a result (killed, out of memory,
  node failure) becomes a failed job of the sweep instead of aborting the wait for the others.

Requeueing: submitit sends the job its preemption signal (USR2) ``signal_delay_s`` before the
time limit or on preemption; the training phase then running checkpoints at the next optimiser
step (xlt.training.resume) and submitit requeues the job with the same arguments
(:meth:`checkpoint` of the plugin); the requeued job skips finished stages and resumes the
interrupted one from its checkpoint.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf, open_dict

from xlt.cluster.config import parse_cluster_config
from xlt.errors import ConfigError
from xlt.training.distributed import processes_per_node

log = logging.getLogger(__name__)
# conf/hydra/launcher/submitit_{slurm,local}.yaml share their names with the plugin's structured
# configs on purpose (its schema validates them); Hydra warns about that on every composition.
SCHEMA_WARNING = r"(?s).*is validated against ConfigStore schema with the same name"
warnings.filterwarnings("ignore", message=SCHEMA_WARNING)


class _XltSubmititLauncher(BaseSubmititLauncher):

    # ------------------------------------------------------------------ executor
    def _executor(self) -> Any:
        """The submitit executor with this launcher's parameters (as the plugin builds it)."""
        import submitit

        params = self.params
        init_keys = {"submitit_folder", "max_num_timeout"}
        init = {"folder": params["submitit_folder"]}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{key if key in base else f"{self._EXECUTOR}_{key}": value
                                      for key, value in params.items() if key not in init_keys})
        return executor

    def render_script(self, num_jobs: int) -> str:
        """The submission script submitit writes for ``num_jobs`` jobs (an array when more than one)."""
        with _pretend_slurm():
            executor = self._executor()._executor
        if self._EXECUTOR != "slurm":
            return f"# submitit local executor: {num_jobs} local process(es), no sbatch script\n"
        parameters = dict(executor.parameters)
        if num_jobs > 1:
            parameters["map_count"] = num_jobs
        from submitit.slurm.slurm import _make_sbatch_string

        return _make_sbatch_string(command=executor._submitit_command_str, folder=executor.folder, **parameters)

    # ------------------------------------------------------------------ launch
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None
        cluster = parse_cluster_config(self.config.get("cluster"))
        if self._EXECUTOR == "slurm":  # list/dict options: from `cluster` (the yaml cannot interpolate them)
            self.params["setup"] = list(cluster.setup) or None
            self.params["additional_parameters"] = dict(cluster.additional_parameters)
            self._request_devices(job_overrides, cluster.gpus_per_node)
        if cluster.dry_run:
            self._print_dry_run(job_overrides, initial_job_idx)
            return []
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        executor = self._executor()
        indices = [initial_job_idx + i for i in range(len(job_overrides))]
        for idx, overrides in zip(indices, job_overrides):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        job_params = [(list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())
                      for idx, overrides in zip(indices, job_overrides)]
        jobs = executor.map_array(self, *zip(*job_params))
        log.info("submitted %d job(s) to %s: %s (submitit folder %s)", len(jobs), self._EXECUTOR,
                 " ".join(str(job.job_id) for job in jobs), self.params["submitit_folder"])
        returns = []
        for idx, overrides, job in zip(indices, job_overrides, jobs):
            try:
                result = job.results()[0]
            except Exception as error:  # the job died without a result: one failed job, not the whole sweep
                log.error("job #%d (%s) failed: %s", idx, job.job_id, str(error).strip().splitlines()[0])
                result = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
                result.return_value = error
                self._record_failure(list(overrides), idx, error)
            returns.append(result)
        log.info("jobs returned: %s", " ".join(f"{job.job_id}:{r.status.name}" for job, r in zip(jobs, returns)))
        return returns

    def _request_devices(self, job_overrides: Sequence[Sequence[str]], gpus_per_node: int | None) -> None:
        """One task per device (``trainer.devices``, xlt.training.distributed): ``--ntasks-per-node=N``, and
        ``--gpus-per-node=N`` for a GPU job (``cluster.gpus_per_node`` not null); srun then ends every task
        when one fails (``--kill-on-bad-exit``), so that no rank hangs in a collective (NCCL). The jobs of
        one sweep share these resources (one array job): they must ask for the same number of devices."""
        assert self.config is not None
        trainer = self.config.get("trainer") or {}
        base = trainer.get("devices", 1)
        per_job = {next((str(o).split("=", 1)[1] for o in reversed(list(overrides))
                         if str(o).lstrip("+").startswith("trainer.devices=")), str(base))
                   for overrides in job_overrides}
        if len(per_job) > 1:
            raise ConfigError(f"trainer.devices: the jobs of one sweep share one SLURM request (an array job) but "
                              f"ask for {sorted(per_job)} devices; sweep each device count separately")
        devices = per_job.pop() if per_job else base
        count = processes_per_node(devices, str(trainer.get("strategy", "auto")))
        if count is None:
            raise ConfigError(f"trainer.devices={devices!r}: a SLURM job needs a number of devices (it asks for one "
                              "task per device)")
        self.params["tasks_per_node"] = count
        if count > 1:
            if gpus_per_node is not None:
                self.params["gpus_per_node"] = count
            self.params["srun_args"] = ["--kill-on-bad-exit=1"]

    def _record_failure(self, overrides: list[str], idx: int, error: BaseException) -> None:
        from xlt.report import write_job_error

        try:
            assert self.hydra_context is not None and self.config is not None
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
            with open_dict(sweep_config.hydra.job):
                sweep_config.hydra.job.num = idx
            job_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
            write_job_error(job_dir, f"{type(error).__name__}: {str(error).strip().splitlines()[0]}")
        except Exception as problem:  # the record is a courtesy for the report; never mask the failure
            log.warning("could not record the failure of job #%d: %s", idx, problem)

    def _print_dry_run(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> None:
        n = len(job_overrides)
        how = "as one array job" if n > 1 else "as one job"
        lines = [f"# dry run: {n} job(s) would be submitted {how} ({self._EXECUTOR}); nothing was submitted"]
        for i, overrides in enumerate(job_overrides):
            shown = [o for o in filter_overrides(overrides) if not o.lstrip("+").startswith("cluster.dry_run=")]
            lines.append(f"#   job {initial_job_idx + i}: {' '.join(shown)}")
        lines.append(self.render_script(n))
        print("\n".join(lines), file=sys.stdout, flush=True)


class SlurmLauncher(_XltSubmititLauncher):
    _EXECUTOR = "slurm"


class LocalLauncher(_XltSubmititLauncher):
    _EXECUTOR = "local"


@contextmanager
def _pretend_slurm() -> Iterator[None]:
    """submitit's SlurmExecutor refuses to exist without ``srun``; a dry run needs only its rendering."""
    from submitit.slurm.slurm import SlurmExecutor

    with mock.patch.object(SlurmExecutor, "affinity", classmethod(lambda cls: 1)):
        yield

