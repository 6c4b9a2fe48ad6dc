"""Where a dataset split comes from: a hub dataset or a local file, through one code path.

A location is a config node such as::

    {hub: nyu-mll/multi_nli, split: validation_matched}
    {path: /data/americasnli/test.tsv, format: tsv, filter: {language: aym}}

plus, for the offline smoke profile, ``sample:``, a location of a bundled stand-in file in the
same real format (its ``path`` relative to the bundled samples directory). With
``data.use_samples`` the sample is read instead. Either way the result is a
``datasets.Dataset`` with the columns renamed by ``columns`` ({our name: source name}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from xlt.config import as_dict, parse
from xlt.data.readers import read_file
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ConfigError, DataError
from xlt.utils.hashing import file_fingerprint


@dataclass
class DataLocation:
    hub: str | None = None  # a hub dataset id, or a datasets builder such as "text"/"json"
    name: str | None = None  # hub config name
    split: str | None = None
    revision: str | None = None
    data_files: Any = None  # for builder-style hub names ("text", "json", "parquet")
    path: str | None = None  # a local file
    format: str | None = None  # jsonl, json, tsv, csv, text, conllu, ... (default: from suffix)
    options: dict[str, Any] = field(default_factory=dict)  # reader options (header, field, ...)
    columns: dict[str, str] = field(default_factory=dict)  # {our column: source column}
    filter: dict[str, Any] = field(default_factory=dict)  # keep rows whose column equals the value
    max_examples: int | None = None
    sample: DataLocation | None = None  # bundled stand-in for the offline smoke profile

    def __post_init__(self) -> None:
        if isinstance(self.sample, dict):
            self.sample = parse(DataLocation, self.sample, "sample")


def parse_location(node: Any, where: str) -> DataLocation:
    location = parse(DataLocation, node, where)
    if location.hub is None and location.path is None:
        raise ConfigError(f"{where}: give either hub or path")
    if location.hub is not None and location.path is not None:
        raise ConfigError(f"{where}: give hub or path, not both")
    return location


def effective(location: DataLocation, use_samples: bool, samples_dir: str | None, where: str) -> DataLocation:
    """The location actually read: the bundled sample (path made absolute) under the smoke profile."""
    if not use_samples:
        return location
    if location.sample is None:
        raise ConfigError(f"{where}: no bundled sample for this location (data.use_samples is set)")
    sample = location.sample
    base = Path(samples_dir) if samples_dir else SAMPLES_DIR
    if sample.path is not None and not Path(sample.path).is_absolute():
        sample = DataLocation(**{**vars(sample), "path": str(base / sample.path)})
    return sample


def fingerprint(location: DataLocation) -> dict[str, Any]:
    """What identifies the data (for artifact keys): the spec plus local file content hashes."""
    spec = as_dict(location)
    spec.pop("sample", None)
    if location.path is not None:
        path = Path(location.path)
        spec["content"] = file_fingerprint(path) if path.exists() else "missing"
        spec["path"] = path.name  # content identifies the data; the directory does not matter
    return spec


def load_location(location: DataLocation, where: str) -> datasets.Dataset:
    """Read a location into a ``datasets.Dataset`` with renamed columns, filter and cap applied."""
    if location.path is not None:
        path = Path(location.path)
        if not path.exists():
            raise DataError(f"{where}: file not found: {path}")
        rows = list(read_file(path, location.format, location.options))
        if not rows:
            raise DataError(f"{path}: no examples")
        dataset = datasets.Dataset.from_list(rows)
    else:
        try:
            dataset = datasets.load_dataset(location.hub, location.name, split=location.split,
                                            revision=location.revision, data_files=location.data_files)
        except Exception as error:  # the hub raises many types; name the location
            raise DataError(f"{where}: could not load hub dataset {location.hub!r}"
                            f"{'/' + location.name if location.name else ''} split {location.split!r}: "
                            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    for column, value in location.filter.items():
        if column not in dataset.column_names:
            raise DataError(f"{where}: filter column {column!r} not in {dataset.column_names}")
        dataset = dataset.filter(lambda row, c=column, v=value: row[c] == v)
    missing = [source for source in location.columns.values() if source not in dataset.column_names]
    if missing:
        raise DataError(f"{where}: column(s) {missing} not in {dataset.column_names}")
    renames = {source: ours for ours, source in location.columns.items() if source != ours}
    if renames:
        clashing = [c for c in dataset.column_names if c in renames.values() and c not in renames]
        if clashing:
            dataset = dataset.remove_columns(clashing)
        dataset = dataset.rename_columns(renames)
    if location.max_examples is not None:
        dataset = dataset.select(range(min(location.max_examples, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"{where}: no examples left after filtering")
    return dataset
