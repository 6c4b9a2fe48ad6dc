"""Generic record formats: ``jsonl``, ``json`` (a list of records, optionally under ``options.field``),
``tsv`` / ``csv`` (a header row, or ``options.header`` for header-less files) and ``text`` (one example
per non-empty line, column ``text``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlt.data.readers import Located, _lines, _open, load_json, not_utf8, reader
from xlt.errors import DataError


@reader("jsonl")
def read_jsonl(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    with _open(path) as handle:
        for number, line in _lines(handle):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object per line")
            yield str(number), row


@reader("json")
def read_json(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    data = load_json(path)
    field_name = options.get("field")
    prefix = ""
    if field_name is not None:
        if not isinstance(data, dict) or field_name not in data:
            raise DataError(f"{path}: no top-level field {field_name!r}")
        data, prefix = data[field_name], str(field_name)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of records")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DataError(f"{path}:{prefix}[{i}]: expected a JSON object")
        yield f"{prefix}[{i}]", row


def _read_delimited(path: Path, options: dict[str, Any], delimiter: str) -> Iterator[Located]:
    header = options.get("header")  # a list of column names for header-less files
    with _open(path) as handle:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        rows = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        columns = [str(c) for c in header] if header else None
        while True:
            start = rows.line_num + 1  # a quoted CSV field may span lines: the record starts here
            try:
                values = next(rows)
            except StopIteration:
                return
            except csv.Error as error:
                raise DataError(f"{path}:{start}: {error}") from None
            except UnicodeDecodeError:
                raise not_utf8(path) from None
            if columns is None:  # the header: the first non-empty row
                columns = values if values != [""] else None
                continue
            if not values or values == [""]:
                continue
            if len(values) != len(columns):
                raise DataError(f"{path}:{start}: expected {len(columns)} fields "
                                f"({', '.join(columns)}), found {len(values)}")
            yield str(start), dict(zip(columns, values))


@reader("tsv")
def read_tsv(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    return _read_delimited(path, options, "\t")


@reader("csv")
def read_csv(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    return _read_delimited(path, options, ",")


@reader("text")
def read_text(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    with _open(path) as handle:
        for number, line in _lines(handle):
            line = line.strip()
            if line:
                yield str(number), {"text": line}
