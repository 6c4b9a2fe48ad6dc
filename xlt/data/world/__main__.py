"""``python -m xlt.data.world OUT_DIR [--seed N] [--sizes default|small|tiny] [--overwrite]``:
write a world and print its languages, roles and sizes."""

from __future__ import annotations

import argparse
import sys
import time

from xlt.data.world.tasks import TASKS
from xlt.data.world.world import SIZE_PRESETS, World, write_world
from xlt.errors import XltError


def summary(world: World, seconds: float | None = None) -> str:
    """A table of the world's languages: family, parameters, roles, corpus and task sizes."""
    header = (f"{'code':5} {'name':8} {'family':8} {'order':5} {'adp':4} {'adj':6} {'poss':6} {'det':6} {'pl':6} "
              f"{'case':4} "
              f"{'mmt':6} {'nmt':11} {'task':6} {'corpus':>6} {'parallel':>8} {'task splits':>20}")
    lines = [header, "-" * len(header)]
    sizes = world.sizes
    for code, lang in world.languages.items():
        d, s = lang.design, lang.syntax
        splits = "/".join(str(world.split_size(split)) for split in world.splits(code))
        parallel = "pivot" if code == world.pivot else str(sizes.parallel(d.nmt))
        case = "acc" if s.case != "none" else "-"
        split_sizes = f"{splits} ({','.join(world.splits(code))})"
        lines.append(f"{code:5} {d.name:8} {d.family:8} {s.order:5} {s.adposition:4} {s.adjective:6} "
                     f"{s.possessor:6} {s.determiner:6} {s.plural:6} {case:4} {d.mmt:6} {d.nmt:11} {d.task:6} "
                     f"{sizes.corpus(d.mmt):>6} {parallel:>8} {split_sizes:>20}")
    lines.append(f"tasks: {', '.join(TASKS)} (QA sizes count questions); parallel dev/test: "
                 f"{sizes.parallel_dev}/{sizes.parallel_test} pairs; pivot {world.pivot}; sources "
                 f"{', '.join(world.sources)}")
    if seconds is not None:
        lines.append(f"written in {seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xlt.data.world", description=__doc__)
    parser.add_argument("out_dir", help="directory to write the world into (created; replaced with --overwrite)")
    parser.add_argument("--seed", type=int, default=0, help="the world's seed (default 0)")
    parser.add_argument("--sizes", choices=sorted(SIZE_PRESETS), default="default", help="size preset")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing world directory")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        world = write_world(args.out_dir, args.seed, SIZE_PRESETS[args.sizes], overwrite=args.overwrite)
    except XltError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"world of seed {args.seed} ({args.sizes} sizes) in {args.out_dir}")
    print(summary(world, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
