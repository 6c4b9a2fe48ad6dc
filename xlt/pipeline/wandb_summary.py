"""``logger=wandb``: one summary run per experiment (issue 14, item 7).

The training phases log one wandb run each (grouped by the experiment's name, xlt.training.fit); a
re-run whose stages are all cached trains nothing, so without this run it would leave no trace in wandb.
The summary run carries the resolved config, the final per-language results as a table and the averages
in its summary, written whether the stages were built or cached. Offline (the default, ``logger.wandb.mode``
or ``WANDB_MODE``), the run is a directory ``<run dir>/logs/wandb/offline-run-<time>-<id>/``;
``wandb sync <that dir>`` uploads it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def log_summary(options: dict[str, Any], name: str, config: dict[str, Any], results: dict[str, Any],
                run_dir: Path) -> Path:
    """Write the summary run of experiment ``name``; returns its directory. ``options``: ``logger.wandb``
    (project, entity, mode, tags)."""
    import wandb

    options = dict(options)
    os.environ.setdefault("WANDB_MODE", options.pop("mode", "offline") or "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    log_dir = Path(run_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    languages: dict[str, dict[str, Any]] = results.get("languages", {})
    metrics = sorted({key for values in languages.values() for key in values})
    run = wandb.init(name=f"{name}/summary", group=name, job_type="summary", dir=str(log_dir), config=config,
                     reinit="create_new", **options)
    try:
        table = wandb.Table(columns=["language", *metrics],
                            data=[[lang, *(values.get(metric) for metric in metrics)]
                                  for lang, values in languages.items()])
        run.log({"results": table})
        run.summary.update({f"average/{metric}": value for metric, value in results.get("average", {}).items()})
        run.summary.update({"metric": results.get("metric"),
                            "stages": {label: stage["status"] for label, stage in results.get("stages", {}).items()}})
        return Path(run.dir).parent
    finally:
        run.finish()
