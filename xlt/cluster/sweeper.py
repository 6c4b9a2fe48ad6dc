"""Hydra's basic sweep plus paired ("zipped") dimensions, and a sweep that finishes every job.

The thesis varies some dimensions together, not as a grid: e.g. each PEFT method with its own
learning rate (Table 7.1). ``hydra.sweeper.zip`` lists groups of swept keys whose values are
taken in lockstep (the i-th value of each); the groups and the other swept keys then form the
usual Cartesian product::

    python launch.py -m +experiment=X task_module=lora,ia3 task.train.lr=1e-4,3e-4 seed=1,2 \\
        'hydra.sweeper.zip=[[task_module,task.train.lr]]'        # 2 (method, lr) pairs x 2 seeds

When a job fails, the other jobs still run; the sweep then writes its report (xlt.report, listing
the failed jobs) and fails with the first job's error.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from xlt.errors import ConfigError

log = logging.getLogger(__name__)


class SweepError(ConfigError, CompactHydraException):
    """A malformed sweep (Hydra prints it as one line)."""


def _bare(key: str) -> str:
    return key.lstrip("+~")


def zip_sweep(overrides: list[Override], groups: list[list[str]]) -> list[list[str]]:
    """Every job's overrides: the product over swept keys, the keys of each group taken together."""
    options: OrderedDict[str, list[str]] = OrderedDict()
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise SweepError(f"{key}: only lists of values can be swept here (not {override.value_type.name})")
            options[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            options[key] = [f"{key}={override.get_value_element_as_str()}"]
    by_bare = {_bare(key): key for key in options}
    grouped: dict[str, int] = {}
    for number, group in enumerate(groups):
        if len(group) < 2:
            raise SweepError(f"hydra.sweeper.zip[{number}]: a group needs at least two keys (got {group})")
        for key in group:
            if _bare(key) not in by_bare:
                raise SweepError(f"hydra.sweeper.zip[{number}]: {key!r} is not swept (swept: {sorted(by_bare)})")
            if _bare(key) in grouped:
                raise SweepError(f"hydra.sweeper.zip: {key!r} is in two groups")
            grouped[_bare(key)] = number
        lengths = {key: len(options[by_bare[_bare(key)]]) for key in group}
        if len(set(lengths.values())) > 1:
            raise SweepError(f"hydra.sweeper.zip[{number}]: zipped keys need as many values each (got {lengths})")
    units: list[list[list[str]]] = []  # each unit: its alternatives, each a list of overrides
    placed: set[int] = set()
    for key, values in options.items():
        number = grouped.get(_bare(key))
        if number is None:
            units.append([[value] for value in values])
        elif number not in placed:
            placed.add(number)
            columns = [options[by_bare[_bare(k)]] for k in groups[number]]
            units.append([list(row) for row in zip(*columns)])
    return [[item for part in combination for item in part] for combination in itertools.product(*units)]


class ZipSweeper(Sweeper):
    """Hydra's basic sweeper (its options: ``max_batch_size``, ``params``) with ``zip`` groups. Written
    against Hydra's Sweeper interface: Hydra's plugin scan re-imports its own basic sweeper module,
    so subclassing that class breaks."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 zip: list[list[str]] | None = None) -> None:  # noqa: A002 (the config key)
        super().__init__()
        self.max_batch_size, self.params = max_batch_size, dict(params or {})
        self.zip = [[str(key) for key in group] for group in (zip or [])]
        self.overrides: list[list[list[str]]] | None = None
        self.batch_index = 0
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def _parse_config(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.params.items()]

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:
        jobs = zip_sweep(overrides, self.zip)
        if not max_batch_size:
            return [jobs]
        return [jobs[i:i + max_batch_size] for i in range(0, len(jobs), max_batch_size)]

    def get_job_batch(self) -> list[list[str]]:
        assert self.overrides is not None
        self.batch_index += 1
        return self.overrides[self.batch_index - 1]

    def is_done(self) -> bool:
        assert self.overrides is not None
        return self.batch_index >= len(self.overrides)

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(parser.parse_overrides([*self._parse_config(), *arguments]),
                                              self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns: list[list[JobReturn]] = []
        failed: list[JobReturn] = []
        initial_job_idx = 0
        while not self.is_done():
            batch = self.get_job_batch()
            started = time.perf_counter()
            self.validate_batch_is_legal(batch)
            log.debug("validated %d job configs in %.2fs", len(batch), time.perf_counter() - started)
            results = list(self.launcher.launch(batch, initial_job_idx=initial_job_idx))
            failed.extend(r for r in results if r.status == JobStatus.FAILED)
            initial_job_idx += len(batch)
            returns.append(results)
        if failed:
            log.error("%d of %d job(s) failed", len(failed), initial_job_idx)
            from xlt.report import write_report

            try:
                report = write_report(sweep_dir)
                log.error("report of the finished jobs: %s", report.out_dir / "report.md")
            except Exception as problem:  # the report must never hide the jobs' own error
                log.warning("could not write the report: %s", problem)
            from xlt.errors import XltError

            error = failed[0]._return_value
            if isinstance(error, XltError):  # the user's input: one line (the job's own log has the rest)
                raise SweepError(f"{len(failed)} of {initial_job_idx} job(s) failed; the first "
                                 f"({' '.join(failed[0].overrides or [])}): {error}")
            _ = failed[0].return_value  # raises the first failed job's error, with its traceback
        return returns
