"""Stages and the runner: a recipe is a graph of stages whose outputs are stored artifacts.

A stage's key hashes its kind, its resolved spec (everything that determines its output)
and its inputs' keys. The runner builds stages in dependency order, skipping any whose
artifact is already finished (so a re-run, or the second job of a sweep that shares the
stage, reuses it) and holding the store's lock while building.

Before it builds anything, the runner calls the ``validate`` check of every stage that is not
finished yet: each opens and parses the data files its stage will read (through the same readers
and task preprocessing), so a malformed target test file fails in seconds, not after the language
modules have trained for days. Finished stages are not checked again, so a cached re-run stays fast.

A job with several ranks (``trainer.devices=N``, xlt.training.distributed) runs the runner on every rank.
Rank 0 checks, decides per stage (cached, or built under the lock) and tells the others; for a stage it
builds that trains (``Stage.trains``), the others build a replica alongside it, joining its training
phases, into a throwaway directory; stages that do not train are rank 0's alone. Only rank 0 takes locks,
writes artifacts and links, and returns results.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import xlt
from xlt.pipeline.store import ArtifactStore
from xlt.training.distributed import World, current_world
from xlt.utils.hashing import directory_hash, stable_hash

log = logging.getLogger(__name__)


NON_TRAINING_KINDS = frozenset({"evaluation", "export"})
BUILD, CACHED = "build", "cached"


@dataclass
class StageContext:
    """What a stage's build function gets: where to write, and its inputs' artifact dirs."""

    stage: Stage
    out_dir: Path
    work_dir: Path
    inputs: dict[str, Path]
    run_dir: Path


@dataclass(eq=False)
class Stage:
    kind: str  # artifact family, e.g. "language_module", "task_module", "evaluation"
    label: str  # human name, e.g. "lang/aym"
    spec: dict[str, Any]  # everything (besides inputs) that determines the output
    build: Callable[[StageContext], dict[str, Any]]  # writes the artifact, returns its metrics
    inputs: dict[str, Stage] = field(default_factory=dict)
    version: int = 1  # bump when a stage's code changes what it produces
    # checks what the build will read (data files: opened and parsed) without building; raises XltError.
    # Not part of the key. The runner calls it for every unfinished stage before building the first one.
    validate: Callable[[], None] | None = None
    # whether the build trains (calls Fitter.fit): in a multi-device job every rank then builds it together;
    # a stage that only evaluates or exports is built by rank 0 alone (Fitter.fit there is an error)
    trains: bool | None = None  # None: every kind but NON_TRAINING_KINDS

    def __post_init__(self) -> None:
        if self.trains is None:
            self.trains = self.kind not in NON_TRAINING_KINDS

    @cached_property
    def key(self) -> str:
        return stable_hash({"kind": self.kind, "version": self.version, "spec": self.spec,
                            "inputs": {name: stage.key for name, stage in sorted(self.inputs.items())}})


@dataclass
class StageResult:
    stage: Stage
    path: Path
    metrics: dict[str, Any]
    status: str  # "built", "resumed" (built from an earlier attempt's checkpoints in its work dir) or "cached"
    seconds: float


def topological(stages: Iterable[Stage]) -> list[Stage]:
    ordered: list[Stage] = []
    seen: set[int] = set()

    def visit(stage: Stage) -> None:
        if id(stage) in seen:
            return
        seen.add(id(stage))
        for dependency in stage.inputs.values():
            visit(dependency)
        ordered.append(stage)

    for stage in stages:
        visit(stage)
    return ordered


class Runner:
    def __init__(self, store: ArtifactStore, run_dir: Path, announce: Callable[[str], None] = log.info,
                 resume: bool = True):
        """``resume=False`` (``trainer.resume``): a stage left unfinished by an earlier attempt is built afresh,
        its work dir (checkpoints, translated chunks) cleared first."""
        self.store, self.run_dir, self.announce, self.resume = store, Path(run_dir), announce, resume
        self.results: dict[str, StageResult] = {}

    def run(self, stages: Iterable[Stage]) -> dict[str, StageResult]:
        """Every stage's result, on rank 0 (the other ranks of a multi-device job follow it and get none)."""
        ordered = topological(stages)
        world = current_world()
        world.rank_zero_only(lambda: self.check(ordered))
        for stage in ordered:
            if not world.is_zero:
                self._follow(stage, world)
                continue
            if stage.label in self.results and self.results[stage.label].stage.key != stage.key:
                raise ValueError(f"two different stages share the label {stage.label!r}")
            self.results[stage.label] = self._run_one(stage, world)
        return self.results

    def check(self, stages: Sequence[Stage]) -> None:
        """Run the ``validate`` check of every stage whose artifact is not finished, in plan order, before
        any stage is built: the first bad config value or data file raises here (an XltError), and nothing
        has been trained or written."""
        pending = [stage for stage in stages if stage.validate is not None
                   and not self.store.is_done(stage.kind, stage.key)]
        if pending:
            self.announce(f"[bold]checking[/] the data of {len(pending)} stage(s) before building any")
        for stage in pending:
            stage.validate()

    def _run_one(self, stage: Stage, world: World) -> StageResult:
        start = time.perf_counter()
        kind, key = stage.kind, stage.key
        if self.store.is_done(kind, key):
            status = world.share(CACHED)
        else:
            def waiting(holder: str) -> None:
                self.announce(f"[yellow]waiting[/]  {stage.label} [dim]({kind}/{key})[/]: another job builds it "
                              f"(lock held by {holder})")

            with self.store.lock(kind, key, on_wait=waiting):
                if self.store.is_done(kind, key):
                    status = world.share(CACHED)  # another job built it while we waited
                else:
                    work_dir = self.store.work_dir(kind, key)
                    if not self.resume and work_dir.is_dir():
                        shutil.rmtree(work_dir)  # before the other ranks start: they read rank 0's work dir
                    world.share(BUILD)
                    resumed = work_dir.is_dir() and any(work_dir.iterdir())  # an earlier attempt's checkpoints
                    self.announce(f"[bold]{'resuming' if resumed else 'building'}[/] {stage.label} "
                                  f"[dim]({kind}/{key})[/]")
                    with world.joining(bool(stage.trains)):
                        self._build(stage)
                    status = "resumed" if resumed else "built"
        path = self.store.path(kind, key)
        seconds = time.perf_counter() - start
        if status == "cached":
            self.announce(f"[green]cached[/]   {stage.label} [dim]({kind}/{key})[/]")
        else:
            self.announce(f"[green]{status}[/]{' ' * (9 - len(status))}{stage.label} in {seconds:.1f}s")
        self._link(stage, path)
        return StageResult(stage, path, self.store.read_metrics(kind, key), status, seconds)

    def _follow(self, stage: Stage, world: World) -> None:
        """A rank > 0: build a replica of what rank 0 builds, when the stage trains (its outputs are thrown
        away; its phases resume from the stage's work dir as rank 0's do, which only rank 0 writes)."""
        if world.share(None) != BUILD or not stage.trains:
            return
        inputs = {name: self.store.path(dep.kind, dep.key) for name, dep in stage.inputs.items()}
        (self.store.root / stage.kind).mkdir(parents=True, exist_ok=True)
        out_dir = Path(tempfile.mkdtemp(dir=self.store.root / stage.kind, prefix=f".replica-{stage.key}-{world.rank}-"))
        try:
            with world.joining(True):
                stage.build(StageContext(stage, out_dir, self.store.work_dir(stage.kind, stage.key), inputs,
                                         self.run_dir))
            world.barrier()  # rank 0 commits the artifact (and removes the work dir) after this
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def _build(self, stage: Stage) -> None:
        inputs = {name: self.store.path(dep.kind, dep.key) for name, dep in stage.inputs.items()}
        work_dir = self.store.work_dir(stage.kind, stage.key)
        work_dir.mkdir(parents=True, exist_ok=True)
        with self.store.building(stage.kind, stage.key) as out_dir:
            started = time.time()
            metrics = stage.build(StageContext(stage, out_dir, work_dir, inputs, self.run_dir)) or {}
            world = current_world()
            if world.joined:  # the other ranks' replicas still read the work dir, which committing removes
                world.barrier()
            (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
            OmegaConf.save(OmegaConf.create(stage.spec), out_dir / "config.yaml")
            record = {"kind": stage.kind, "label": stage.label, "key": stage.key, "version": stage.version,
                      "inputs": {name: f"{dep.kind}/{dep.key}" for name, dep in stage.inputs.items()},
                      "xlt_version": xlt.__version__, "built_at": started,
                      "seconds": round(time.time() - started, 3),
                      "content_hash": directory_hash(out_dir, exclude=("stage.json", "DONE"))}
            (out_dir / "stage.json").write_text(json.dumps(record, indent=2) + "\n")

    def _link(self, stage: Stage, path: Path) -> None:
        link = self.run_dir / "artifacts" / stage.label
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(path.resolve(), link)
