"""Write a report directory: ``report.md``, per table ``<name>.csv`` and ``<name>.tex`` (plus
``<name>_groups.csv`` for MAD-G runs), and the figures as PNG and PDF."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlt.report.jobs import Job, find_jobs
from xlt.report.tables import Table, build_tables


@dataclass
class Report:
    directory: Path
    out_dir: Path
    tables: list[Table]
    skipped: list[Job]
    files: list[Path]
    sections: list[str] = field(default_factory=list)  # markdown of reports across tables (Table 6.3)

    def markdown(self) -> str:
        parts = [f"# Results: {self.directory}", ""]
        if not self.tables:
            parts.append("No finished jobs.\n")
        for table in self.tables:
            parts.append(table.markdown())
        parts += self.sections
        if self.skipped:
            parts.append(f"Skipped {len(self.skipped)} job(s) without results:\n")
            for job in self.skipped:
                reason = f"failed: {job.error}" if job.status == "failed" else "unfinished (no results.json)"
                parts.append(f"- {job.describe()}: {reason}")
            parts.append("")
        figures = [f for f in self.files if f.suffix == ".png"]
        if figures:
            parts.append("Figures (each also as PDF): " +
                         ", ".join(f"![{f.stem}]({f.name})" for f in figures) + "\n")
        tex = [f for f in self.files if f.suffix == ".tex"]
        if tex:
            parts.append("LaTeX tables (booktabs): " + ", ".join(f.name for f in tex) + "\n")
        return "\n".join(parts)


def write_report(directory: str | Path, out_dir: str | Path | None = None, figures: bool = True) -> Report:
    """Read every job under ``directory`` and write the tables (markdown, CSV, LaTeX) and figures."""
    from xlt.report.figures import plot_efficiency, plot_table, safe_name
    from xlt.report.holistic import write_holistic_report

    directory = Path(directory)
    out = Path(out_dir) if out_dir is not None else directory / "report"
    out.mkdir(parents=True, exist_ok=True)
    jobs = find_jobs(directory)
    tables = build_tables(jobs)
    report = Report(directory, out, tables, [job for job in jobs if job.status != "finished"], [])
    for table in tables:
        safe = safe_name(table.name)
        table.write_csv(out / f"{safe}.csv")
        (out / f"{safe}.tex").write_text(table.latex())
        report.files += [out / f"{safe}.csv", out / f"{safe}.tex"]
        if table.groups:
            table.write_group_csv(out / f"{safe}_groups.csv")
            report.files.append(out / f"{safe}_groups.csv")
        if figures:
            report.files.extend(plot_table(table, out))
            report.files.extend(plot_efficiency(table, out))
    holistic, files = write_holistic_report(jobs, out, figures)  # Table 6.3, Figure 6.2 (chapter 6)
    if holistic:
        report.sections.append(holistic)
        report.files += files
    (out / "report.md").write_text(report.markdown())
    report.files.insert(0, out / "report.md")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlt-report", description="Results tables and figures of a run or a sweep.")
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
