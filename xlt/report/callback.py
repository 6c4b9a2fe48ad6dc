"""The Hydra callback (``hydra.callbacks.report`` in conf/config.yaml): a sweep's report when it ends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from xlt.report.jobs import ERROR_FILE, write_job_error


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
        from xlt.report.writer import write_report

        if (config.get("cluster") or {}).get("dry_run"):
            return
        report = write_report(config.hydra.sweep.dir, figures=self.figures)
        print(report.markdown(), file=sys.stderr)
        print(f"report: {report.out_dir / 'report.md'}", file=sys.stderr)
