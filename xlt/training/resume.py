"""Checkpoints that let a killed, preempted or timed-out stage resume exactly where it stopped.

Every unfinished stage has a persistent work dir (``ArtifactStore.work_dir``); a training phase
keeps, under ``<work_dir>/<phase>/``:

- ``last.ckpt`` (+ ``last.json``): a Lightning checkpoint written every N optimiser steps /
  minutes and at once on a preemption or time-limit signal. It holds only the *trained* state
  (:func:`trained_tensors`: the parameters with ``requires_grad`` and the buffers that modules
  declare as trained, e.g. SpIEL's indices; frozen base weights are rebuilt from the base model),
  the optimiser, scheduler and loop state, the callbacks' state (validation selection, SpIEL's
  selection windows), the batch sampler's position and the RNG states;
- ``done.pt``: when the phase has finished, its final trained state and its result, so a
  resumed stage skips finished phases (LT-SFT's phase 1 is not redone during phase 2).

Resuming is exact: batch order depends only on (seed, epoch) (xlt.data.sampling) and the
sampler restarts mid-epoch after the batches already consumed; the RNG states (dropout) are
restored right before the first resumed step; checkpoints are taken only after an optimiser
step (never inside a gradient-accumulation window) and, when a validation follows that step,
after the validation (Lightning does not re-run a validation on restart).

Preemption (SLURM through submitit): submitit's handler for its signal (USR2 by default,
``SUBMITIT_PREEMPT_SIGNAL``) checkpoints the job and requeues it. While a phase trains, that
handler is wrapped: the signal only sets a flag, the next safe point writes a checkpoint, and
then submitit's handler runs (requeue, exit). Lightning's own SLURM auto-requeue is turned off
(:func:`cluster_plugins`): submitit owns requeueing. A SIGTERM (Lightning stops training at the
next batch) also writes a checkpoint first.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import numpy as np
import torch

from xlt.data.sampling import SeededBatchSampler
from xlt.errors import ArtifactError
from xlt.training.distributed import current_world

log = logging.getLogger(__name__)
T = TypeVar("T")

CHECKPOINT = "last.ckpt"
CHECKPOINT_INFO = "last.json"
PHASE_DONE = "done.pt"

# Our loader restarts mid-epoch through SeededBatchSampler.resume_at, which Lightning cannot see.
warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")


# ---------------------------------------------------------------------------- RNG
def rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                              "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# ---------------------------------------------------------------------------- trained state
TRAINED_BUFFERS = "trained_buffers"


def trained_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What training changes, by state-dict name: the parameters with ``requires_grad`` and the
    buffers a module lists in its class attribute ``trained_buffers`` (e.g. ``("indices",)`` on a
    layer whose training rewrites which entries its parameters belong to). Live tensors."""
    tensors: dict[str, torch.Tensor] = {name: p for name, p in model.named_parameters() if p.requires_grad}
    for prefix, module in model.named_modules():
        for buffer in getattr(module, TRAINED_BUFFERS, ()):
            tensors[f"{prefix}.{buffer}" if prefix else buffer] = getattr(module, buffer)
    return tensors


def trained_buffer_names(model: torch.nn.Module) -> set[str]:
    params = {name for name, _ in model.named_parameters()}
    return set(trained_tensors(model)) - params


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trained state (:func:`trained_tensors`), detached copies on the CPU."""
    return {name: t.detach().to("cpu", copy=True) for name, t in trained_tensors(model).items()}


@torch.no_grad()
def load_trained_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Copy ``state`` (from :func:`trainable_state`) into ``model`` in place (tensors keep their
    identity, so optimisers and other holders of a buffer see the new values). Every name must
    exist in ``model`` (as a parameter or a trained buffer), and every trained buffer must be given:
    a trained parameter's values without the buffer they belong to would be silently wrong."""
    targets = {**dict(model.named_parameters()), **trained_tensors(model)}
    missing = sorted(set(state) - set(targets))
    if missing:
        raise ArtifactError(f"{where}: the model lacks {missing[0]!r}")
    absent = sorted(trained_buffer_names(model) - set(state))
    if absent:
        raise ArtifactError(f"{where}: holds no {absent[0]!r}, which this model trains")
    for name, value in state.items():
        targets[name].copy_(value.to(targets[name].device))


def atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- scratch
class StageScratch:
    """Persistent scratch of one stage build: phase checkpoints and phase outcomes.

    ``StageScratch(None)`` is a no-op (nothing persisted, nothing resumed). With several ranks
    (xlt.training.distributed) every rank reads it and only rank 0 writes.
    """

    def __init__(self, directory: str | Path | None):
        self.directory = Path(directory) if directory is not None else None

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def phase_path(self, phase: str) -> Path | None:
        """Where ``phase`` keeps its checkpoints and outcome (not created)."""
        return None if self.directory is None else self.directory / phase.replace("/", "_")

    def phase_dir(self, phase: str) -> Path | None:
        path = self.phase_path(phase)
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def keep(self, name: str, compute: Callable[[], T]) -> T:
        """``compute()``, saved on first use and loaded on a resumed build (tensors, dicts, numbers)."""
        if self.directory is None:
            return compute()
        path = self.directory / f"{name}.pt"
        if path.exists():
            log.info("reusing %s from an earlier attempt (%s)", name, path)
            return torch.load(path, weights_only=True, map_location="cpu")
        value = compute()
        if current_world().is_zero:  # the other ranks compute the same value (their replicas are rank 0's)
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(value, path)
        return value

    # ------------------------------------------------------------------ finished phases
    def phase_finished(self, phase: str) -> bool:
        directory = self.phase_path(phase)
        return directory is not None and (directory / PHASE_DONE).exists()

    def phase_result(self, phase: str, model: torch.nn.Module) -> dict[str, Any] | None:
        """If ``phase`` finished in an earlier attempt: load its final trained state (parameters
        and trained buffers) into ``model`` and return its saved result; else None."""
        directory = self.phase_path(phase)
        if directory is None or not (directory / PHASE_DONE).exists():
            return None
        record = torch.load(directory / PHASE_DONE, weights_only=True, map_location="cpu")
        try:
            load_trained_state(model, record["state"], str(directory / PHASE_DONE))
        except ArtifactError as error:
            raise ArtifactError(f"{error}; delete {self.directory} to start the stage over") from None
        log.info("phase %s finished in an earlier attempt: reusing its result (%s)", phase, directory / PHASE_DONE)
        return record["result"]

    def save_phase_result(self, phase: str, model: torch.nn.Module, result: Any) -> None:
        if not current_world().is_zero:  # only rank 0 writes the work dir
            return
        directory = self.phase_dir(phase)
        if directory is None:
            return
        result = asdict(result) if hasattr(result, "__dataclass_fields__") else result
        atomic_torch_save({"state": trainable_state(model), "result": result}, directory / PHASE_DONE)
        for name in (CHECKPOINT, CHECKPOINT_INFO):
            (directory / name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------- preemption
def preemption_signal() -> signal.Signals:
    """The signal submitit sends before a time limit or on preemption (USR2 unless overridden)."""
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, f"SIG{name}", signal.SIGUSR2)


def cluster_plugins() -> list[Any]:
    """Lightning plugins for the current environment: on SLURM, the SLURM environment with
    Lightning's auto-requeue OFF (submitit requeues; two owners would requeue twice)."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    if SLURMEnvironment.detect():
        return [SLURMEnvironment(auto_requeue=False)]
    return []


# ---------------------------------------------------------------------------- the callback
class ResumableTraining(L.Callback):
    """Writes ``last.ckpt`` every ``every_n_steps`` optimiser steps and/or ``every_minutes``,
    and at once when preempted; restores the sampler position and RNG states on resume."""

    def __init__(self, directory: Path, sampler: SeededBatchSampler, every_n_steps: int | None = None,
                 every_minutes: float | None = None):
        self.directory = Path(directory)
        self.sampler = sampler
        self.every_n_steps = every_n_steps
        self.every_seconds = every_minutes * 60 if every_minutes else None
        self._last_save_time = time.monotonic()
        self._last_save_step = -1
        self._pending_rng: dict[str, Any] | None = None
        self._save_after_validation = False
        self._preempted: tuple[int, Any] | None = None
        self._previous_handler: Any = None
        self._signal: signal.Signals | None = None

    # ------------------------------------------------------------------ paths
    @property
    def checkpoint(self) -> Path:
        return self.directory / CHECKPOINT

    def resume_from(self) -> tuple[Path, dict[str, Any]] | None:
        """The checkpoint to resume from (and its info), if an earlier attempt left one."""
        info = self.directory / CHECKPOINT_INFO
        if not self.checkpoint.exists() or not info.exists():
            return None
        return self.checkpoint, json.loads(info.read_text())

    # ------------------------------------------------------------------ signals
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning's signal connector has recorded the handlers it restores at teardown
        self._last_save_time = time.monotonic()
        if threading.current_thread() is not threading.main_thread():
            return
        sig = preemption_signal()
        previous = signal.getsignal(sig)
        if callable(previous):  # submitit's handler: defer it to the next safe point
            self._signal, self._previous_handler = sig, previous
            signal.signal(sig, self._on_preemption_signal)

    def _on_preemption_signal(self, signum: int, frame: Any) -> None:
        log.warning("received signal %s: checkpointing at the next optimiser step, then requeueing", signum)
        self._preempted = (signum, frame)

    def _restore_handler(self) -> None:
        if self._signal is not None and threading.current_thread() is threading.main_thread():
            signal.signal(self._signal, self._previous_handler)
        self._signal = None

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore_handler()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_handler()

    # ------------------------------------------------------------------ saving
    def _due(self, trainer: L.Trainer) -> bool:
        """Whether to checkpoint now; with several ranks, when any rank says so (its clock or a signal it
        received), so that all of them save at the same step (saving is a collective)."""
        due = self._due_here(trainer)
        if trainer.world_size > 1:
            due = bool(trainer.strategy.reduce_boolean_decision(due, all=False))
        return due

    def _due_here(self, trainer: L.Trainer) -> bool:
        if self._preempted is not None or trainer.received_sigterm:
            return True
        if trainer.global_step == self._last_save_step:
            return False
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            return True
        return self.every_seconds is not None and time.monotonic() - self._last_save_time >= self.every_seconds

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        loop = trainer.fit_loop.epoch_loop
        if loop._should_accumulate() or not self._due(trainer):  # only right after an optimiser step
            return
        if loop._should_check_val_fx(trainer.fit_loop._data_fetcher):
            self._save_after_validation = True  # Lightning skips this validation on restart: save after it
            return
        self._save(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._save_after_validation and not trainer.sanity_checking:
            self._save_after_validation = False
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{CHECKPOINT}.tmp"
        trainer.save_checkpoint(tmp, weights_only=False)  # on every rank; the strategy writes on rank 0
        if trainer.is_global_zero:
            os.replace(tmp, self.checkpoint)
            info = {"step": trainer.global_step, "max_steps": trainer.max_steps, "epoch": trainer.current_epoch,
                    "saved_at": time.time()}
            (self.directory / f".{CHECKPOINT_INFO}.tmp").write_text(json.dumps(info) + "\n")
            os.replace(self.directory / f".{CHECKPOINT_INFO}.tmp", self.directory / CHECKPOINT_INFO)
        self._last_save_time, self._last_save_step = time.monotonic(), trainer.global_step
        log.debug("checkpoint at step %d: %s", trainer.global_step, self.checkpoint)
        if self._preempted is not None:
            signum, frame = self._preempted
            self._preempted = None
            handler = self._previous_handler
            self._restore_handler()
            log.warning("checkpoint written at step %d (%s); handing over to the requeue handler",
                        trainer.global_step, self.checkpoint)
            handler(signum, frame)  # submitit: checkpoint the job, requeue it, exit

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        trained = set(trained_tensors(pl_module))
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        epoch, consumed = trainer.fit_loop.epoch_progress.current.processed, progress.ready
        if consumed >= trainer.num_training_batches:
            epoch, consumed = epoch + 1, 0
        states = current_world().gather(rng_states())  # every rank's own stream (dropout), in rank order
        checkpoint["xlt_resume"] = {"sampler": {"epoch": epoch, "batches_done": consumed}, "rng": states[0],
                                    **({"rng_ranks": states} if len(states) > 1 else {})}

    # ------------------------------------------------------------------ loading
    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        state = checkpoint.get("xlt_resume")
        if state is None:
            return
        trained = set(trained_tensors(pl_module))
        if set(checkpoint["state_dict"]) != trained:  # partial loading would hide it: refuse
            different = sorted(set(checkpoint["state_dict"]) ^ trained)
            raise ArtifactError(f"{self.checkpoint}: holds other trainable parameters than this phase has "
                                f"(e.g. {different[0]!r}); delete {self.directory.parent} to start the stage over")
        self.sampler.resume_at(state["sampler"]["epoch"], state["sampler"]["batches_done"])
        world = current_world()
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) != world.size:
            raise ArtifactError(f"{self.checkpoint}: written by {len(ranks)} process(es), resumed by {world.size}; "
                                f"delete {self.directory.parent} to start the stage over")
        self._pending_rng = ranks[world.rank]
        self._last_save_step = checkpoint.get("global_step", -1)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._pending_rng is not None:  # right before the first resumed step, as in the uninterrupted run
            set_rng_states(self._pending_rng)
            self._pending_rng = None
