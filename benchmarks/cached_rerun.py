"""A fully cached ``make demo``: its wall time and where that time goes (issue 14, item 1).

Runs the demo (``launch.py +experiment=ltsft_americasnli +profile=smoke``) once into ``--root`` to fill
the artifact store (skipped when that store is already complete: pass the root of an earlier run), then
times ``--repeats`` fully cached re-runs, ``--cfg job`` (Hydra composes and prints the config, nothing
runs) and a bare ``import torch, hydra`` as the floor, and prints the import profile of one cached
re-run (``python -X importtime``): the top-level packages and the xlt modules by cumulative import time.
Timings depend on the machine's load; the load average is printed beside them.

    python benchmarks/cached_rerun.py [--root /tmp/xlt-demo] [--repeats 3] [--top 15]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = ["+experiment=ltsft_americasnli", "+profile=smoke"]
HEAVY = ("lightning", "transformers", "datasets", "torchmetrics", "scipy")
CPU: list[float] = []  # CPU seconds (user + system) of each command run, in order: less load-dependent than wall


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "XLT_ROOT": str(root), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _launch(root: Path, run_dir: Path, *extra: str, importtime: bool = False) -> tuple[float, str]:
    """Wall seconds of one ``launch.py`` of the demo, and its stderr (CPU seconds: :data:`CPU`)."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), str(REPO / "launch.py"), *DEMO,
               f"hydra.run.dir={run_dir}", *extra]
    started, cpu = time.perf_counter(), _cpu_children()
    done = subprocess.run(command, cwd=REPO, env=_env(root), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    CPU.append(_cpu_children() - cpu)
    if done.returncode != 0:
        sys.exit(f"launch.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stderr


def _statuses(run_dir: Path) -> list[str]:
    return [stage["status"] for stage in json.loads((run_dir / "results.json").read_text())["stages"].values()]


def import_profile(log: str) -> list[tuple[str, float, int]]:
    """(module, cumulative seconds, nesting depth) of every import in ``python -X importtime`` output."""
    rows = []
    for line in log.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2 or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((name.strip(), int(cumulative) / 1e6, depth))
    return rows


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="XLT_ROOT of the demo (default: a new temp dir)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="xlt-cached-rerun-"))
    runs = root / "benchmark-runs"

    seconds, _ = _launch(root, runs / "fill")
    statuses = _statuses(runs / "fill")
    print(f"filling run: {seconds:.1f} s ({statuses.count('built')} of {len(statuses)} stages built) [{_load()}]")

    times, cpu = [], {}
    for i in range(args.repeats):
        seconds, _ = _launch(root, runs / f"cached-{i}")
        assert set(_statuses(runs / f"cached-{i}")) == {"cached"}, "the re-run built a stage"
        times.append(seconds)
    cpu["cached re-run"] = CPU[-args.repeats:]
    cfg_job = [_launch(root, runs / "cfg", "--cfg", "job")[0] for _ in range(args.repeats)]
    cpu["--cfg job"] = CPU[-args.repeats:]
    floor = []
    for _ in range(args.repeats):
        started, used = time.perf_counter(), _cpu_children()
        subprocess.run([sys.executable, "-c", "import torch, hydra"], check=True)
        floor.append(time.perf_counter() - started)
        CPU.append(_cpu_children() - used)
    cpu["import torch, hydra"] = CPU[-args.repeats:]
    _, log = _launch(root, runs / "profile", importtime=True)
    profile = import_profile(log)

    print(f"\ncached re-run of `make demo` ({len(statuses)} stages), {args.repeats} runs [{_load()}]")
    print(f"  {'':<22} {'wall median':>12} {'wall min':>9} {'CPU median':>11} {'/ floor':>8}")
    for name, walls, target in (("cached re-run", times, "target <= 3 s wall"), ("--cfg job", cfg_job, "target < 1 s"),
                                ("import torch, hydra", floor, "the floor")):
        wall = statistics.median(walls)
        print(f"  {name:<22} {wall:10.2f} s {min(walls):7.2f} s {statistics.median(cpu[name]):9.2f} s "
              f"{wall / statistics.median(floor):7.2f}x  ({target})")
    heavy = sorted({name.split(".")[0] for name, _, _ in profile if name.split(".")[0] in HEAVY})
    print(f"\nheavy packages imported by the cached re-run: {', '.join(heavy) or 'none'}")
    total = sum(seconds for _, seconds, depth in profile if depth == 0)
    print(f"import profile of one cached re-run (python -X importtime; {total:.2f} s of imports in all)")
    print("  packages by cumulative import time (where first imported):")
    packages = [row for row in profile if "." not in row[0] and row[0] != "xlt"]
    for name, seconds, _ in sorted(packages, key=lambda row: -row[1])[:args.top]:
        print(f"    {seconds:7.3f} s  {name}")
    print("  xlt modules by cumulative import time:")
    xlt_rows = [row for row in profile if row[0].startswith("xlt")]
    for name, seconds, _ in sorted(xlt_rows, key=lambda row: -row[1])[:args.top]:
        print(f"    {seconds:7.3f} s  {name}")


if __name__ == "__main__":
    main()
