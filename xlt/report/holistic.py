"""Chapter 6's ablation reports (thesis §6.5): Table 6.3 and Figure 6.2, from holistic runs
(``recipe=holistic``; the sweeps ``sweeps/holistic_table_6_3_*.yaml``).

- **Table 6.3**: the ablations as rows (ZS, ZS – LA, FS, FS – LA, FS – UPSAMPLE, TTRAIN-ALL,
  TTRAIN-ALL – LA, in the thesis's order, grouped by PEFT family: MAD-X, then LT-SFT), one column per task
  (AmericasNLI, NusaX: every holistic experiment under the report directory), cells the average over the
  target languages (mean ± std over seeds); as in the thesis, the best of each configuration and its ablations
  (ZS, ZS – LA; FS, FS – LA, FS – UPSAMPLE; TTRAIN-ALL, TTRAIN-ALL – LA) per family and task in bold (rows of
  another variant, e.g. K = 20, are compared only with each other).
- **Figure 6.2**: per experiment and PEFT family, the gain from language adaptation of each target
  (ZS − (ZS – LA), FS − (FS – LA), TTRAIN-ALL − (TTRAIN-ALL – LA): one series each, one point per language)
  against the size of its monolingual corpus in words (log scale), as the language-module stage recorded it
  (results.json's ``corpus_words``, written by the runs with language modules).
"""

from __future__ import annotations

import csv
import statistics
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.report.jobs import SEED, Job
from xlt.report.labels import EXPERIMENT_WORDS, MODULE_NAMES, VALUE_NAMES, format_value, key_label, metric_label
from xlt.report.tables import PERCENT_METRICS, Cell, Grid, GridRow

CONFIGURATION_KEY = "recipe.configuration"
# Table 6.3's rows, in the thesis's order ("FS" is FS-SINGLE, K = 100)
ABLATIONS = ("zs", "zs_la", "fs_single", "fs_la", "fs_upsample", "ttrain_all", "ttrain_all_la")
ABLATION_LABELS = {**VALUE_NAMES[CONFIGURATION_KEY], "fs_single": "FS"}
# Table 6.3's blocks of rows, each configuration with its ablations: the thesis bolds the best of each block per
# column (its columns are family x task; here each family's rows are a block of their own, per task column)
ABLATION_BLOCKS = {"zs": "zs", "zs_la": "zs", "fs_single": "fs_single", "fs_la": "fs_single",
                   "fs_upsample": "fs_single", "ttrain_all": "ttrain_all", "ttrain_all_la": "ttrain_all"}
FAMILY_ORDER = ("adapter", "ltsft")  # Table 6.3: ADAPTER, then SFT
# Figure 6.2's series: (with language modules, without, label)
GAIN_PAIRS = (("zs", "zs_la", "ZS"), ("fs_single", "fs_la", "FS"), ("ttrain_all", "ttrain_all_la", "TTRAIN-ALL"))
# overrides that place a run in Table 6.3 (any other override that varies between an experiment's runs, such as
# recipe.shots.k or nmt when sweeps are reported together, puts the runs that set it in rows of their own, named)
PLACING_KEYS = {SEED, CONFIGURATION_KEY, "task_module", "lang_module", "+experiment", "experiment"}


@dataclass
class HolisticRun:
    experiment: str
    family: str  # the task module's method: adapter | ltsft | ...
    configuration: str
    metric: str
    results: Mapping[str, Any]
    params: Mapping[str, str] = field(default_factory=dict)
    variant: str = ""  # the other overrides that vary between the experiment's runs, in words


@dataclass
class HolisticReport:
    """Table 6.3 (rows: family x ablation; columns: tasks) and the data of Figure 6.2."""

    tasks: list[str]  # experiments, one column each
    metrics: dict[str, str]  # experiment -> its metric
    cells: dict[tuple[str, str, str, str], Cell]  # (family, configuration, variant, experiment) -> over seeds
    runs: list[HolisticRun]
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[str, str]]:
        present = {key[:3] for key in self.cells}
        return sorted(present, key=lambda row: (_family_rank(row[0]), ABLATIONS.index(row[1]), row[2]))

    def _label(self, configuration: str, variant: str) -> str:
        return ABLATION_LABELS[configuration] + (f" ({variant})" if variant else "")

    def grid(self) -> Grid:
        rows = [GridRow([MODULE_NAMES.get(family, family), self._label(configuration, variant)],
                        [self.cells.get((family, configuration, variant, task)) for task in self.tasks],
                        [str(max((len(self.cells[(family, configuration, variant, t)].values) for t in self.tasks
                                  if (family, configuration, variant, t) in self.cells), default=0))],
                        block=(family, ABLATION_BLOCKS[configuration], variant))
                for family, configuration, variant in self.rows]
        headers = [f"{task_title(task)} ({metric_label(self.metrics[task])}, %)" for task in self.tasks]
        percent = all(self.metrics[task] in PERCENT_METRICS for task in self.tasks)
        return Grid("Table 6.3: ablations, average over the target languages; in bold the best of each "
                    "configuration and its ablations", "table-6-3", ["method", "configuration"],
                    headers, rows, percent, best_along="column", extra_headers=["seeds"],
                    digits=[2] * len(self.tasks))

    def markdown(self) -> str:
        parts = ["## Holistic transfer ablations (Table 6.3)", "", self.grid().markdown()]
        parts += [f"Note: {note}\n" for note in self.notes]
        return "\n".join(parts)

    def latex(self) -> str:
        return ("% Table 6.3 (xlt-report): tables need \\usepackage{booktabs}; mean $\\pm$ sample std over seeds\n"
                + self.grid().latex("holistic"))

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["method", CONFIGURATION_KEY, "label", *(f"{t}{s}" for t in self.tasks
                                                                     for s in ("", "_std", "_seeds"))])
            for family, configuration, variant in self.rows:
                values: list[Any] = []
                for task in self.tasks:
                    cell = self.cells.get((family, configuration, variant, task))
                    values += ["", "", 0] if cell is None else [cell.mean, "" if cell.std is None else cell.std,
                                                                len(cell.values)]
                writer.writerow([MODULE_NAMES.get(family, family), configuration, self._label(configuration, variant),
                                 *values])

    # ------------------------------------------------------------------ Figure 6.2
    def figure_variant(self, experiment: str) -> str:
        """The runs Figure 6.2 uses when the experiment's runs differ in other overrides: the variant with the
        most runs of Table 6.3's configurations (the Table 6.3 sweep beside, say, Figure 6.1's)."""
        counts: dict[str, int] = {}
        for run in self.runs:
            if run.experiment == experiment:
                counts[run.variant] = counts.get(run.variant, 0) + 1
        return max(sorted(counts), key=lambda variant: counts[variant], default="")

    def gains(self, experiment: str, family: str) -> dict[str, list[tuple[str, float, float]]]:
        """Series label -> (language, corpus words, gain from language adaptation) per target language with
        both scores and a recorded corpus size; the gain is the mean over seeds with minus the mean without."""
        variant = self.figure_variant(experiment)
        runs = [run for run in self.runs
                if run.experiment == experiment and run.family == family and run.variant == variant]
        corpus: dict[str, float] = {}
        for run in runs:
            for lang, words in (run.results.get("corpus_words") or {}).items():
                if isinstance(words, (int, float)) and words > 0:
                    corpus.setdefault(lang, float(words))
        series: dict[str, list[tuple[str, float, float]]] = {}
        for with_la, without_la, label in GAIN_PAIRS:
            scores = {name: _language_means([r for r in runs if r.configuration == name])
                      for name in (with_la, without_la)}
            points = [(lang, corpus[lang], scores[with_la][lang] - scores[without_la][lang])
                      for lang in scores[with_la] if lang in scores[without_la] and lang in corpus]
            if points:
                series[label] = sorted(points, key=lambda point: point[1])
        return series

    def draw_gains(self, experiment: str) -> Any:
        """Figure 6.2 for one experiment: a panel per PEFT family, a series per configuration pair; None when
        no pair has a language with a corpus size."""
        families = [family for family in sorted({r.family for r in self.runs if r.experiment == experiment},
                                                key=_family_rank) if self.gains(experiment, family)]
        if not families:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        scale = 100.0 if self.metrics[experiment] in PERCENT_METRICS else 1.0
        unit = " (points)" if scale == 100.0 else ""
        figure, grid = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4.2), squeeze=False, sharey=True)
        for axes, family in zip(grid[0], families):
            for label, points in self.gains(experiment, family).items():
                xs, ys = [p[1] for p in points], [scale * p[2] for p in points]
                line = axes.plot(xs, ys, marker="o", linestyle="", label=label)[0]
                for lang, x, y in zip([p[0] for p in points], xs, ys):
                    axes.annotate(lang, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7,
                                  color=line.get_color())
            axes.set_xscale("log")
            axes.xaxis.set_major_formatter(_compact_log_formatter())
            axes.xaxis.set_minor_formatter(_compact_log_formatter(labelOnlyBase=False))
            axes.axhline(0.0, color="grey", linewidth=0.8)
            axes.set_xlabel("monolingual corpus size (words)")
            axes.set_title(MODULE_NAMES.get(family, family))
            axes.grid(alpha=0.3)
            axes.legend(fontsize="small", title="configuration")
        grid[0][0].set_ylabel(f"gain from language adaptation, {metric_label(self.metrics[experiment])}{unit}")
        variant = self.figure_variant(experiment)
        title = (f"{task_title(experiment)}{f' ({variant})' if variant else ''}: gain from language adaptation "
                 "against corpus size (Fig. 6.2)")
        # wrapped to the figure's width (about 9 characters an inch at the title's size): one panel is narrow
        figure.suptitle(textwrap.fill(title, width=int(9 * figure.get_figwidth())))
        figure.tight_layout()
        return figure


def _compact_log_formatter(**options: Any) -> Any:
    """A log axis's tick labels as compact numbers (3.3k, 30k, 2M): corpora of similar sizes span less than a
    decade, where matplotlib labels the minor ticks in scientific notation (3.28×10³), wider than their spacing."""
    from matplotlib.ticker import LogFormatter

    class CompactLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            for suffix, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
                if abs(x) >= size:
                    return f"{x / size:.3g}{suffix}"
            return f"{x:.3g}"

    return CompactLogFormatter(**options)


def task_title(experiment: str) -> str:
    """``holistic_americasnli`` -> "AmericasNLI"."""
    words = experiment.split("_")[1:] if experiment.startswith("holistic_") else [experiment]
    return " ".join(EXPERIMENT_WORDS.get(word, word) for word in words)


def _family_rank(family: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER), family)


def _language_means(runs: Sequence[HolisticRun]) -> dict[str, float]:
    """Per language, the mean over runs (seeds) of the primary metric."""
    values: dict[str, list[float]] = {}
    for run in runs:
        for lang, metrics in (run.results.get("languages") or {}).items():
            if isinstance(metrics, Mapping) and isinstance(metrics.get(run.metric), (int, float)):
                values.setdefault(lang, []).append(float(metrics[run.metric]))
    return {lang: statistics.fmean(v) for lang, v in values.items()}


def _holistic_run(job: Job) -> HolisticRun | None:
    results = job.results
    if job.status != "finished" or results is None:
        return None
    experiment = str(results.get("experiment") or "")
    configuration = job.params.get(CONFIGURATION_KEY) or (results.get("configuration") or {}).get("name")
    family = job.params.get("task_module") or ((results.get("modules") or {}).get("task_module") or {}).get("method")
    if not experiment.startswith("holistic") or configuration not in ABLATIONS or not family:
        return None
    return HolisticRun(experiment, str(family), str(configuration), str(results.get("metric") or "accuracy"), results,
                       {k: v for k, v in job.params.items() if k not in PLACING_KEYS})


def _name_variants(runs: Sequence[HolisticRun]) -> None:
    """Label each run by its overrides of keys that vary between its experiment's runs ("shots per language (K) =
    20"); runs that leave them as configured (the sweep's protocol) stay unlabelled and share rows across tasks."""
    for experiment in {run.experiment for run in runs}:
        mine = [run for run in runs if run.experiment == experiment]
        keys = sorted({k for run in mine for k in run.params})
        varying = [k for k in keys if len({run.params.get(k) for run in mine}) > 1]
        for run in mine:
            run.variant = ", ".join(f"{key_label(k)} = {format_value(k, run.params[k])}" for k in varying
                                    if k in run.params)


def build_holistic_report(jobs: Sequence[Job]) -> HolisticReport | None:
    """Table 6.3 and Figure 6.2's data from the finished holistic jobs; None unless some experiment has at
    least two of Table 6.3's configurations (a Table 6.3 sweep, not a single run)."""
    runs = [run for job in jobs if (run := _holistic_run(job)) is not None]
    tasks = sorted({run.experiment for run in runs},
                   key=lambda e: (0 if "americasnli" in e else 1 if "nusax" in e else 2, e))
    tasks = [task for task in tasks if len({r.configuration for r in runs if r.experiment == task}) > 1]
    if not tasks:
        return None
    runs = [run for run in runs if run.experiment in tasks]
    _name_variants(runs)
    cells: dict[tuple[str, str, str], Cell] = {}
    metrics: dict[str, str] = {}
    for run in runs:
        metrics.setdefault(run.experiment, run.metric)
        value = (run.results.get("average") or {}).get(run.metric)
        if isinstance(value, (int, float)):
            cells.setdefault((run.family, run.configuration, run.variant, run.experiment),
                             Cell([])).values.append(float(value))
    report = HolisticReport(tasks, metrics, cells, runs)
    for task in tasks:
        if not any(report.gains(task, family) for family in {r.family for r in runs if r.experiment == task}):
            report.notes.append(f"Figure 6.2 ({task}) not drawn: it needs runs with and without language modules "
                                "(e.g. ZS and ZS – LA) and the corpus sizes the runs with them record "
                                "(results.json's corpus_words)")
    return report


def write_holistic_report(jobs: Sequence[Job], out_dir: Path, figures: bool = True) -> tuple[str, list[Path]]:
    """Write ``holistic_table_6_3.{csv,tex}`` and ``<experiment>_figure_6_2.{png,pdf}``; (markdown, files)."""
    report = build_holistic_report(jobs)
    if report is None:
        return "", []
    files = [out_dir / "holistic_table_6_3.csv", out_dir / "holistic_table_6_3.tex"]
    report.write_csv(files[0])
    files[1].write_text(report.latex())
    if figures:
        from xlt.report.figures import save_figure

        for task in report.tasks:
            figure = report.draw_gains(task)
            if figure is not None:
                files.extend(save_figure(figure, out_dir / f"{task}_figure_6_2"))
    return report.markdown(), files
