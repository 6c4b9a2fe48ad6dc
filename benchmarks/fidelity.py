"""The thesis's findings on the synthetic world, over seeds, as one table (issue 15, item 5; ``make fidelity``).

    python benchmarks/fidelity.py [--seeds 0 1 2] [--findings NAME ...] [--root DIR] [--threads 1] [--list]

Per seed: the world of that seed is written and its encoder pretrained (``ROOT/seed<N>``, shared artifact
store ``ROOT/artifacts``: a second invocation reuses everything built), then every finding's runs go through
the real recipes with ``+world=synthetic`` (xlt.report.findings). Prints the table (finding, thesis figures,
ours as mean ± std over seeds, holds / does not hold by more than the pooled std) and the time each took.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="world and training seeds")
    parser.add_argument("--findings", nargs="+", help="which findings (default: all registered)")
    parser.add_argument("--root", default=os.environ.get("XLT_FIDELITY_ROOT", ".cache/xlt/fidelity"),
                        help="worlds, artifacts and runs (default .cache/xlt/fidelity)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on shared cores)")
    parser.add_argument("--pretraining-steps", type=int,
                        help="encoder pretraining steps (default: PretrainingConfig's; fewer: a quick look only)")
    parser.add_argument("--list", action="store_true", help="list the registered findings and exit")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (e.g. a smaller budget)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch

    from xlt.report.findings import FINDINGS, run_findings, table

    if args.list:
        for name, entry in FINDINGS.items():
            print(f"{name:24} ch. {entry.chapter}  {entry.claim}  [{entry.thesis}]")
        return 0
    from xlt.training.fit import quiet_libraries

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    quiet_libraries()
    # chapter 4 first: its findings share the language modules and the task module the others reuse
    names = args.findings or sorted(FINDINGS.names(), key=lambda name: FINDINGS[name].chapter != 4)
    started = time.perf_counter()
    root = Path(args.root).resolve()
    prepare = None
    if args.pretraining_steps:
        from xlt.pipeline.stages.pretraining import PretrainingConfig
        from xlt.pipeline.world import prepare_world

        pretraining = PretrainingConfig(steps=args.pretraining_steps)

        def prepare(world_root: Path, seed: int):
            return prepare_world(world_root, seed, artifacts=root / "artifacts", pretraining=pretraining)

    outcomes = run_findings(names, args.seeds, root, args.overrides, log=lambda line: print(line, flush=True),
                            prepare=prepare)
    print()
    print(table(outcomes, args.seeds))
    held = sum(o.verdict == "holds" for o in outcomes)
    print(f"\n{held} of {len(outcomes)} findings hold; {(time.perf_counter() - started) / 60:.1f} min in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
