"""Results tables in the thesis's layouts, rendered as markdown, LaTeX (booktabs) and CSV.

One :class:`Table` per experiment (and task): rows are the variants of the sweep, labelled by method
name (``task_module=rand_sft`` -> "rand-SFT") and by the other swept values in human words
(``task_module.density=0.02`` -> 2 under "task density (% of parameters)"); columns the target
languages and their average (Table 4.2's layout); cells the mean ± sample std over seeds, in percent
for metrics in [0, 1], the best per column in bold. MAD-G runs (results with ``typology``) add
chapter 3's groups: Table 3.1's definitions with the languages of each group, the averages per group
(Table 3.2's layout: mBERT-seen / MAD-G-seen / unseen) and per genus subgroup of the unseen languages
(Table 3.4's: mBERT-genus / MAD-G-genus / unseen-genus), for UAS and LAS both in dependency parsing;
with more than 12 languages the per-language table lists languages as rows with their group (Table
A.3's layout), else it shows each language's group under its column (Table 3.3's).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.report.groups import DEFINITIONS, GROUPS, SUBGROUPS, LanguageGroup, classify, generator_languages
from xlt.report.jobs import SEED, Job
from xlt.report.labels import (
    METHOD_KEYS,
    experiment_title,
    format_value,
    key_label,
    key_number,
    method_context,
    method_label,
    metric_label,
    value_rank,
)

PERCENT_METRICS = {"accuracy", "f1", "macro_f1", "las", "uas", "exact_match", "em", "precision", "recall"}
LOWER_IS_BETTER = {"loss", "loss_base", "perplexity", "ppl", "wer", "cer"}
PAIRED_METRICS = {"las": ("uas", "las"), "uas": ("uas", "las")}  # the thesis prints UAS/LAS (Tables 3.2, 3.4)
TRANSPOSE_ABOVE = 12  # MAD-G per-language tables with more languages list them as rows (Table A.3)
METHOD = "method"
# The thesis's row order (Tables 4.2, 3.2, 7.2); other labels follow, alphabetically.
METHOD_ORDER = ["LT-SFT", "rand-SFT", "MAD-X", "BitFit", "full fine-tuning", "LT-SFT TA-only", "MAD-X TA-only",
                "MAD-G", "MAD-G-LS", "MAD-G-en", "MAD-G-LS-en", "TA-only", "MAD-G-ft", "MAD-G-LS-ft", "rand-ft",
                "(IA)³", "LoRA", "SpIEL-AG", "SpIEL-MA", "qLoRA", "qSpIEL-AG", "qSpIEL-MA",
                "LtSft", "DistilmBERT", "MiniLMv2", "Scratch", "BiStil-ST", "BiStil-TF"]
# Chapter 5's efficiency columns (Tables 5.2, 5.7): header, where in results.json's ``efficiency``, scale
EFFICIENCY_COLUMNS = [("#L", ("measured", "layers"), 1.0), ("#V (K)", ("measured", "vocab"), 1e-3),
                      ("#P (M)", ("measured", "parameters"), 1e-6),
                      ("FLOPs/example (G)", ("measured", "flops_per_example"), 1e-9),
                      ("FLOPs ↓", ("relative", "flops_ratio"), 1.0), ("CPU ↑", ("relative", "cpu_speedup"), 1.0),
                      ("GPU ↑", ("relative", "gpu_speedup"), 1.0)]
EFFICIENCY_DIGITS = [0, 1, 1, 2, 2, 2, 2]  # decimals shown per column (Tables 5.2, 5.7)


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
    """One variant of the sweep: its values of the table's row keys, the jobs' method context, and per
    column the values over seeds (``runs``: each job's per-language metrics, for the group averages)."""

    params: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)
    seeds: int = 0
    cells: dict[str, Cell] = field(default_factory=dict)
    runs: list[dict[str, dict[str, float]]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # shown in the label columns (set by the table)
    efficiency: list[dict[str, Any]] = field(default_factory=list)  # per job: results.json's efficiency (ch. 5)

    def efficiency_cell(self, path: tuple[str, str], scale: float = 1.0) -> Cell | None:
        """One efficiency figure over the row's jobs (None where no job measured it)."""
        values = [float(e[path[0]][path[1]]) * scale for e in self.efficiency
                  if isinstance(e.get(path[0]), Mapping) and _is_number(e[path[0]].get(path[1]))]
        return Cell(values) if values else None

    @property
    def label(self) -> str:
        return ", ".join(label for label in self.labels if label)


# ---------------------------------------------------------------------------- rendering
@dataclass
class GridRow:
    labels: list[str]
    cells: list[Cell | None]
    extras: list[str] = field(default_factory=list)
    # rows compared with each other for the best per column (Table 6.3: a configuration and its ablations within
    # a PEFT family); None: one block of all the rows without one
    block: Any = None


@dataclass
class Grid:
    """A rendered table: label columns, value columns of cells (mean ± std), extra columns (markdown
    only: seeds), an optional note row under the header (each language's group), the best value per
    column (within each block of rows, :attr:`GridRow.block`) or per row in bold."""

    caption: str
    name: str  # LaTeX label suffix
    label_headers: list[str]
    value_headers: list[str]
    rows: list[GridRow]
    percent: bool
    lower_is_better: bool = False
    best_along: str = "column"  # column | row | none
    extra_headers: list[str] = field(default_factory=list)
    note_row: list[str] | None = None  # one entry per label and value column
    digits: list[int] | None = None  # decimals per value column (default: 1 for percentages, else 3)
    underline_overall: bool = False  # Table 6.2: bold per block (PEFT family), the overall best underlined

    def number(self, value: float, column: int | None = None) -> str:
        scale, digits = (100.0, 1) if self.percent else (1.0, 3)
        if self.digits is not None and column is not None:
            digits = self.digits[column]
        return f"{scale * value:.{digits}f}"

    def texts(self, cell: Cell, column: int | None = None) -> tuple[str, str | None]:
        return self.number(cell.mean, column), None if cell.std is None else self.number(cell.std, column)

    def best(self, within_blocks: bool = True) -> set[tuple[int, int]]:
        """(row, column) of the best shown value per column within each block of rows (or per column over all
        rows, or per row); ties all; none when all are equal or a line holds one value."""
        if self.best_along == "none":
            return set()
        lines: dict[tuple[Any, int], list[tuple[float, tuple[int, int]]]] = {}
        for i, row in enumerate(self.rows):
            for j, cell in enumerate(row.cells):
                if cell is not None:
                    line = ((row.block if within_blocks else None), j) if self.best_along == "column" else (None, i)
                    lines.setdefault(line, []).append((float(self.number(cell.mean, j)), (i, j)))
        chosen: set[tuple[int, int]] = set()
        for entries in lines.values():
            values = [value for value, _ in entries]
            if len(values) < 2 or min(values) == max(values):
                continue
            target = min(values) if self.lower_is_better else max(values)
            chosen.update(position for value, position in entries if value == target)
        return chosen

    def cell_texts(self, bold: str, underline: str, plus_minus: str, whole: bool) -> list[list[str]]:
        """Each row's value cells as text: ``-`` for a missing value, ``mean<plus_minus>std``, the best in
        ``bold`` and (``underline_overall``) the best over all blocks in ``underline`` (formats with one ``{}``)
        around the whole text (markdown) or only the mean (LaTeX)."""
        best = self.best()
        overall = self.best(within_blocks=False) if self.underline_overall else set()

        def marked(text: str, position: tuple[int, int]) -> str:
            text = bold.format(text) if position in best else text
            return underline.format(text) if position in overall else text

        rows = []
        for i, row in enumerate(self.rows):
            cells = []
            for j, cell in enumerate(row.cells):
                if cell is None:
                    cells.append("-")
                    continue
                mean, std = self.texts(cell, j)
                if not whole:
                    mean = marked(mean, (i, j))
                text = mean if std is None else f"{mean}{plus_minus}{std}"
                cells.append(marked(text, (i, j)) if whole else text)
            rows.append(cells)
        return rows

    def markdown(self, heading: str = "###") -> str:
        lines = [f"{heading} {self.caption}", ""] if self.caption else []
        head = [*self.label_headers, *self.value_headers, *self.extra_headers]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("| " + " | ".join(["---"] * len(self.label_headers) +
                                      ["---:"] * (len(head) - len(self.label_headers))) + " |")
        if self.note_row is not None:
            notes = [f"*{note}*" if note else "" for note in self.note_row]
            lines.append("| " + " | ".join([*notes, *[""] * len(self.extra_headers)]) + " |")
        for row, cells in zip(self.rows, self.cell_texts("**{}**", "<u>{}</u>", " ± ", whole=True)):
            lines.append("| " + " | ".join([*row.labels, *cells, *row.extras]) + " |")
        return "\n".join(lines) + "\n"

    def latex(self, prefix: str) -> str:
        """A booktabs ``table`` environment (``\\usepackage{booktabs}``); extra columns left out."""
        spec = "l" * len(self.label_headers) + "r" * len(self.value_headers)
        head = [latex_escape(h) for h in [*self.label_headers, *self.value_headers]]
        lines = ["\\begin{table}[ht]", "\\centering", f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
                 " & ".join(head) + " \\\\"]
        if self.note_row is not None:
            lines.append(" & ".join(f"\\textit{{{latex_escape(n)}}}" if n else "" for n in self.note_row) + " \\\\")
        lines.append("\\midrule")
        for row, cells in zip(self.rows, self.cell_texts("\\textbf{{{}}}", "\\underline{{{}}}", " $\\pm$ ",
                                                      whole=False)):
            lines.append(" & ".join([*(latex_escape(label) for label in row.labels), *cells]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(self.caption)}}}",
                  f"\\label{{tab:{latex_label(prefix + '-' + self.name)}}}", "\\end{table}"]
        return "\n".join(lines) + "\n"


LATEX_SPECIALS = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
                  "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}"}
LATEX_SYMBOLS = {"±": "$\\pm$", "§": "\\S{}", "α": "$\\alpha$", "λ": "$\\lambda$", "³": "$^3$", "×": "$\\times$",
                 "→": "$\\to$"}


def latex_escape(text: str) -> str:
    escaped = "".join(LATEX_SPECIALS.get(char, char) for char in str(text))
    for symbol, command in LATEX_SYMBOLS.items():
        escaped = escaped.replace(symbol, command)
    return escaped


def latex_label(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-:." else "-" for c in text)


# ---------------------------------------------------------------------------- tables
@dataclass
class Table:
    experiment: str
    task: str | None
    metric: str
    row_keys: list[str]
    columns: list[str]  # target languages, then "avg"
    rows: list[Row]
    name: str = ""  # file name stem (experiment, plus task when an experiment has several)
    groups: dict[str, LanguageGroup] | None = None  # MAD-G runs: chapter 3's group of each language
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name or self.experiment
        self._label_rows()

    @property
    def percent(self) -> bool:
        values = [v for row in self.rows for cell in row.cells.values() for v in cell.values]
        return self.metric in PERCENT_METRICS or all(0.0 <= v <= 1.0 for v in values)

    @property
    def label_keys(self) -> list[str]:
        """The label columns: one "method" column for every method-picking key, then the other swept keys."""
        method = [k for k in self.row_keys if k in METHOD_KEYS]
        return ([METHOD] if method else []) + [k for k in self.row_keys if k not in METHOD_KEYS]

    @property
    def label_headers(self) -> list[str]:
        if not self.row_keys:
            return [METHOD if any(method_label(row.context) for row in self.rows) else "run"]
        return [METHOD if key == METHOD else key_label(key) for key in self.label_keys]

    @property
    def title(self) -> str:
        unit = " (%)" if self.percent else ""
        task = f"{format_value('task', self.task)}, " if self.task else ""
        return f"{experiment_title(self.experiment)} (`{self.name}`): {task}{metric_label(self.metric)}{unit}"

    def _label_rows(self) -> None:
        method_keys = [k for k in self.row_keys if k in METHOD_KEYS]
        for row in self.rows:
            if not self.row_keys:
                row.labels = [method_label(row.context) or experiment_title(self.experiment)]
                continue
            labels = []
            for key in self.label_keys:
                if key == METHOD:
                    name = method_label(row.context, with_language="lang_module" in method_keys)
                    labels.append(name or ", ".join(f"{k}={row.params[k]}" for k in method_keys))
                else:
                    labels.append(format_value(key, row.params[key]))
            row.labels = labels
        # two variants that read the same (an unknown option, say) keep their raw values apart
        seen: dict[tuple[str, ...], list[Row]] = {}
        for row in self.rows:
            seen.setdefault(tuple(row.labels), []).append(row)
        for rows in seen.values():
            if len(rows) > 1 and method_keys:
                for row in rows:
                    raw = ", ".join(f"{k}={row.params[k]}" for k in method_keys)
                    row.labels[0] = f"{row.labels[0]} ({raw})"

    # ------------------------------------------------------------------ grids
    def grids(self) -> list[Grid]:
        grids = [self.language_grid()]
        if self.groups:
            grids.append(self.definitions_grid())
            metrics = [m for m in PAIRED_METRICS.get(self.metric, (self.metric,)) if self._has_metric(m)]
            for level, names, layout in (("group", GROUPS, "Table 3.2"), ("subgroup", SUBGROUPS, "Table 3.4")):
                for metric in metrics:
                    grid = self.group_grid(metric, level, names, layout)
                    if grid is not None:
                        grids.append(grid)
        if any(row.efficiency for row in self.rows):
            grids.append(self.efficiency_grid())
        return grids

    def efficiency_grid(self) -> Grid:
        """Tables 5.2 and 5.7: each variant's model (#L, #V, #P, FLOPs per example of the first target's test
        set) and its speed and FLOPs relative to LtSft on the undistilled model."""
        rows = [GridRow(row.labels, [row.efficiency_cell(path, scale) for _, path, scale in EFFICIENCY_COLUMNS],
                        [str(len(row.efficiency))]) for row in self.rows]
        target = next((e.get("target") for row in self.rows for e in row.efficiency if e.get("target")), None)
        caption = ("Efficiency (Tables 5.2, 5.7): the model with its task module" +
                   (f" on {target}'s test set" if target else "") + "; FLOPs, CPU (batch 1) and GPU speed relative "
                   "to LtSft on the undistilled model")
        return Grid(caption, "efficiency", self.label_headers, [header for header, _, _ in EFFICIENCY_COLUMNS], rows,
                    percent=False, best_along="none", extra_headers=["runs"], digits=EFFICIENCY_DIGITS)

    def _has_metric(self, metric: str) -> bool:
        return any(metric in values for row in self.rows for run in row.runs for values in run.values())

    def language_grid(self) -> Grid:
        lower = self.metric in LOWER_IS_BETTER
        languages = [c for c in self.columns if c != "avg"]
        if self.groups and len(languages) > TRANSPOSE_ABOVE:  # Table A.3: languages as rows, variants as columns
            rows = [GridRow([lang, self._group_name(lang)], [row.cells.get(lang) for row in self.rows])
                    for lang in languages]
            rows.append(GridRow(["avg", ""], [row.cells.get("avg") for row in self.rows]))
            seeds = sorted({row.seeds for row in self.rows})
            caption = f"per language, mean ± std over {'/'.join(map(str, seeds))} seed(s)" if seeds[-1] > 1 else \
                "per language"
            return Grid(caption, "languages", ["language", "group"], [row.label or "run" for row in self.rows],
                        rows, self.percent, lower, best_along="row")
        # Table 6.2: chapter 6's configurations under several PEFT families: bold per family, overall underlined
        by_family = ("recipe.configuration" in self.row_keys and self.label_keys[:1] == [METHOD]
                     and len({row.labels[0] for row in self.rows}) > 1)
        rows = [GridRow(row.labels, [row.cells.get(c) for c in self.columns], [str(row.seeds)],
                        block=row.labels[0] if by_family else None) for row in self.rows]
        note = None
        if self.groups:  # Table 3.3: each language's group under its column
            note = ["group", *[""] * (len(self.label_headers) - 1), *(self._group_name(c) for c in languages), ""]
        caption = ("Table 6.2: each configuration per language; in bold the best of each method, underlined the "
                   "best overall") if by_family else ""
        return Grid(caption, "languages",
                    self.label_headers, list(self.columns), rows, self.percent, lower, extra_headers=["seeds"],
                    note_row=note, underline_overall=by_family)

    def _group_name(self, lang: str) -> str:
        group = (self.groups or {}).get(lang)
        return "" if group is None else group.subgroup or group.group

    def definitions_grid(self) -> Grid:
        """Table 3.1: each group, its definition and its languages in this run."""
        assert self.groups is not None
        rows = []
        for level, names in (("group", GROUPS), ("subgroup", SUBGROUPS)):
            for name in names:
                members = [lang for lang, group in self.groups.items() if getattr(group, level) == name]
                if members:
                    rows.append(GridRow([name, DEFINITIONS[name], str(len(members)), " ".join(members)], []))
        open_ = [group for group in self.groups.values() if group.group == "unseen" and group.subgroup is None]
        for reason, members in (("unseen; genus unknown (not in xlt/report/genera.tsv)",
                                 [g.language for g in open_ if g.genus is None]),
                                ("unseen; genus not mBERT's, the generator's languages unknown",
                                 [g.language for g in open_ if g.genus is not None])):
            if members:
                rows.append(GridRow(["(no subgroup)", reason, str(len(members)), " ".join(members)], []))
        return Grid("Language groups (Table 3.1; unseen languages by genus, §3.5.1)", "groups",
                    ["group", "definition", "#", "languages"], [], rows, self.percent, best_along="none")

    def group_grid(self, metric: str, level: str, names: Sequence[str], layout: str) -> Grid | None:
        """Per variant, each group's average of ``metric`` over its languages (per job, then mean ± std
        over seeds): Table 3.2's layout (groups) or Table 3.4's (genus subgroups of the unseen)."""
        assert self.groups is not None
        members = {name: [lang for lang, group in self.groups.items() if getattr(group, level) == name]
                   for name in names}
        present = [name for name in names if members[name]]
        if not present:
            return None
        rows = []
        for row in self.rows:
            cells: list[Cell | None] = []
            for name in present:
                values = []
                for run in row.runs:
                    scores = [float(run[lang][metric]) for lang in members[name] if metric in run.get(lang, {})]
                    if scores:
                        values.append(statistics.fmean(scores))
                cells.append(Cell(values) if values else None)
            rows.append(GridRow(row.labels, cells, [str(row.seeds)]))
        what = "language group" if level == "group" else "genus subgroup of the unseen languages"
        unit = " (%)" if self.percent else ""
        caption = f"Average per {what}, {metric_label(metric)}{unit} ({layout} layout)"
        return Grid(caption, f"{level}-{metric}", self.label_headers, list(present), rows, self.percent,
                    metric in LOWER_IS_BETTER, extra_headers=["seeds"])

    # ------------------------------------------------------------------ output
    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        for grid in self.grids():
            parts.append(grid.markdown())
        parts += [f"Note: {note}\n" for note in self.notes]
        return "\n".join(parts)

    def latex(self) -> str:
        header = (f"% {self.title}\n% xlt-report: tables need \\usepackage{{booktabs}}; mean $\\pm$ sample std over "
                  "seeds; best per column in bold\n")
        grids = self.grids()
        for grid in grids:
            grid.caption = grid.caption or f"{experiment_title(self.experiment)}: {self._plain_title_tail()}"
        return header + "\n".join(grid.latex(self.name) for grid in grids)

    def _plain_title_tail(self) -> str:
        unit = " (%)" if self.percent else ""
        task = f"{format_value('task', self.task)}, " if self.task else ""
        return f"{task}{metric_label(self.metric)}{unit} per target language"

    def write_csv(self, path: Path) -> None:
        """Raw numbers for machines: the readable label, the raw override values, seeds, means, stds."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", *self.row_keys, "seeds", *self.columns, *(f"{c}_std" for c in self.columns)])
            for row in self.rows:
                means = [row.cells[c].mean if c in row.cells else "" for c in self.columns]
                stds = [row.cells[c].std if c in row.cells and row.cells[c].std is not None else ""
                        for c in self.columns]
                writer.writerow([row.label, *(row.params[k] for k in self.row_keys), row.seeds, *means, *stds])

    def write_group_csv(self, path: Path) -> None:
        """Long format: one line per variant, grouping level, group and metric."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", *self.row_keys, "level", "group", "metric", "languages", "seeds", "mean",
                             "std"])
            for grid in [g for g in self.grids()[2:] if g.name != "efficiency"]:
                level, metric = grid.name.split("-", 1)
                for row, grid_row in zip(self.rows, grid.rows):
                    for group, cell in zip(grid.value_headers, grid_row.cells):
                        members = sum(1 for g in (self.groups or {}).values() if getattr(g, level) == group)
                        writer.writerow([row.label, *(row.params[k] for k in self.row_keys), level, group, metric,
                                         members, row.seeds, "" if cell is None else cell.mean,
                                         "" if cell is None or cell.std is None else cell.std])


def build_tables(jobs: Sequence[Job]) -> list[Table]:
    """One table per experiment (per experiment and task when a sweep varies the task) over its finished jobs."""
    groups: dict[tuple[str, str | None], list[Job]] = {}
    for job in jobs:
        if job.status == "finished" and job.results is not None:
            key = (str(job.results.get("experiment") or "experiment"), job.results.get("task"))
            groups.setdefault(key, []).append(job)
    tasks: dict[str, int] = {}
    for experiment, _ in groups:
        tasks[experiment] = tasks.get(experiment, 0) + 1
    return [_table(experiment, f"{experiment}_{task}" if tasks[experiment] > 1 else experiment, group)
            for (experiment, task), group in groups.items()]


def _configured_value(job: Job, key: str) -> str:
    """A row key the job did not override: its value in the job's resolved config where that is a plain value
    (a BiStil run without ``recipe.lrf=`` beside a sweep over it shows 2), else "(default)"."""
    node: Any = job.config
    for part in key.lstrip("+~").split("."):
        if not isinstance(node, Mapping) or part not in node:
            return "(default)"
        node = node[part]
    if isinstance(node, bool):
        return str(node).lower()
    return str(node) if isinstance(node, (str, int, float)) else "(default)"


def _table(experiment: str, name: str, jobs: list[Job]) -> Table:
    keys = list(dict.fromkeys(k for job in jobs for k in job.params))
    varying = [k for k in keys if len({job.params.get(k, "") for job in jobs}) > 1]
    row_keys = [k for k in varying if k != SEED]
    assert all(job.results is not None for job in jobs)
    results = [job.results for job in jobs if job.results is not None]
    metric = next((str(r["metric"]) for r in results if r.get("metric")), "accuracy")
    languages = list(dict.fromkeys(lang for r in results for lang in r.get("languages", {})))
    rows: dict[tuple[str, ...], Row] = {}
    for job, result in zip(jobs, results):
        params = {k: job.params[k] if k in job.params else _configured_value(job, k) for k in row_keys}
        row = rows.get(tuple(params.values()))
        if row is None:
            context = method_context(job.params, job.config, job.choices)
            row = rows[tuple(params.values())] = Row(params, context)
        row.seeds += 1
        run = {lang: {k: float(v) for k, v in values.items() if _is_number(v)}
               for lang, values in result.get("languages", {}).items()}
        row.runs.append(run)
        for lang, values in run.items():
            if metric in values:
                row.cells.setdefault(lang, Cell([])).values.append(values[metric])
        if isinstance(result.get("efficiency"), Mapping):
            row.efficiency.append(result["efficiency"])
        average = result.get("average", {})
        if metric in average:
            row.cells.setdefault("avg", Cell([])).values.append(float(average[metric]))
    table = Table(experiment, results[0].get("task"), metric, row_keys, [*languages, "avg"], list(rows.values()),
                  name=name)
    table.rows.sort(key=lambda row: _row_order(table, row))
    table.groups, table.notes = _language_groups(jobs, results)
    return table


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _row_order(table: Table, row: Row) -> list[Any]:
    order: list[Any] = []
    for key, label in zip(table.label_keys, row.labels):
        if key == METHOD:
            order.append((METHOD_ORDER.index(label), "") if label in METHOD_ORDER else (len(METHOD_ORDER), label))
        else:
            number = key_number(key, row.params[key])
            if number is None:
                number = value_rank(key, row.params[key])  # known names in the thesis's order
            order.append((0, number, "") if number is not None else (1, 0.0, row.params[key]))
    return order


def _language_groups(jobs: Sequence[Job], results: Sequence[Mapping[str, Any]]
                     ) -> tuple[dict[str, LanguageGroup] | None, list[str]]:
    """Chapter 3's groups when the results say which languages the MAD-G generator saw."""
    typology: dict[str, Mapping[str, Any]] = {}
    for result in results:
        for lang, info in (result.get("typology") or {}).items():
            if lang in result.get("languages", {}) and isinstance(info, Mapping) and "seen_by_generator" in info:
                typology.setdefault(lang, info)
    if not typology:
        return None, []
    generator = next((langs for job, result in zip(jobs, results)
                      if (langs := generator_languages(result, job.config)) is not None), None)
    notes = []
    models = {str(((job.config.get("model") or {}).get("name_or_path")) or "") for job in jobs}
    other = sorted(model for model in models if model and "multilingual" not in model.lower()
                   and "mbert" not in model.lower())
    if other:
        notes.append(f"mBERT-seen means one of mBERT's pretraining languages (Table 3.1), but the model is "
                     f"{', '.join(other)}")
    if generator is None:
        notes.append("the MAD-G generator's training languages are unknown (no run config with "
                     "lang_module.languages): unseen languages outside an mBERT genus have no subgroup")
    return classify(typology, generator), notes
