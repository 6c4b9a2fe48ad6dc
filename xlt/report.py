"""Results tables and figures of a run or a sweep: ``python -m xlt.report DIR`` (or ``xlt-report DIR``).

``DIR`` is a run dir, a multirun dir, or any tree of them: every job dir (one with a
``.hydra/`` or a ``results.json``) is read. Per experiment, one table in the thesis's layout
(e.g. Table 4.2): rows are the variants of the sweep (the values of the overrides that differ
between its jobs, seeds excepted), columns the target languages and their average; cells the
mean (and sample standard deviation) over seeds of the task's primary metric, in percent for
metrics in [0, 1]. Written as ``report/report.md`` and ``report/<experiment>.csv`` (raw values)
next to the jobs, with figures for sweeps over numbers: a line plot of the average when one
numeric parameter is swept (one line per variant of the others: Fig. 4.2, task density), a
contour plot when two are (Fig. 4.3, language x task density). Jobs without results are
skipped and listed, with the error of those that failed.

:class:`ReportCallback` (``hydra.callbacks.report`` in conf/config.yaml) writes the report at the
end of every multirun and records the error of each failed job.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback

ERROR_FILE = "error.json"
# overrides that do not change results (where things go, how they are launched)
IGNORED_PREFIXES = ("hydra", "paths", "cluster", "logger", "trainer.progress_bar", "trainer.num_workers")
SEED = "seed"
PERCENT_METRICS = {"accuracy", "f1", "macro_f1", "las", "uas", "exact_match", "em", "precision", "recall"}


# ---------------------------------------------------------------------------- jobs
@dataclass
class Job:
    path: Path
    status: str  # finished | failed | unfinished
    params: dict[str, str]  # override key -> value (without ignored keys)
    results: dict[str, Any] | None = None
    error: str | None = None

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.path}" + (f" ({params})" if params else "")


def find_jobs(directory: str | Path) -> list[Job]:
    """Every job dir under ``directory`` (itself included), in a stable order (numeric names by value)."""
    root = Path(directory)
    found: list[Path] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        if ".hydra" in dirs or "results.json" in files:
            found.append(here)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("artifacts", "logs", "report"))
    return [_read_job(path) for path in sorted(found, key=_natural_key)]


def _natural_key(path: Path) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def _read_job(path: Path) -> Job:
    params = parse_overrides(_read_overrides(path))
    results_file, error_file = path / "results.json", path / ERROR_FILE
    if results_file.exists():
        try:
            return Job(path, "finished", params, results=json.loads(results_file.read_text()))
        except json.JSONDecodeError as error:
            return Job(path, "failed", params, error=f"{results_file}: malformed ({error.msg})")
    if error_file.exists():
        try:
            error = json.loads(error_file.read_text()).get("error")
        except json.JSONDecodeError:
            error = error_file.read_text().strip()
        return Job(path, "failed", params, error=str(error))
    return Job(path, "unfinished", params)


def _read_overrides(path: Path) -> list[str]:
    file = path / ".hydra" / "overrides.yaml"
    if file.exists():
        return [str(item) for item in (yaml.safe_load(file.read_text()) or [])]
    run = path / "run.json"
    if run.exists():
        try:
            return [str(item) for item in json.loads(run.read_text()).get("overrides", [])]
        except json.JSONDecodeError:
            return []
    return []


def parse_overrides(overrides: Sequence[str]) -> dict[str, str]:
    """``["+experiment=x", "task_module.density=0.02"]`` -> ``{"experiment": "x", "task_module.density": "0.02"}``
    (result-neutral keys such as ``paths.*`` or ``hydra.*`` left out)."""
    params: dict[str, str] = {}
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if not sep or key.startswith(IGNORED_PREFIXES):
            continue
        params[key] = value
    return params


def write_job_error(directory: str | Path, error: BaseException | str) -> None:
    """Record why a job failed (``error.json``), for the report."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    (path / ERROR_FILE).write_text(json.dumps({"error": text}) + "\n")


# ---------------------------------------------------------------------------- tables
@dataclass
class Cell:
    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None


@dataclass
class Row:
    params: dict[str, str]  # the row's values of the table's row keys
    seeds: int = 0
    cells: dict[str, Cell] = field(default_factory=dict)  # column -> values over seeds


@dataclass
class Table:
    experiment: str
    task: str | None
    metric: str
    row_keys: list[str]
    columns: list[str]  # target languages, then "avg"
    rows: list[Row]

    @property
    def percent(self) -> bool:
        values = [v for row in self.rows for cell in row.cells.values() for v in cell.values]
        return self.metric in PERCENT_METRICS or all(0.0 <= v <= 1.0 for v in values)

    def format(self, cell: Cell | None) -> str:
        if cell is None:
            return "-"
        scale, digits = (100.0, 1) if self.percent else (1.0, 3)
        text = f"{scale * cell.mean:.{digits}f}"
        return text if cell.std is None else f"{text} ± {scale * cell.std:.{digits}f}"

    def markdown(self) -> str:
        unit = " (%)" if self.percent else ""
        lines = [f"## {self.experiment}" + (f" ({self.task}, {self.metric}{unit})" if self.task else ""), ""]
        head = [*(self.row_keys or ["run"]), *self.columns, "seeds"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| " + " | ".join(["---"] * len(self.row_keys or ["run"]) + ["---:"] * (len(head) - len(
            self.row_keys or ["run"]))) + " |")
        for row in self.rows:
            labels = [row.params[k] for k in self.row_keys] if self.row_keys else [self.experiment]
            cells = [self.format(row.cells.get(column)) for column in self.columns]
            lines.append("| " + " | ".join([*labels, *cells, str(row.seeds)]) + " |")
        return "\n".join(lines) + "\n"

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*self.row_keys, "seeds", *self.columns, *(f"{c}_std" for c in self.columns)])
            for row in self.rows:
                means = [row.cells[c].mean if c in row.cells else "" for c in self.columns]
                stds = [row.cells[c].std if c in row.cells and row.cells[c].std is not None else ""
                        for c in self.columns]
                writer.writerow([*(row.params[k] for k in self.row_keys), row.seeds, *means, *stds])


def build_tables(jobs: Sequence[Job]) -> list[Table]:
    """One table per experiment over its finished jobs."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.status == "finished" and job.results is not None:
            groups.setdefault(str(job.results.get("experiment") or "experiment"), []).append(job)
    return [_table(name, group) for name, group in groups.items()]


def _table(name: str, jobs: list[Job]) -> Table:
    keys = list(dict.fromkeys(k for job in jobs for k in job.params))
    varying = [k for k in keys if len({job.params.get(k, "") for job in jobs}) > 1]
    row_keys = [k for k in varying if k != SEED]
    metric = next((str(job.results["metric"]) for job in jobs if job.results.get("metric")), "accuracy")
    languages = list(dict.fromkeys(lang for job in jobs for lang in job.results.get("languages", {})))
    rows: dict[tuple[str, ...], Row] = {}
    for job in jobs:
        params = {k: job.params.get(k, "(default)") for k in row_keys}
        row = rows.setdefault(tuple(params.values()), Row(params))
        row.seeds += 1
        for lang, values in job.results.get("languages", {}).items():
            if metric in values:
                row.cells.setdefault(lang, Cell([])).values.append(float(values[metric]))
        average = job.results.get("average", {})
        if metric in average:
            row.cells.setdefault("avg", Cell([])).values.append(float(average[metric]))
    ordered = sorted(rows.values(), key=lambda row: [_sort_key(row.params[k]) for k in row_keys])
    task = next((job.results.get("task") for job in jobs if job.results.get("task")), None)
    return Table(name, task, metric, row_keys, [*languages, "avg"], ordered)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _sort_key(text: str) -> tuple[int, float, str]:
    number = _number(text)
    return (0, number, "") if number is not None else (1, 0.0, text)


# ---------------------------------------------------------------------------- figures
def numeric_keys(table: Table) -> list[str]:
    """Row keys swept over (at least two) numbers."""
    keys = []
    for key in table.row_keys:
        values = {row.params[key] for row in table.rows}
        if len(values) > 1 and all(_number(v) is not None for v in values):
            keys.append(key)
    return keys


def plot_table(table: Table, out_dir: Path) -> list[Path]:
    """A line plot (one numeric key swept) or contour plots (two) of the average over languages."""
    numeric = numeric_keys(table)
    if len(numeric) not in (1, 2):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [k for k in table.row_keys if k not in numeric]
    series: dict[str, list[Row]] = {}
    for row in table.rows:
        if "avg" in row.cells:
            series.setdefault(", ".join(f"{k}={row.params[k]}" for k in others) or table.experiment, []).append(row)
    scale = 100.0 if table.percent else 1.0
    label = f"average {table.metric}" + (" (%)" if table.percent else "")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in table.experiment)
    if len(numeric) == 1:
        key = numeric[0]
        figure, axes = plt.subplots(figsize=(6, 4))
        for name, rows in series.items():
            rows = sorted(rows, key=lambda r: _number(r.params[key]))
            xs = [_number(r.params[key]) for r in rows]
            ys = [scale * r.cells["avg"].mean for r in rows]
            errors = [scale * (r.cells["avg"].std or 0.0) for r in rows]
            axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=name)
        xs_all = [_number(r.params[key]) for r in table.rows]
        if min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10:
            axes.set_xscale("log")
        axes.set_xlabel(key)
        axes.set_ylabel(label)
        axes.set_title(table.experiment)
        axes.grid(alpha=0.3)
        if len(series) > 1:
            axes.legend(fontsize="small")
        path = out_dir / f"{safe}_{key}.png"
    else:
        kx, ky = numeric
        figure, grid = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4.5), squeeze=False)
        for axes, (name, rows) in zip(grid[0], series.items()):
            _contour(axes, rows, kx, ky, scale, label)
            axes.set_title(name)
        path = out_dir / f"{safe}_{kx}_x_{ky}.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]


def _contour(axes: Any, rows: list[Row], kx: str, ky: str, scale: float, label: str) -> None:
    import numpy as np

    xs = sorted({_number(r.params[kx]) for r in rows})
    ys = sorted({_number(r.params[ky]) for r in rows})
    z = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        z[ys.index(_number(r.params[ky])), xs.index(_number(r.params[kx]))] = scale * r.cells["avg"].mean
    if len(xs) > 1 and len(ys) > 1 and not np.isnan(z).any() and np.ptp(z) > 1e-9:
        filled = axes.contourf(xs, ys, z, levels=12, cmap="viridis")
        axes.figure.colorbar(filled, ax=axes, label=label)
    axes.use_sticky_edges = False  # room around the grid for the value labels
    axes.margins(0.08)
    for yi, y in enumerate(ys):
        for xi, x in enumerate(xs):
            if not np.isnan(z[yi, xi]):
                axes.plot(x, y, "k.")
                axes.annotate(f"{z[yi, xi]:.1f}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=8)
    for values, set_scale in ((xs, axes.set_xscale), (ys, axes.set_yscale)):
        if min(values) > 0 and max(values) / min(values) >= 10:
            set_scale("log")
    axes.set_xlabel(kx)
    axes.set_ylabel(ky)


# ---------------------------------------------------------------------------- the report
@dataclass
class Report:
    directory: Path
    out_dir: Path
    tables: list[Table]
    skipped: list[Job]
    files: list[Path]

    def markdown(self) -> str:
        parts = [f"# Results: {self.directory}", ""]
        if not self.tables:
            parts.append("No finished jobs.\n")
        for table in self.tables:
            parts.append(table.markdown())
        if self.skipped:
            parts.append(f"Skipped {len(self.skipped)} job(s) without results:\n")
            for job in self.skipped:
                reason = f"failed: {job.error}" if job.status == "failed" else "unfinished (no results.json)"
                parts.append(f"- {job.describe()}: {reason}")
            parts.append("")
        figures = [f for f in self.files if f.suffix == ".png"]
        if figures:
            parts.append("Figures: " + ", ".join(f"![{f.stem}]({f.name})" for f in figures) + "\n")
        return "\n".join(parts)


def write_report(directory: str | Path, out_dir: str | Path | None = None, figures: bool = True) -> Report:
    """Read every job under ``directory`` and write the tables (markdown, CSV) and figures."""
    directory = Path(directory)
    out = Path(out_dir) if out_dir is not None else directory / "report"
    out.mkdir(parents=True, exist_ok=True)
    jobs = find_jobs(directory)
    tables = build_tables(jobs)
    report = Report(directory, out, tables, [job for job in jobs if job.status != "finished"], [])
    for table in tables:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in table.experiment)
        table.write_csv(out / f"{safe}.csv")
        report.files.append(out / f"{safe}.csv")
        if figures:
            report.files.extend(plot_table(table, out))
    (out / "report.md").write_text(report.markdown())
    report.files.insert(0, out / "report.md")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-report", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="a run dir, a multirun dir, or a tree of them")
    parser.add_argument("--out", help="where to write (default: DIRECTORY/report)")
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    if not Path(args.directory).is_dir():
        print(f"error: {args.directory}: not a directory", file=sys.stderr)
        return 2
    report = write_report(args.directory, args.out, figures=not args.no_figures)
    print(report.markdown())
    print("written: " + ", ".join(str(path) for path in report.files), file=sys.stderr)
    return 0 if report.tables else 1


# ---------------------------------------------------------------------------- Hydra
class ReportCallback(Callback):
    """Writes the sweep's report when a multirun ends; records each failed job's error."""

    def __init__(self, figures: bool = True):
        self.figures = figures

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.utils import JobStatus

        if job_return.status == JobStatus.FAILED:
            output_dir = Path(config.hydra.runtime.output_dir)
            if not (output_dir / ERROR_FILE).exists():
                write_job_error(output_dir, job_return._return_value)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        if (config.get("cluster") or {}).get("dry_run"):
            return
        report = write_report(config.hydra.sweep.dir, figures=self.figures)
        print(report.markdown(), file=sys.stderr)
        print(f"report: {report.out_dir / 'report.md'}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
