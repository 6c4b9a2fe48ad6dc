"""A two-process job (Lightning's launcher re-runs this script for rank 1) whose training stage fails on
one rank: ``python tests/ddp_worker.py RUN_DIR FAILING_RANK``. Used by tests/test_ddp.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from xlt.pipeline.runner import Runner, Stage, StageContext
from xlt.pipeline.store import ArtifactStore
from xlt.training.distributed import current_world, start_world


def train_together(context: StageContext) -> dict[str, float]:
    """Every rank steps through the same collectives; ``FAILING_RANK`` raises at its third step."""
    world = current_world()
    for step in range(50):
        if world.rank == int(sys.argv[2]) and step == 3:
            (context.run_dir / "failed-at").write_text(f"{time.time()}\n")
            raise ValueError(f"rank {world.rank} broke at step {step}")
        world.barrier()
        time.sleep(0.2)
    return {"steps": 50.0}


def main() -> None:
    run_dir = Path(sys.argv[1])
    run_dir.mkdir(parents=True, exist_ok=True)
    world = start_world(2, "cpu", "ddp", run_dir)
    stage = Stage("language_module", "lang/xx", {"worker": 1}, train_together)
    outcome = world.run(lambda: Runner(ArtifactStore(run_dir / "artifacts"), run_dir).run([stage]))
    if outcome is not None and world.is_zero:
        (run_dir / "finished").write_text("yes\n")


if __name__ == "__main__":
    main()
