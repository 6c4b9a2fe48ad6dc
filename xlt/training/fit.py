"""Running one training phase (or an evaluation) with Lightning.

:class:`Fitter` turns a :class:`Schedule` into a Lightning ``Trainer`` (step budget, validation
interval, gradient accumulation and clipping, precision, loggers, progress bar), runs it,
and restores the best validation state when the schedule asks for it. A multi-source training set
(:class:`~xlt.training.multisource.MultiSourceTrain`) gets single-language batches and the
per-batch language-module switch (§4.4.4), whatever the method.
Given a stage's work dir, each phase checkpoints its trainable state and resumes exactly after a
kill or preemption (xlt.training.resume).

Lightning is imported inside the methods that train or evaluate: planning an experiment reads
:class:`TrainerConfig` and :class:`LoggerConfig` from here, and a fully cached re-run must not pay
Lightning's import (seconds; benchmarks/cached_rerun.py).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from xlt.data.mixture import MixtureBatchSampler, MixtureDataset, TagLanguage
from xlt.data.sampling import EpochBatchSampler, EpochIndexed, MarkPadding, RankShardData, RankShards
from xlt.schedule import Schedule
from xlt.training.distributed import check_devices, current_world, lightning_strategy, start_world
from xlt.training.multisource import MultiSourceTrain
from xlt.training.optim import OptimizerFactory, configure_optimizers

if TYPE_CHECKING:
    import lightning as L

    from xlt.tasks.base import TaskModel
    from xlt.training.resume import ResumableTraining

log = logging.getLogger(__name__)
SRUN_HINT = "The `srun` command is available on your system but is not used"  # Lightning's SLURMEnvironment


@dataclass
class TrainerConfig:
    """``trainer`` config group: hardware and run-wide settings (not hyper-parameters)."""

    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    progress_bar: bool = True  # rich progress bars with ETA, on a terminal only (logs of batch jobs stay clean)
    log_every_n_steps: int = 50
    max_steps_per_phase: int | None = None  # caps every phase (the smoke profile's budget)
    mlm_max_seq_length: int | None = None  # caps language modules' MLM block length (the smoke profile's budget)
    eval_batch_size: int | None = None  # default: twice the training batch size
    num_workers: int = 0
    deterministic: bool = False
    resume: bool = True  # checkpoint phases in the stage's work dir; a re-run resumes from there
    checkpoint_every_n_steps: int | None = None  # resume checkpoints every N optimiser steps ...
    checkpoint_every_minutes: float | None = 30.0  # ... and/or every M minutes (always on preemption)

    def __post_init__(self) -> None:
        # several devices: one process each, stages owned by rank 0 (xlt.training.distributed)
        check_devices(self.devices, self.strategy, self.accelerator)


@dataclass
class LoggerConfig:
    """``logger`` config group: CSV always; wandb (offline unless WANDB_MODE says otherwise)
    and TensorBoard on request."""

    csv: bool = True
    wandb: dict[str, Any] | None = None  # {project, entity, mode, tags}
    tensorboard: bool = False


@dataclass
class PhaseResult:
    steps: int
    best_step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)  # multi-source: training batches per language


def quiet_libraries() -> None:
    """Silence progress bars and load reports of transformers/datasets, and Lightning tips."""
    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.seed", "lightning.pytorch.trainer.connectors.signal_connector"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*hparams.*")
    warnings.filterwarnings("ignore", message=".*`isinstance\\(treespec, LeafSpec\\)`.*")
    # Lightning checks for SLURM again in fit/validate, not only when a Trainer is built (see Fitter._trainer)
    warnings.filterwarnings("ignore", message=SRUN_HINT)
    # under DDP every rank validates the whole validation set (xlt.training.distributed): the logged values are
    # the same on every rank, so Lightning's advice to all-reduce them (sync_dist) does not apply
    warnings.filterwarnings("ignore", message=".*sync_dist=True.*")


class Fitter:
    """Builds Trainers for one stage; logs go to ``log_dir/<label>/<phase>``."""

    def __init__(self, trainer_cfg: TrainerConfig, logger_cfg: LoggerConfig, log_dir: Path, label: str,
                 seed: int, run_name: str | None = None, work_dir: Path | None = None):
        self.cfg, self.logger_cfg = trainer_cfg, logger_cfg
        self.log_dir, self.label, self.seed, self.run_name = Path(log_dir), label, seed, run_name
        from xlt.training.resume import StageScratch

        # the stage's persistent scratch (resume checkpoints, finished phases); a no-op without work_dir
        self.scratch = StageScratch(work_dir if trainer_cfg.resume else None)

    # ------------------------------------------------------------------ loaders
    def train_loader(self, examples: Sequence[dict[str, Any]], collate: Callable, batch_size: int) -> DataLoader:
        """Batches of ``batch_size`` examples, the global batch: with several processes, each rank loads its
        part of every batch (xlt.data.sampling.RankShards), so the training is one process's."""
        dataset: Any
        generator: torch.Generator | None = None
        if isinstance(examples, MultiSourceTrain):  # single-language batches (§4.4.4)
            sources = list(examples.sources.items())
            sampler: Any = MixtureBatchSampler([len(e) for _, e in sources], batch_size, examples.factors(),
                                               seed=self.seed, sampling=examples.sampling)
            dataset, collate = MixtureDataset(sources, self.seed), TagLanguage(collate)
        else:
            sampler = EpochBatchSampler(len(examples), batch_size, seed=self.seed, shuffle=True)
            dataset, generator = EpochIndexed(examples, self.seed), _generator(self.seed)
        world = current_world()
        if world.distributed:
            sampler = RankShards(sampler, world.rank, world.size)
            dataset, collate = RankShardData(dataset), MarkPadding(collate)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=self.cfg.num_workers,
                          generator=generator)

    def eval_loader(self, examples: Sequence[dict[str, Any]], collate: Callable, batch_size: int) -> DataLoader:
        sampler = EpochBatchSampler(len(examples), self.cfg.eval_batch_size or 2 * batch_size, shuffle=False)
        return DataLoader(EpochIndexed(examples, self.seed + 1), batch_sampler=sampler, collate_fn=collate,
                          num_workers=self.cfg.num_workers, generator=_generator(self.seed + 1))

    # ------------------------------------------------------------------ trainer
    def _loggers(self, phase: str) -> list[Any]:
        loggers: list[Any] = []
        if self.logger_cfg.csv:
            from lightning.pytorch.loggers import CSVLogger

            loggers.append(CSVLogger(save_dir=str(self.log_dir), name=self.label, version=phase))
        if self.logger_cfg.tensorboard:
            from lightning.pytorch.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(save_dir=str(self.log_dir), name=self.label, version=phase))
        if self.logger_cfg.wandb is not None:
            import wandb
            from lightning.pytorch.loggers import WandbLogger

            options = dict(self.logger_cfg.wandb)
            os.environ.setdefault("WANDB_MODE", options.pop("mode", "offline") or "offline")
            os.environ.setdefault("WANDB_SILENT", "true")
            # the run is started here, not by WandbLogger: it passes wandb.init a deprecated `anonymous`
            # argument, and wandb warns about it on every phase
            run = wandb.init(name=f"{self.label}/{phase}", group=self.run_name, dir=str(self.log_dir),
                             reinit="create_new", **options)
            loggers.append(WandbLogger(experiment=run, save_dir=str(self.log_dir)))
        return loggers

    def _trainer(self, phase: str, callbacks: Sequence[L.Callback], alone: bool = False, **kwargs: Any) -> L.Trainer:
        """A Trainer on every rank of the job (the configured devices and strategy), or ``alone`` on this
        process's device (rank 0's evaluations while the other ranks wait)."""
        import lightning as L

        from xlt.training.resume import cluster_plugins

        callbacks = list(callbacks)
        progress_bar = self.cfg.progress_bar and sys.stdout.isatty()
        if progress_bar:
            try:
                from lightning.pytorch.callbacks import RichProgressBar

                callbacks.append(RichProgressBar(leave=False))
            except (ImportError, ModuleNotFoundError):
                pass
        with warnings.catch_warnings():
            # Lightning's hint to launch with srun, on every Trainer wherever SLURM is installed: an xlt job's
            # processes are started by submitit (srun on the cluster) or Lightning's launcher, so it is noise
            warnings.filterwarnings("ignore", message=SRUN_HINT)
            if alone or not current_world().distributed:
                devices, strategy = 1, "auto"
                plugins = [] if alone else cluster_plugins()
            else:
                devices, strategy, plugins = self.cfg.devices, lightning_strategy(self.cfg.strategy), cluster_plugins()
            return L.Trainer(
                accelerator=self.cfg.accelerator, devices=devices, strategy=strategy,
                precision=self.cfg.precision, logger=self._loggers(phase) or False, callbacks=callbacks,
                enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0,
                enable_progress_bar=progress_bar, log_every_n_steps=self.cfg.log_every_n_steps,
                deterministic=self.cfg.deterministic, default_root_dir=str(self.log_dir), plugins=plugins,
                use_distributed_sampler=False,  # our batch samplers shard themselves (RankShards)
                **kwargs)

    # ------------------------------------------------------------------ public
    def fit(self, model: TaskModel, train: Sequence[dict[str, Any]], validation: Mapping[str, Sequence[dict[str, Any]]],
            collate: Callable, schedule: Schedule, phase: str, callbacks: Sequence[L.Callback] = (),
            optimizer: OptimizerFactory | None = None) -> PhaseResult:
        """Train ``model`` for one phase; returns the step count and the best validation metrics.

        The optimiser and learning-rate schedule are built here from ``schedule``
        (xlt.training.optim: AdamW, or the method's own ``optimizer`` factory, with linear warm-up and decay).

        With a work dir, a phase finished in an earlier attempt is not redone (its final state is
        loaded) and an interrupted one resumes from its last checkpoint.

        With several devices (``trainer.devices``, xlt.training.distributed), every rank calls ``fit`` with the
        same arguments; batch sizes are global (each rank trains on its part of every batch); rank 0 decides
        whether the phase is finished or resumes, and writes its checkpoints and outcome."""
        import lightning as L

        from xlt.training.callbacks import BestState, LanguageSwitch, RankSeed
        from xlt.training.resume import trained_tensors

        world = start_world(self.cfg.devices, self.cfg.accelerator, self.cfg.strategy)
        if world.distributed and not world.joined:
            raise RuntimeError(f"{self.label} {phase}: trains on rank 0 alone while the job has {world.size} "
                               "ranks; its stage must be one that every rank builds (Stage.trains)")
        if world.share(self.scratch.phase_finished(phase)):  # rank 0's view decides for every rank
            finished = self.scratch.phase_result(phase, model)
            if finished is None:
                raise RuntimeError(f"{self.label} {phase}: rank {world.rank} does not see the finished phase "
                                   f"that rank 0 sees in {self.scratch.directory}")
            return PhaseResult(**finished)
        world.check_replicas(trained_tensors(model), f"{self.label} {phase}")
        L.seed_everything(self.seed, verbose=False)
        loader = self.train_loader(train, collate, schedule.batch_size)
        cap = self.cfg.max_steps_per_phase
        total = schedule.total_steps(len(loader), cap)
        interval = schedule.validation_interval(total, len(loader), cap=(cap // 2 if cap else None))
        model.optimizers_config = partial(configure_optimizers, model, schedule, total, optimizer)
        model.val_names = list(validation)
        val_loaders = [self.eval_loader(v, collate, schedule.batch_size) for v in validation.values()]
        metric = model.metric_factory()
        best = BestState(f"val/{metric.primary}", metric.mode)
        if isinstance(train, MultiSourceTrain):  # first, so modules are removed before the other hooks run
            callbacks = [LanguageSwitch(train.modules), *callbacks]
        if world.distributed:
            callbacks = [*callbacks, RankSeed(world.seed_rank, self.seed)]
        resume, ckpt_path = self._resumable(phase, loader), None
        if resume is not None and (found := world.share(resume.resume_from())) is not None:
            ckpt_path, info = found
            log.info("%s %s: resuming from checkpoint %s (step %d of %d)", self.label, phase, ckpt_path,
                     info["step"], total)
        trainer = self._trainer(
            phase, [*callbacks, best, *([resume] if resume else [])], max_steps=total, max_epochs=-1,
            val_check_interval=interval * schedule.accumulate if val_loaders else None,
            check_val_every_n_epoch=None if val_loaders else 1, limit_val_batches=1.0 if val_loaders else 0,
            accumulate_grad_batches=schedule.accumulate, gradient_clip_val=schedule.max_grad_norm)
        log.info("%s %s: %d steps (%d batches/epoch), validation every %d steps",
                 self.label, phase, total, len(loader), interval)
        trainer.fit(model, train_dataloaders=loader, val_dataloaders=val_loaders or None, ckpt_path=ckpt_path,
                    weights_only=False)
        if val_loaders and best.last_validated_step != trainer.global_step:
            trainer.validate(model, dataloaders=val_loaders, verbose=False)
        _finish_loggers(trainer)
        if val_loaders and schedule.select_best:
            best.restore(model)
        batches = {}
        if isinstance(train, MultiSourceTrain):
            mixture = loader.batch_sampler
            mixture = getattr(mixture, "global_batches", mixture)  # RankShards: the mixture's global batches
            counts = mixture.source_counts(trainer.global_step * schedule.accumulate)
            batches = dict(zip(train.languages, counts))
        result = PhaseResult(steps=trainer.global_step, best_step=best.best_step, metrics=best.best_metrics,
                             batches=batches)
        self.scratch.save_phase_result(phase, model, result)
        return result

    def _resumable(self, phase: str, loader: DataLoader) -> ResumableTraining | None:
        from xlt.training.resume import ResumableTraining

        directory = self.scratch.phase_dir(phase)
        if directory is None:
            return None
        return ResumableTraining(directory, loader.batch_sampler, self.cfg.checkpoint_every_n_steps,
                                 self.cfg.checkpoint_every_minutes)

    def evaluate(self, model: TaskModel, data: Mapping[str, Sequence[dict[str, Any]]], collate: Callable,
                 batch_size: int) -> dict[str, dict[str, float]]:
        """Metrics per named dataset (e.g. per target language). With several ranks, rank 0 evaluates
        alone on its device and the other ranks (when they run the same stage) get its results."""
        world = current_world()
        results: dict[str, dict[str, float]] | None = None
        if world.is_zero:
            model.val_names = list(data)
            loaders = [self.eval_loader(v, collate, batch_size) for v in data.values()]
            trainer = self._trainer("evaluation", [], alone=world.distributed)
            trainer.validate(model, dataloaders=loaders, verbose=False)
            _finish_loggers(trainer)
            results = {}
            for key, value in trainer.callback_metrics.items():
                parts = key.split("/")
                if len(parts) == 3 and parts[0] == "val":
                    results.setdefault(parts[1], {})[parts[2]] = float(value)
        return world.share(results) if world.joined else results  # type: ignore[return-value]


def _generator(seed: int) -> torch.Generator:
    """A loader's own generator: creating its iterators must not draw from the global RNG (dropout),
    or a resumed run would see different random numbers than an uninterrupted one."""
    return torch.Generator().manual_seed(seed)


def _finish_loggers(trainer: L.Trainer) -> None:
    """Close wandb runs per phase (one run per stage and phase, grouped by experiment)."""
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger":
            logger.experiment.finish()
