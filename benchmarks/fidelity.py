"""The thesis's findings on the synthetic world, over seeds, as one table (issue 15, item 5; ``make fidelity``).

    python benchmarks/fidelity.py [--seeds 0 1 2] [--findings NAME ...] [--budget hour|design] [--root DIR]
                                  [--threads 1] [--jobs 3] [--list]

Per seed: the world of that seed is written and its encoder pretrained (``ROOT/seed<N>``, shared artifact
store ``ROOT/artifacts``: a second invocation reuses everything built), then every finding's runs go through
the real recipes with ``+world=synthetic`` (xlt.report.findings). Prints the table (finding, thesis figures,
ours as mean ± std over seeds, holds / does not hold by more than the pooled std) and the time each took.
``--jobs N`` runs up to N seeds at once, each in its own process (a seed's typology is set in its process's
environment); the table is the same as one process's, in seed order. ``--budget`` picks the runs' step caps
(xlt.report.findings.BUDGETS): ``hour`` (the default: a quarter of the design's, three seeds in an hour on 2
cores with ``--jobs 3``) or ``design`` (the world profile's own).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; Hydra overrides (``key=value``) may follow ``--findings`` names directly."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="world and training seeds")
    parser.add_argument("--findings", nargs="+", help="which findings (default: all registered)")
    parser.add_argument("--root", default=os.environ.get("XLT_FIDELITY_ROOT", ".cache/xlt/fidelity"),
                        help="worlds, artifacts and runs (default .cache/xlt/fidelity)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on shared cores)")
    parser.add_argument("--jobs", type=int, default=3,
                        help="seeds run at once, one process each (each uses --threads torch threads)")
    parser.add_argument("--budget", choices=["hour", "design"], default="hour",
                        help="the runs' step caps: a quarter of the design's (default), or the design's")
    parser.add_argument("--pretraining-steps", type=int,
                        help="encoder pretraining steps (default: PretrainingConfig's; fewer: a quick look only)")
    parser.add_argument("--list", action="store_true", help="list the registered findings and exit")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run (e.g. a smaller budget)")
    args = parser.parse_args(argv)
    if args.findings:  # `--findings a b key=value`: argparse gives the overrides to --findings
        args.overrides = [*(name for name in args.findings if "=" in name), *args.overrides]
        args.findings = [name for name in args.findings if "=" not in name] or None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # inherited by the processes of --jobs
    from xlt.pipeline.run import git_state
    from xlt.report.findings import FINDINGS, default_findings, table

    if args.list:
        for name, entry in FINDINGS.items():
            print(f"{name:24} ch. {entry.chapter}  {entry.claim}  [{entry.thesis}]")
        return 0
    if args.jobs < 1:
        sys.exit(f"--jobs {args.jobs}: expected at least 1")
    names = args.findings or default_findings()  # chapter 4 first: the others reuse its modules
    for name in names:  # an unknown name fails here in one line, before any world or worker starts
        FINDINGS[name]
    started = time.perf_counter()
    root = Path(args.root).resolve()
    job = partial(_run_seeds, names, root=root, overrides=args.overrides, threads=args.threads,
                  pretraining_steps=args.pretraining_steps, budget=args.budget)
    if args.jobs == 1 or len(args.seeds) == 1:
        outcomes = _merge(names, [job(args.seeds)])
    else:
        with ProcessPoolExecutor(min(args.jobs, len(args.seeds)), mp_context=get_context("spawn")) as pool:
            outcomes = _merge(names, list(pool.map(job, [[seed] for seed in args.seeds])))
    print()
    print(table(outcomes, args.seeds))
    held = sum(o.verdict == "holds" for o in outcomes)
    informative = sum(not o.verdict.startswith("uninformative") for o in outcomes)
    sha, dirty = git_state()
    print(f"\n{held} of {informative} informative findings hold; budget {args.budget}, seeds "
          f"{' '.join(map(str, args.seeds))}, commit {(sha or 'unknown')[:7]}{' (dirty)' if dirty else ''}; "
          f"{(time.perf_counter() - started) / 60:.1f} min in all")
    return 0


def _run_seeds(names: list[str], seeds: list[int], root: Path, overrides: list[str], threads: int,
               pretraining_steps: int | None, budget: str = "hour") -> list:
    """Every finding over ``seeds`` in this process (in a worker of ``--jobs``: its one seed)."""
    import torch

    from xlt.report.findings import BUDGETS, run_findings
    from xlt.training.fit import quiet_libraries

    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.WARNING)
    quiet_libraries()
    pretraining = None
    if pretraining_steps:
        from xlt.pipeline.stages.pretraining import PretrainingConfig

        pretraining = PretrainingConfig(steps=pretraining_steps)
    outcomes = run_findings(names, seeds, root, overrides, log=lambda line: print(line, flush=True),
                            budget=BUDGETS[budget], pretraining=pretraining)
    # plain values: a finding (its measure) need not pickle across processes
    return [(o.finding.name, o.a, o.b, o.seconds, o.error) for o in outcomes]


def _merge(names: list[str], per_seed: list[list]) -> list:
    """One outcome per finding from the workers' values (in seed order): values appended, times summed; an
    error in any seed makes the finding not measured (as in one process, where it skips the later seeds)."""
    from xlt.report.findings import FINDINGS, Outcome

    outcomes = {name: Outcome(FINDINGS[name]) for name in names}
    for values in per_seed:
        for name, a, b, seconds, error in values:
            outcome = outcomes[name]
            outcome.a.extend(a)
            outcome.b.extend(b)
            outcome.seconds += seconds
            outcome.error = outcome.error or error
    return list(outcomes.values())


if __name__ == "__main__":
    sys.exit(main())
