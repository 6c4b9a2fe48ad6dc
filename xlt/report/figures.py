"""Figures of sweeps over numbers, each written as PNG and PDF (the same figure).

One swept number: a line plot of the average over target languages against it, one line per variant
of the other swept keys (Fig. 3.3, words; Fig. 4.2, task budget). Two: a contour plot per variant
(Fig. 4.3, language x task density). Axes carry human labels (:mod:`xlt.report.labels`), densities in
percent, ticks at the swept values, a log scale where the swept quantity calls for one; line plots
always have a legend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xlt.report.labels import (
    axis_scale,
    experiment_title,
    format_value,
    key_label,
    key_number,
    key_quantity,
    log_base,
    method_label,
    metric_label,
)
from xlt.report.tables import METHOD, Row, Table

FORMATS = ("png", "pdf")
MAX_TICKS = 10  # more swept values than this: the axis's own ticks


def numeric_keys(table: Table) -> list[str]:
    """Swept keys (not method choices) with at least two values, all numbers."""
    keys = []
    for key in table.label_keys:
        if key == METHOD:
            continue
        values = {row.params[key] for row in table.rows}
        if len(values) > 1 and all(key_number(key, v) is not None for v in values):
            keys.append(key)
    return keys


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _series(table: Table, numeric: list[str]) -> dict[str, list[Row]]:
    """Rows with an average, by the label of their non-numeric variant (the method, other values)."""
    series: dict[str, list[Row]] = {}
    for row in table.rows:
        if "avg" not in row.cells:
            continue
        parts = []
        for key, label in zip(table.label_keys, row.labels):
            if key == METHOD:
                parts.append(label)
            elif key not in numeric:
                parts.append(f"{key_label(key)} = {label}")
        name = ", ".join(parts) or method_label(row.context) or experiment_title(table.experiment)
        series.setdefault(name, []).append(row)
    return series


def plot_table(table: Table, out_dir: Path) -> list[Path]:
    """The table's figure, if it sweeps one or two numbers, as ``<name>_<key>.{png,pdf}`` (line plot) or
    ``<name>_<key1>_x_<key2>.{png,pdf}`` (contour plots)."""
    drawn = draw_table(table)
    if drawn is None:
        return []
    stem, figure = drawn
    return save_figure(figure, out_dir / stem)


def save_figure(figure: Any, stem: Path) -> list[Path]:
    """``figure`` as ``<stem>.png`` and ``<stem>.pdf`` (:data:`FORMATS`), then closed."""
    import matplotlib.pyplot as plt

    paths = []
    for suffix in FORMATS:
        path = stem.with_name(f"{stem.name}.{suffix}")
        figure.savefig(path, dpi=150)
        paths.append(path)
    plt.close(figure)
    return paths


def draw_table(table: Table) -> tuple[str, Any] | None:
    """(file stem, matplotlib figure) of the average over languages against the swept numbers: a line
    plot for one, contour plots for two (one per variant of the other keys); None for other sweeps."""
    numeric = numeric_keys(table)
    if len(numeric) not in (1, 2):
        return None
    series = _series(table, numeric)
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 100.0 if table.percent else 1.0
    metric = f"average {metric_label(table.metric)}" + (" (%)" if table.percent else "")
    task = f": {format_value('task', table.task)}" if table.task else ""
    title = f"{experiment_title(table.experiment)}{task}"
    if len(numeric) == 1:
        key = numeric[0]
        figure, axes = plt.subplots(figsize=(6, 4))
        for name, rows in series.items():
            rows = sorted(rows, key=lambda r: key_number(key, r.params[key]))
            xs = [_shown(key, r.params[key]) for r in rows]
            ys = [scale * r.cells["avg"].mean for r in rows]
            errors = [scale * (r.cells["avg"].std or 0.0) for r in rows]
            line = axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=name)
            if any(errors):  # the std over seeds as a shaded band too (Fig. 6.1)
                axes.fill_between(xs, [y - e for y, e in zip(ys, errors)], [y + e for y, e in zip(ys, errors)],
                                  color=line.lines[0].get_color(), alpha=0.2, linewidth=0)
        _axis(axes, "x", key, table.rows)
        axes.set_ylabel(metric)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", title=METHOD if METHOD in table.label_keys else None)
        stem = f"{safe_name(table.name)}_{key}"
    else:
        kx, ky = numeric
        figure, grid = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4.8), squeeze=False)
        for axes, (name, rows) in zip(grid[0], series.items()):
            _contour(axes, rows, kx, ky, scale, metric)
            axes.set_title(name if len(series) > 1 else title)
        if len(series) > 1:
            figure.suptitle(title)
        stem = f"{safe_name(table.name)}_{kx}_x_{ky}"
    figure.tight_layout()
    return stem, figure


def _shown(key: str, text: str) -> float:
    """A swept value on its axis: densities in percent."""
    number = key_number(key, text)
    assert number is not None
    return number * key_quantity(key).scale


def _axis(axes: Any, which: str, key: str, rows: list[Row]) -> None:
    """Label, scale and ticks of one axis over the swept values of ``key``."""
    from matplotlib.ticker import NullFormatter

    texts = {row.params[key] for row in rows}
    raw = {text: key_number(key, text) for text in texts}
    scale = axis_scale(key, [v for v in raw.values() if v is not None])
    set_label, set_scale, set_ticks, axis = (
        (axes.set_xlabel, axes.set_xscale, axes.set_xticks, axes.xaxis) if which == "x" else
        (axes.set_ylabel, axes.set_yscale, axes.set_yticks, axes.yaxis))
    set_label(key_label(key))
    if scale == "log":
        set_scale("log", base=log_base([v for v in raw.values() if v is not None]))
    if len(texts) <= MAX_TICKS:
        ordered = sorted(texts, key=lambda t: raw[t] or 0.0)
        set_ticks([_shown(key, t) for t in ordered], labels=[format_value(key, t) for t in ordered])
        axis.set_minor_formatter(NullFormatter())
        axis.set_tick_params(which="minor", length=0)


def _contour(axes: Any, rows: list[Row], kx: str, ky: str, scale: float, label: str) -> None:
    import numpy as np

    xs = sorted({_shown(kx, r.params[kx]) for r in rows})
    ys = sorted({_shown(ky, r.params[ky]) for r in rows})
    z = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        z[ys.index(_shown(ky, r.params[ky])), xs.index(_shown(kx, r.params[kx]))] = scale * r.cells["avg"].mean
    if len(xs) > 1 and len(ys) > 1 and not np.isnan(z).any() and np.ptp(z) > 1e-9:
        filled = axes.contourf(xs, ys, z, levels=12, cmap="viridis")
        axes.figure.colorbar(filled, ax=axes, label=label)
    axes.use_sticky_edges = False  # room around the grid for the value labels
    axes.margins(0.08)
    points = [(x, y, z[yi, xi]) for yi, y in enumerate(ys) for xi, x in enumerate(xs) if not np.isnan(z[yi, xi])]
    axes.plot([p[0] for p in points], [p[1] for p in points], "k.", label=f"a swept setting, labelled with its {label}")
    for x, y, value in points:
        axes.annotate(f"{value:.1f}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=8)
    _axis(axes, "x", kx, rows)
    _axis(axes, "y", ky, rows)
    axes.legend(fontsize="x-small", loc="lower left", framealpha=0.8)


def draw_efficiency(table: Table) -> Any:
    """Figure 5.1: each variant's average score against its model's parameters and inference FLOPs per
    example (results.json's ``efficiency``); None without them."""
    points = []
    for row in table.rows:
        parameters = row.efficiency_cell(("measured", "parameters"), 1e-6)
        flops = row.efficiency_cell(("measured", "flops_per_example"), 1e-9)
        if "avg" in row.cells and parameters is not None and flops is not None:
            points.append((row.label or method_label(row.context) or "run", parameters.mean, flops.mean,
                           row.cells["avg"].mean))
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 100.0 if table.percent else 1.0
    figure, (by_size, by_flops) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axes, index, label in ((by_size, 1, "parameters (millions)"), (by_flops, 2, "FLOPs per example (billions)")):
        for point in points:
            axes.scatter(point[index], scale * point[3], label=point[0])
            axes.annotate(point[0], (point[index], scale * point[3]), textcoords="offset points", xytext=(4, 4),
                          fontsize=8)
        axes.set_xlabel(label)
        axes.grid(alpha=0.3)
    by_size.set_ylabel(f"average {metric_label(table.metric)}" + (" (%)" if table.percent else ""))
    by_size.legend(fontsize="x-small", title=METHOD)
    task = f": {format_value('task', table.task)}" if table.task else ""
    figure.suptitle(f"{experiment_title(table.experiment)}{task}: score against size and inference cost (Fig. 5.1)")
    figure.tight_layout()
    return figure


def plot_efficiency(table: Table, out_dir: Path) -> list[Path]:
    """Figure 5.1 (:func:`draw_efficiency`) as ``<name>_efficiency.{png,pdf}``; nothing without the figures."""
    figure = draw_efficiency(table)
    if figure is None:
        return []
    return save_figure(figure, out_dir / f"{safe_name(table.name)}_efficiency")
