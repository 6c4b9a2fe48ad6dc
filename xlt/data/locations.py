"""Where a dataset split comes from: a hub dataset or a local file, through one code path.

A location is a config node such as::

    {hub: nyu-mll/multi_nli, split: validation_matched}
    {hub: masakhane/masakhaner, revision: refs/convert/parquet, data_dir: hau, split: test}
    {path: /data/americasnli/test.tsv, format: tsv, filter: {language: aym}}
    {path: /data/ud-treebanks-v2.7/UD_Czech-PDT/cs_pdt-ud-train-*.conllu}   # a glob: files concatenated

``add_columns`` gives columns of one value for every row, for what a split's rows share but do
not hold, e.g. the rules its answers are scored by (``{answer_scoring: "mlqa:{lang}"}``, read by
extractive QA); the bundled ``sample`` of a location gets them too.

Plus, for the offline smoke profile, ``sample:``, a location of a bundled stand-in file in the
same real format (its ``path`` relative to the bundled samples directory). With
``data.use_samples`` the sample is read instead. Either way the result is a
``datasets.Dataset`` with the columns renamed by ``columns`` ({our name: source name}). Hub
columns typed ``ClassLabel`` are decoded to their label names, so labels are always matched by
name, never by a dataset's own integer order (SMSA, for instance, numbers its labels in the
opposite order to NusaX).

A location that gives ``path`` as well as ``hub`` reads the local path: the hub fields (``hub``,
``name``, ``split``, ``revision``, ``data_dir``, ``data_files``) are dropped with a log line, so one
override (``+data.target.test.path=FILE``) points a hub location at a local copy. ``columns``,
``filter`` and ``options`` given as null are empty.

Every row keeps where it came from, in a hidden column that the task families read only for their
error messages (an unknown label names ``file:line`` even after a ``filter``): ``_source``
(``file:line``, or ``file:data[i]...`` for JSON) for local files, ``_row`` (the row's index in the
split) for hub datasets. :func:`row_origins` turns them into the text of an error message.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xlt.config import as_dict, parse
from xlt.data.readers import ENCODING, PLAIN_TEXT, TextFileFormat, read_records
from xlt.errors import ConfigError, DataError
from xlt.paths import SAMPLES_DIR
from xlt.utils.hashing import file_fingerprint

if TYPE_CHECKING:
    import datasets

log = logging.getLogger(__name__)

SOURCE_COLUMN = "_source"  # local files: "file:line" (JSON: "file:data[i]...") of each row
ROW_COLUMN = "_row"  # hub datasets: each row's index in its split
HIDDEN_COLUMNS = (SOURCE_COLUMN, ROW_COLUMN)
HUB_FIELDS = ("hub", "name", "split", "revision", "data_dir", "data_files")
TEXT_BUILDERS = ("text", "json", "csv")  # datasets' builders of raw files, which take an ``encoding``


@dataclass
class DataLocation:
    hub: str | None = None  # a hub dataset id, or a datasets builder such as "text"/"json"
    name: str | None = None  # hub config name
    split: str | None = None
    revision: str | None = None
    data_dir: str | None = None  # a hub repo's sub-directory (e.g. a parquet-converted config)
    data_files: Any = None  # for builder-style hub names ("text", "json", "parquet")
    path: str | None = None  # a local file, or a glob of files read in sorted order
    format: str | None = None  # jsonl, json, tsv, csv, text, conllu, ... (default: from suffix)
    options: dict[str, Any] = field(default_factory=dict)  # reader options (header, field, ...)
    columns: dict[str, str] = field(default_factory=dict)  # {our column: source column}
    filter: dict[str, Any] = field(default_factory=dict)  # keep rows whose column equals the value
    max_examples: int | None = None
    add_columns: dict[str, Any] = field(default_factory=dict)  # {column: the value of every row}
    sample: DataLocation | None = None  # bundled stand-in for the offline smoke profile

    def __post_init__(self) -> None:
        for name in ("options", "columns", "filter"):  # null (e.g. ``columns: null``) is empty
            value = getattr(self, name)
            if value is None:
                setattr(self, name, {})
            elif not isinstance(value, Mapping):
                raise ValueError(f"{name}: expected a mapping, got {type(value).__name__} {value!r}")
        if isinstance(self.sample, dict):
            self.sample = parse(DataLocation, self.sample, "sample")


_REPORTED_OVERRIDES: set[tuple[str, str]] = set()


def parse_location(node: Any, where: str) -> DataLocation:
    """The location of config ``node``; a local ``path`` wins over hub fields given with it."""
    location = parse(DataLocation, node, where)
    if location.hub is None and location.path is None:
        raise ConfigError(f"{where}: give either hub or path")
    if location.path is not None:
        dropped = {name: getattr(location, name) for name in HUB_FIELDS if getattr(location, name) is not None}
        if dropped:
            if (where, location.path) not in _REPORTED_OVERRIDES:  # locations are resolved many times
                _REPORTED_OVERRIDES.add((where, location.path))
                log.info("%s: reading the local path %s instead of the hub dataset (dropped %s)", where,
                         location.path, ", ".join(f"{k}={v}" for k, v in dropped.items()))
            location = DataLocation(**{**vars(location), **dict.fromkeys(dropped)})
    return location


def effective(location: DataLocation, use_samples: bool, samples_dir: str | None, where: str) -> DataLocation:
    """The location actually read: the bundled sample (path made absolute) under the smoke profile."""
    if not use_samples:
        return location
    if location.sample is None:
        raise ConfigError(f"{where}: no bundled sample for this location (data.use_samples is set)")
    sample = location.sample
    if location.add_columns and not sample.add_columns:  # what the rows share holds for the stand-in too
        sample = DataLocation(**{**vars(sample), "add_columns": location.add_columns})
    base = Path(samples_dir) if samples_dir else SAMPLES_DIR
    if sample.path is not None and not Path(sample.path).is_absolute():
        sample = DataLocation(**{**vars(sample), "path": str(base / sample.path)})
    return sample


def local_files(path: str | Path) -> list[Path]:
    """The files of a local ``path``: itself, or the sorted matches of a glob pattern."""
    path = Path(path)
    if not glob.has_magic(str(path)):
        return [path] if path.exists() else []
    return sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())


def fingerprint(location: DataLocation) -> dict[str, Any]:
    """What identifies the data (for artifact keys): the spec plus local file content hashes."""
    spec = as_dict(location)
    spec.pop("sample", None)
    if not spec.get("add_columns"):  # keys of locations without added columns stay as they were
        spec.pop("add_columns", None)
    if location.path is not None:
        files = local_files(location.path)
        contents = [file_fingerprint(f) for f in files]
        spec["content"] = (contents[0] if len(contents) == 1 else contents) if files else "missing"
        spec["path"] = Path(location.path).name  # content identifies the data; the directory does not matter
    return spec


def decode_class_labels(dataset: datasets.Dataset) -> datasets.Dataset:
    """Replace ``ClassLabel`` (and list-of-``ClassLabel``) columns by their names (-1 -> None)."""
    import datasets

    decoders = {}
    for column, feature in dataset.features.items():
        inner = getattr(feature, "feature", None)
        if isinstance(feature, datasets.ClassLabel):
            decoders[column] = (feature.names, False)
        elif isinstance(inner, datasets.ClassLabel):
            decoders[column] = (inner.names, True)
    if not decoders:
        return dataset

    def decode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for column, (names, nested) in decoders.items():
            if nested:
                batch[column] = [[names[v] if v is not None and v >= 0 else None for v in row] for row in batch[column]]
            else:
                batch[column] = [names[v] if v is not None and v >= 0 else None for v in batch[column]]
        return batch

    features = dataset.features.copy()
    for column, (_, nested) in decoders.items():
        features[column] = datasets.List(datasets.Value("string")) if nested else datasets.Value("string")
    return dataset.map(decode, batched=True, features=features)


def visible_columns(names: Sequence[str]) -> list[str]:
    """Column names without the hidden row-origin columns (for messages)."""
    return [name for name in names if name not in HIDDEN_COLUMNS]


def row_origins(chunk: Mapping[str, Sequence[Any]], where: str, start: int) -> list[str]:
    """Where each row of a column chunk (``dataset[start:stop]``) came from, as error messages name
    it: ``file:line`` for rows of a local file, ``<where>: row N`` for a hub split's row N, else
    ``<where>: example I`` (the position in ``dataset``, for datasets built in memory)."""
    count = len(next(iter(chunk.values()))) if chunk else 0
    if chunk.get(SOURCE_COLUMN) is not None:
        return [str(source) for source in chunk[SOURCE_COLUMN]]
    if chunk.get(ROW_COLUMN) is not None:
        return [f"{where}: row {row}" for row in chunk[ROW_COLUMN]]
    return [f"{where}: example {start + i}" for i in range(count)]


def row_origin(row: Mapping[str, Any], where: str, index: int) -> str:
    """:func:`row_origins` of one row (a dict of values) at position ``index``."""
    (origin,) = row_origins({key: [value] for key, value in row.items()}, where, index)
    return origin


def _read_local(location: DataLocation, where: str, text_file: TextFileFormat) -> datasets.Dataset:
    import datasets

    files = local_files(location.path)
    if not files:
        raise DataError(f"{where}: file not found: {location.path}")
    rows = [{**row, SOURCE_COLUMN: f"{path}:{position}"} for path in files
            for position, row in read_records(path, location.format, location.options, text_file)]
    if not rows:
        raise DataError(f"{location.path}: no examples")
    return datasets.Dataset.from_list(rows)


def _read_hub(location: DataLocation, where: str) -> datasets.Dataset:
    import datasets

    # datasets' raw-file builders read UTF-8 without stripping a byte-order mark unless told
    encoding = {"encoding": ENCODING} if location.hub in TEXT_BUILDERS else {}
    try:
        dataset = datasets.load_dataset(location.hub, location.name, split=location.split,
                                        revision=location.revision, data_dir=location.data_dir,
                                        data_files=location.data_files, **encoding)
    except Exception as error:  # the hub raises many types; name the location
        raise DataError(f"{where}: could not load hub dataset {location.hub!r}"
                        f"{'/' + location.name if location.name else ''} split {location.split!r}: "
                        f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    if not isinstance(dataset, datasets.Dataset):
        raise DataError(f"{where}: hub dataset {location.hub!r} needs a split (found {list(dataset)})")
    dataset = decode_class_labels(dataset)
    return dataset.add_column(ROW_COLUMN, np.arange(len(dataset), dtype=np.int64))


def load_location(location: DataLocation, where: str, text_file: TextFileFormat = PLAIN_TEXT) -> datasets.Dataset:
    """Read a location into a ``datasets.Dataset`` with renamed columns, filter and cap applied.
    ``text_file``: how a ``.txt`` file without ``format`` is read (the task family's
    ``text_file_format()``; default plain text). Rows carry their origin (module docstring)."""
    if location.path is not None:
        dataset = _read_local(location, where, text_file)
    else:
        dataset = _read_hub(location, where)
    for column, value in location.filter.items():
        if column not in dataset.column_names:
            raise DataError(f"{where}: filter column {column!r} not in {visible_columns(dataset.column_names)}")
        dataset = dataset.filter(lambda row, c=column, v=value: row[c] == v)
    missing = [source for source in location.columns.values() if source not in dataset.column_names]
    if missing:
        raise DataError(f"{where}: column(s) {missing} not in {visible_columns(dataset.column_names)}")
    renames = {source: ours for ours, source in location.columns.items() if source != ours}
    if renames:
        clashing = [c for c in dataset.column_names if c in renames.values() and c not in renames]
        if clashing:
            dataset = dataset.remove_columns(clashing)
        dataset = dataset.rename_columns(renames)
    for column, value in (location.add_columns or {}).items():
        if column in dataset.column_names:
            raise DataError(f"{where}: add_columns: the data already have a column {column!r}")
        dataset = dataset.add_column(column, [value] * len(dataset))
    if location.max_examples is not None:
        dataset = dataset.select(range(min(location.max_examples, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"{where}: no examples left after filtering")
    return dataset
