"""Readers for local data files. Malformed input raises DataError naming ``file:line``.

Formats: ``jsonl``, ``json`` (a list of records), ``tsv`` / ``csv`` (header row), ``text``
(one example per non-empty line). Task-specific formats (``conllu``, ``conll`` NER columns,
``squad`` JSON) live in :mod:`xlt.data.task_formats`, imported at the bottom of this module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xlt.errors import DataError

Row = dict[str, Any]
Reader = Callable[[Path, dict[str, Any]], Iterator[Row]]
READERS: dict[str, Reader] = {}


def reader(name: str) -> Callable[[Reader], Reader]:
    def register(function: Reader) -> Reader:
        READERS[name] = function
        return function

    return register


def _open(path: Path):
    try:
        return open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None


@reader("jsonl")
def read_jsonl(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    with _open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield row


@reader("json")
def read_json(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    with _open(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
    field = options.get("field")
    if field is not None:
        if not isinstance(data, dict) or field not in data:
            raise DataError(f"{path}: no top-level field {field!r}")
        data = data[field]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of records")
    yield from data


def _read_delimited(path: Path, options: dict[str, Any], delimiter: str) -> Iterator[Row]:
    header = options.get("header")  # a list of column names for header-less files
    with _open(path) as handle:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        rows = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        try:
            columns = list(header) if header else next(rows)
        except StopIteration:
            return
        first_line = 1 if header else 2
        for number, values in enumerate(rows, first_line):
            if not values or values == [""]:
                continue
            if len(values) != len(columns):
                raise DataError(f"{path}:{number}: expected {len(columns)} fields "
                                f"({', '.join(columns)}), found {len(values)}")
            yield dict(zip(columns, values))


@reader("tsv")
def read_tsv(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    return _read_delimited(path, options, "\t")


@reader("csv")
def read_csv(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    return _read_delimited(path, options, ",")


@reader("text")
def read_text(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    with _open(path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield {"text": line}


def read_file(path: Path, fmt: str | None, options: dict[str, Any] | None = None) -> Iterator[Row]:
    fmt = fmt or infer_format(path)
    if fmt not in READERS:
        raise DataError(f"{path}: unknown format {fmt!r} (known: {', '.join(sorted(READERS))})")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    return READERS[fmt](path, options or {})


def infer_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"txt": "text"}.get(suffix, suffix)


from xlt.data import parallel, task_formats  # noqa: E402, F401  (register conllu, conll, squad, parallel_text)
