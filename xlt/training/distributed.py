"""Several devices in one job: Lightning's DDP (or FSDP) with the pipeline's stages owned by rank 0.

A job with ``trainer.devices=N`` and ``trainer.strategy=ddp`` (or ``fsdp``) runs as N processes, one per
device. Lightning starts them (:func:`start_world`, through Fabric's launcher): locally its subprocess
launcher re-runs the job's command (``launch.py`` with the same arguments and Hydra run directory) with
``LOCAL_RANK`` set; under SLURM every task of the job (``--ntasks-per-node=N``, xlt.cluster.launcher) is one
process and Lightning's ``SLURMEnvironment`` reads the ranks; under ``torchrun`` its environment. Every
process therefore runs the whole pipeline, and this module keeps them in step:

- **rank 0 owns the pipeline's decisions and files.** It plans first (others plan after it, reading the
  caches it wrote), checks the data, decides per stage whether it is cached or must be built (taking the
  store's lock), writes artifacts, scratch files, evaluation results and ``results.json``. The other ranks
  receive every decision from rank 0 (:meth:`World.share`, a broadcast over a gloo group whose timeout is
  long enough to wait for another job's lock), so all ranks agree even while other jobs of a sweep finish
  shared stages; no rank but 0 ever takes an artifact lock, so none waits on a lock held by its own job.
- **the other ranks join only the training.** For a stage rank 0 builds, they run the same build function
  (a replica: same inputs, same seeds, same work dir to resume from; their outputs go to a throwaway
  directory), so every :meth:`~xlt.training.fit.Fitter.fit` call happens on every rank with the same
  model, data and callbacks; stages that never train (``Stage.trains`` false: evaluations, exports) are
  rank 0's alone. Inside a replica, evaluation is rank 0's and its results are shared.
- **a failure on any rank ends the job with that rank's message**: the failing rank records its error
  (:func:`claim_failure`: the first failure of the job wins) and exits; the others notice (a closed
  connection), and report the recorded failure instead of their own consequent error; rank 0 ends the
  processes Lightning spawned for it. With NCCL, where a dead peer is not noticed, Lightning's process
  observer (local) or SLURM's ``--kill-on-bad-exit`` (xlt.cluster.launcher) ends the others.

Batches are sharded by rank (xlt.data.sampling.RankShards): every configured batch size is the *global*
batch, each rank gets its share of each batch, and a task model's loss is weighted by its rank's share of
the global batch's loss units (xlt.tasks.base.TaskModel), so a multi-process run trains as one process
with the same batches, within float tolerance (docs/cluster.md).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from xlt.errors import ConfigError, RankFailure

if TYPE_CHECKING:  # torch is imported where a rank needs it: planning and --cfg job stay light
    import torch

log = logging.getLogger(__name__)
T = TypeVar("T")

STRATEGIES = ("auto", "ddp", "fsdp")  # trainer.strategy: auto means ddp for several devices
REFUSED = ("ddp_spawn", "ddp_fork", "ddp_notebook", "deepspeed")  # re-create processes per fit / not supported
# A follower may wait for rank 0 this long at a decision (rank 0 may wait on another job's artifact lock,
# or evaluate alone); a dead peer is noticed at once (a closed connection), not after this timeout.
COORDINATION_TIMEOUT = datetime.timedelta(days=30)
FAILURE_FILE = ".rank-failure.json"


# ---------------------------------------------------------------------------- configuration
def device_count(devices: Any) -> int | None:
    """How many devices ``trainer.devices`` names: an int, a list of device indices, or None where only
    Lightning can tell (``auto``, -1: every visible device)."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str):
        text = devices.strip()
        if text.lower() == "auto":
            return None
        if "," in text:
            return len([part for part in text.split(",") if part.strip()])
        devices = text
    try:
        count = int(devices)
    except (TypeError, ValueError):
        raise ConfigError(f"trainer.devices={devices!r}: expected a number, a list of device indices or auto") \
            from None
    return None if count == -1 else count


def check_devices(devices: Any, strategy: str, accelerator: str | None = None) -> None:
    """``trainer.devices``, ``trainer.strategy`` and (where given: the job's own process, not a login node)
    ``trainer.accelerator`` together (ConfigError naming the keys). Lightning's FSDP runs on CUDA only, so
    several processes with ``fsdp`` on CPU are refused here, before any stage starts, not by Lightning once
    the first stage trains."""
    count = device_count(devices)
    if count is not None and count < 1:
        raise ConfigError(f"trainer.devices={devices!r}: must be >= 1 (or auto, -1: every visible device)")
    name = str(strategy).lower()
    if name in REFUSED:
        raise ConfigError(f"trainer.strategy={strategy!r}: not supported (a job's processes run the whole pipeline; "
                          f"use one of {', '.join(STRATEGIES)})")
    if name not in STRATEGIES:
        raise ConfigError(f"trainer.strategy={strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "fsdp" and accelerator is not None and count != 1 and not _cuda_accelerator(accelerator):
        raise ConfigError(f"trainer.strategy=fsdp: Lightning's FSDP needs CUDA GPUs, but trainer.accelerator="
                          f"{accelerator!r} runs on CPU here; use trainer.strategy=ddp (or trainer.devices=1)")


def _cuda_accelerator(accelerator: str) -> bool:
    """Whether ``trainer.accelerator`` trains on CUDA devices in this process."""
    name = str(accelerator).lower()
    if name in ("cuda", "gpu"):
        return True
    if name != "auto":
        return False
    import torch

    return torch.cuda.is_available()


def processes_per_node(devices: Any, strategy: str) -> int | None:
    """Processes (SLURM tasks) one node runs for this trainer config: one per device (None: ``auto``)."""
    check_devices(devices, strategy)
    return device_count(devices)


# ---------------------------------------------------------------------------- failures
def describe(error: BaseException) -> str:
    from xlt.errors import XltError

    if isinstance(error, XltError):
        return str(error)
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def claim_failure(run_dir: Path | None, rank: int, error: BaseException) -> tuple[int, str]:
    """Record ``error`` as the job's failure unless a rank recorded one first; returns (rank, message) of
    the first failure. The file is created exclusively (O_EXCL), so exactly one rank's failure wins."""
    message = describe(error)
    if run_dir is None:
        return rank, message
    path = Path(run_dir) / FAILURE_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            first = json.loads(path.read_text())
            return int(first["rank"]), str(first["error"])
        except (OSError, ValueError, KeyError):
            return rank, message
    except OSError:
        return rank, message
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps({"rank": rank, "error": message}) + "\n")
    return rank, message


# ---------------------------------------------------------------------------- the world
@dataclass
class World:
    """This job's processes as this process sees them. A single process is a world of one, where every
    method is a no-op (``share`` returns its argument)."""

    rank: int = 0
    size: int = 1
    run_dir: Path | None = None
    group: Any = None  # gloo group for decisions (long timeout)
    children: list[Any] = field(default_factory=list)  # processes Lightning's launcher spawned (local rank 0)
    # whether every rank runs the current build (a stage that trains); Fitter.fit needs them all
    joined: bool = True

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    # ------------------------------------------------------------------ collectives (gloo, long timeout)
    def share(self, value: T | None = None) -> T:
        """Rank 0's ``value`` on every rank (the others pass nothing)."""
        if not self.distributed:
            return value  # type: ignore[return-value]
        import torch.distributed as dist

        box = [value if self.is_zero else None]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]  # type: ignore[return-value]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        values: list[Any] = [None] * self.size
        dist.all_gather_object(values, value, group=self.group)
        return values

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier(group=self.group)

    def rank_zero_first(self, compute: Callable[[], T]) -> T:
        """``compute()`` on rank 0, then on the others (e.g. planning, which may fill caches)."""
        if self.is_zero:
            value = compute()
            self.share(True)
            return value
        self.share(None)
        return compute()

    def rank_zero_only(self, compute: Callable[[], None]) -> None:
        """``compute()`` on rank 0 while the others wait (e.g. the data check before any stage is built)."""
        if self.is_zero:
            compute()
        self.share(True)

    @contextmanager
    def joining(self, together: bool) -> Iterator[None]:
        """The current build runs on every rank (``together``) or on rank 0 alone."""
        previous, self.joined = self.joined, together
        try:
            yield
        finally:
            self.joined = previous

    # ------------------------------------------------------------------ training
    def seed_rank(self, seed: int) -> None:
        """After ``seed_everything(seed)`` (the same on every rank): give ranks > 0 their own stream, so
        that dropout draws independent masks for each rank's part of the batch, as one process does for
        the whole batch (the same seed everywhere would repeat rank 0's masks on every rank)."""
        if self.rank == 0:
            return
        import numpy as np
        import torch

        derived = (seed * 1_000_003 + self.rank * 7_919) % (2**32)
        torch.manual_seed(derived)
        np.random.seed(derived)
        random.seed(derived)

    def check_replicas(self, tensors: dict[str, torch.Tensor], where: str) -> None:
        """Raise if the trained tensors differ between ranks before a phase: every rank must build the same
        model (seeded); DDP would overwrite the parameters with rank 0's, but state derived from them (an
        LT-SFT mask, the L1 reference) would silently differ."""
        if not self.distributed:
            return
        digest = [(name, float(t.detach().double().sum()), float(t.detach().double().abs().sum()))
                  for name, t in tensors.items()]
        digests = self.gather(digest)
        for rank, other in enumerate(digests[1:], start=1):
            if other != digests[0]:
                names = [a[0] for a, b in zip(digests[0], other) if a != b] or ["(the set of trained tensors)"]
                raise RuntimeError(f"{where}: rank {rank} starts with other trained values than rank 0 "
                                   f"(e.g. {names[0]}); a stage must build the same model on every rank "
                                   "(seed its random initialisations)")

    # ------------------------------------------------------------------ the end
    def finish(self) -> None:
        """Every rank is through the plan; rank 0 then waits for the processes it spawned to exit."""
        if not self.distributed:
            return
        self.barrier()
        for child in self.children:
            try:
                child.wait(timeout=120)
            except Exception:  # a child that does not exit is ended below
                child.kill()

    def run(self, body: Callable[[], T]) -> T | None:
        """``body()`` (the job's stages) on this rank, then :meth:`finish`. A failure on any rank ends the job
        with the first failing rank's message (:meth:`fail`); a rank > 0 that stops because another rank
        failed returns None."""
        try:
            value = body()
            self.finish()
            return value
        except BaseException as error:
            if self.fail(error):
                return None
            raise

    def fail(self, error: BaseException) -> bool:
        """Called with this rank's error: record it (the first failure of the job wins) and end the
        processes this rank spawned. When another rank failed first, this rank's error is its consequence
        (e.g. a closed connection): rank 0 then raises that rank's message (the job's error), and a rank > 0
        returns True, to stop without an error of its own (rank 0 reports). Otherwise returns False: the
        caller re-raises its error."""
        if not self.distributed:
            return False
        first_rank, message = claim_failure(self.run_dir, self.rank, error)
        for child in self.children:
            if child.poll() is None:
                child.kill()
        if first_rank == self.rank:
            log.error("rank %d failed: %s", self.rank, message)
            return False
        if self.is_zero:
            raise RankFailure(f"rank {first_rank} failed: {message}") from error
        log.warning("rank %d stops: rank %d failed: %s", self.rank, first_rank, message)
        return True


_WORLD = World()


def current_world() -> World:
    return _WORLD


def _externally_created() -> bool:
    """Whether something other than Lightning's subprocess launcher started this job's processes
    (SLURM tasks, torchrun, a launcher that exported LOCAL_RANK): then every process is already running."""
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    return "LOCAL_RANK" in os.environ or SLURMEnvironment.detect() or TorchElasticEnvironment.detect()


def _refuse_in_process_sweep() -> None:
    """Lightning's launcher re-runs the command line in every process: a whole Hydra sweep run in one
    process (``-m`` with the basic launcher) would be re-run by each."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN and not _externally_created():
        raise ConfigError("trainer.devices: a multi-device job of a sweep needs its own processes; use "
                          "hydra/launcher=submitit_slurm or submitit_local (one task per device)")


def start_world(devices: Any, accelerator: str, strategy: str, run_dir: Path | None = None) -> World:
    """Start (or join) this job's processes, one per device, through Lightning (Fabric's launcher), when the
    trainer config asks for several; idempotent. Returns the world every later call of
    :func:`current_world` sees."""
    global _WORLD
    if _WORLD.distributed:
        return _WORLD
    check_devices(devices, strategy)
    count = device_count(devices)
    if count == 1:
        return _WORLD
    import warnings

    from lightning.fabric import Fabric

    from xlt.training.fit import SRUN_HINT

    warnings.filterwarnings("ignore", message=SRUN_HINT)  # Fabric checks for SLURM too (issue 14, item 5)
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy="ddp", num_nodes=1)
    if fabric.world_size == 1:  # e.g. devices=auto on a machine with one device
        return _WORLD
    _refuse_in_process_sweep()
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and fabric.global_rank == 0:  # before any process can fail: a requeued job's old record
        (run_dir / FAILURE_FILE).unlink(missing_ok=True)
    fabric.launch()  # locally: spawns the other ranks (re-running this command); then joins the process group
    import torch.distributed as dist

    group = dist.new_group(backend="gloo", timeout=COORDINATION_TIMEOUT)
    children = list(getattr(fabric.strategy.launcher, "procs", None) or [])  # Lightning's launcher, local rank 0
    _WORLD = World(rank=fabric.global_rank, size=fabric.world_size, run_dir=run_dir, group=group, children=children)
    _WORLD.barrier()
    log.info("rank %d of %d started (%s)", _WORLD.rank, _WORLD.size, fabric.strategy.root_device)
    return _WORLD


# ---------------------------------------------------------------------------- Lightning strategies
def lightning_strategy(strategy: str) -> Any:
    """The Lightning strategy for training in this world: the configured name on one process; for several,
    DDP that neither broadcasts buffers every step (every rank computes the same ones, e.g. SpIEL's indices,
    which can be large) nor needs every trainable parameter in every forward (one that a step leaves unused
    keeps no gradient, as in one process); or FSDP (full fine-tuning of large models, docs/cluster.md)."""
    world = current_world()
    if not world.distributed:
        return "auto" if str(strategy).lower() in ("ddp", "fsdp") else strategy
    if str(strategy).lower() == "fsdp":
        from lightning.pytorch.strategies import FSDPStrategy

        return FSDPStrategy(state_dict_type="full")
    import inspect

    from lightning.pytorch.strategies import DDPStrategy
    from torch.nn.parallel import DistributedDataParallel

    no_buffer_sync = ({"forward_sync_buffers": False}
                      if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                      else {"broadcast_buffers": False})
    return DDPStrategy(find_unused_parameters=True, **no_buffer_sync)
