"""A separate process that asks the artifact store for one stage (tests/test_store.py).

    python -m tests.store_worker STORE LOG MODE   # MODE: slow (build takes a while) | hang (never finishes)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from xlt.pipeline.runner import Runner, Stage


def build(mode: str, log: Path, ctx) -> dict:
    with open(log, "a") as handle:
        handle.write(f"build {os.getpid()}\n")
    earlier = sorted(p.name for p in ctx.work_dir.iterdir())  # what a killed attempt left to resume from
    (ctx.work_dir / f"attempt-{os.getpid()}").write_text("checkpoint")
    (ctx.out_dir / "part.bin").write_bytes(b"x" * 100_000)
    if mode == "hang":
        (log.parent / "ready").write_text("half-written")
        time.sleep(600)
    time.sleep(1.5)
    (ctx.out_dir / "value.txt").write_text("complete")
    return {"earlier_attempts": len(earlier)}


if __name__ == "__main__":
    store_root, log, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    from functools import partial

    from xlt.pipeline.store import ArtifactStore

    stage = Stage("shared", "shared", {"x": 1}, partial(build, mode, log))
    from rich.console import Console

    announce = Console(stderr=True, soft_wrap=True).print  # the stage lines, as launch.py prints them
    results = Runner(ArtifactStore(store_root), store_root.parent / f"run-{os.getpid()}", announce=announce).run(
        [stage])
    print(json.dumps({"status": results["shared"].status, "metrics": results["shared"].metrics}))
