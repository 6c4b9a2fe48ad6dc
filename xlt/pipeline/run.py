"""Running an experiment: plan its stages, run them, write ``results.json`` and a table."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.runner import Runner, StageResult, topological
from xlt.training.distributed import current_world, start_world
from xlt.utils.hashing import stable_hash

log = logging.getLogger(__name__)
PACKAGES = ("xlt", "torch", "transformers", "tokenizers", "lightning", "datasets", "peft", "hydra-core", "omegaconf",
            "safetensors", "submitit", "hydra-submitit-launcher", "numpy")


def run_experiment(cfg: DictConfig | dict[str, Any], run_dir: str | Path, console: Console | None = None,
                   overrides: list[str] | None = None) -> dict[str, Any]:
    """Build (or reuse) every stage of the experiment's recipe and write ``run_dir/results.json`` and
    ``run_dir/run.json`` (the reproducibility record; ``overrides``: the command-line overrides).

    Planning, hashing and checking the store import no Lightning, transformers or datasets: a fully cached
    re-run reads the finished artifacts' metrics in about the time it takes to import torch and Hydra
    (tests/test_cached_rerun.py, benchmarks/cached_rerun.py)."""
    console = console or Console(stderr=True, soft_wrap=True)  # a stage line stays one line in a log file
    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    experiment = Experiment(cfg, run_dir)
    trainer = experiment.trainer
    # several devices: one process each (Lightning's launcher); rank 0 owns the pipeline (xlt.training.distributed)
    world = start_world(trainer.devices, trainer.accelerator, trainer.strategy, run_dir)

    def stages() -> tuple[Any, dict[str, StageResult]]:
        plan = world.rank_zero_first(lambda: plan_experiment(experiment))  # rank 0 fills the caches first
        if world.is_zero:
            console.print(f"[bold]{experiment.name}[/]: {len(plan.stages)} stages; artifacts in "
                          f"{experiment.store.root}" + (f"; {world.size} ranks" if world.distributed else ""))
        if not all(experiment.store.is_done(stage.kind, stage.key) for stage in topological(plan.stages)):
            from xlt.training.fit import quiet_libraries  # imports transformers and datasets: only to build

            quiet_libraries()
        runner = Runner(experiment.store, run_dir, announce=console.print if world.is_zero else log.debug,
                        resume=trainer.resume)
        return plan, runner.run(plan.stages)

    outcome = world.run(stages)  # a failure on any rank ends the job with that rank's message
    if outcome is None or not world.is_zero:
        return {}
    plan, stage_results = outcome
    collected = plan.collect(stage_results)
    metric = _primary_metric(collected)
    results = {
        "experiment": experiment.name,
        "task": experiment.task_cfg.get("name"),
        "metric": metric,
        **collected,
        "config_hash": stable_hash(experiment.cfg),
        "seed": experiment.seed,
        "artifacts": {label: str(r.path) for label, r in stage_results.items()},
        "stages": {label: {"status": r.status, "seconds": round(r.seconds, 3), "key": r.stage.key}
                   for label, r in stage_results.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }
    _write_json(run_dir / "results.json", results)
    if experiment.logger.wandb is not None:  # one summary run per experiment, also when every stage was cached
        from xlt.pipeline.wandb_summary import log_summary

        log_summary(experiment.logger.wandb, experiment.name, experiment.cfg, results, run_dir)
    _write_json(run_dir / "run.json", reproducibility_record(experiment, overrides, stage_results))
    console.print(results_table(results))
    console.print(f"results:   {run_dir / 'results.json'}\nartifacts: {experiment.store.root}")
    return results


def _primary_metric(collected: dict[str, Any]) -> str | None:
    average = collected.get("average") or {}
    for name in ("las", "f1", "macro_f1", "accuracy", "exact_match", "loss"):
        if name in average:
            return name
    return next(iter(average), None)


def results_table(results: dict[str, Any]) -> Table:
    languages: dict[str, dict[str, float]] = results.get("languages", {})
    metrics = sorted({key for values in languages.values() for key in values})
    table = Table(title=f"{results.get('experiment')} ({results.get('task')})")
    table.add_column("language")
    for metric in metrics:
        table.add_column(metric, justify="right")
    for lang, values in languages.items():
        table.add_row(lang, *(_fmt(values.get(m)) for m in metrics))
    table.add_section()
    table.add_row("average", *(_fmt(results.get("average", {}).get(m)) for m in metrics), style="bold")
    return table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}" if isinstance(value, float) and abs(value) <= 1 else f"{value}"


def reproducibility_record(experiment: Experiment, overrides: list[str] | None = None,
                           stage_results: dict[str, StageResult] | None = None) -> dict[str, Any]:
    """Everything needed to reproduce a run: the resolved config and the overrides that produced it,
    the code (git SHA, dirty flag), package versions, seed, machine, SLURM job, and per artifact
    its key (hash of what produced it) and content hash (hash of its files)."""
    sha, dirty = git_state()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    artifacts = {}
    for label, result in (stage_results or {}).items():
        record = _read_stage_record(result.path)
        artifacts[label] = {"kind": result.stage.kind, "key": result.stage.key, "path": str(result.path),
                            "status": result.status, "content_hash": record.get("content_hash")}
    return {"git_sha": sha, "git_dirty": dirty, "python": sys.version.split()[0], "packages": versions,
            "seed": experiment.seed, "profile": experiment.profile, "overrides": list(overrides or []),
            "argv": sys.argv, "cwd": os.getcwd(), "host": platform.node(), "platform": platform.platform(),
            "slurm_job_id": _slurm_job_id(), "devices": _devices(), "processes": current_world().size,
            "config": experiment.cfg,
            "config_hash": stable_hash(experiment.cfg), "artifacts": artifacts}


def git_state() -> tuple[str | None, bool | None]:
    """(HEAD's sha, whether the tree has uncommitted changes) of xlt's checkout; (None, None) outside git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=here).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5,
                                    cwd=here).stdout.strip()) if sha else None
    except (OSError, subprocess.SubprocessError):
        sha, dirty = None, None
    return sha, dirty


def _read_stage_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(path) / "stage.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _slurm_job_id() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    return os.environ.get("SLURM_JOB_ID")


def _devices() -> list[str]:
    import torch

    if torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return ["cpu"]


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
