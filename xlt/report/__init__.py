"""Results tables and figures of a run or a sweep: ``python -m xlt.report DIR`` (or ``xlt-report DIR``).

``DIR`` is a run dir, a multirun dir, or any tree of them: every job dir (one with a ``.hydra/`` or a
``results.json``) is read. Per experiment, one table in the thesis's layout (Table 4.2): rows are the
variants of the sweep, labelled by method name ("LT-SFT", "MAD-G-en") and the other swept values in
human words; columns the target languages and their average; cells the mean (± sample standard
deviation) over seeds of the task's primary metric, in percent for metrics in [0, 1], the best per column
in bold. MAD-G runs add chapter 3's language groups (Tables 3.1, 3.2, 3.4; :mod:`xlt.report.groups`).
Written to ``report/``: ``report.md``, per table ``<experiment>.csv`` (raw values and the raw override
strings) and ``<experiment>.tex`` (booktabs), and for sweeps over numbers figures as PNG and PDF: a line
plot of the average when one numeric parameter is swept (one line per variant of the others: Fig. 4.2),
a contour plot when two are (Fig. 4.3). Jobs without results are skipped and listed, with the error of
those that failed.

:class:`ReportCallback` (``hydra.callbacks.report`` in conf/config.yaml) writes the report at the end of
every multirun and records the error of each failed job.

Modules: ``jobs`` (finding and reading jobs), ``labels`` (human words), ``tables`` (layouts, markdown,
LaTeX, CSV), ``groups`` (chapter 3's groups), ``figures``, ``writer`` (the report and the command line),
``callback``, ``holistic`` (chapter 6's Table 6.3 and Figure 6.2 across a sweep's experiments).
"""

from xlt.report.callback import ReportCallback
from xlt.report.jobs import ERROR_FILE, Job, find_jobs, parse_overrides, write_job_error
from xlt.report.tables import Cell, Row, Table, build_tables
from xlt.report.writer import Report, main, write_report

__all__ = ["ERROR_FILE", "Cell", "Job", "Report", "ReportCallback", "Row", "Table", "build_tables", "find_jobs",
           "main", "parse_overrides", "write_job_error", "write_report"]
