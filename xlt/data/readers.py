"""Readers for local data files. Malformed input raises DataError naming ``file:line``.

Formats: ``jsonl``, ``json`` (a list of records), ``tsv`` / ``csv`` (header row, or ``options.header``
for header-less files), ``text`` (one example per non-empty line). Task-specific formats (``conllu``,
``conll`` token columns, ``squad`` JSON) live in :mod:`xlt.data.task_formats`, imported at the bottom
of this module.

Every reader opens files as UTF-8 with a byte-order mark stripped (published TSV and CoNLL files
often start with one; it must not become part of the first column name or token) and accepts LF
and CRLF line endings. A reader yields ``(position, row)`` pairs, the position being where the
row starts in the file (a line number, or a JSON path such as ``data[0].paragraphs[1].qas[2]``),
so that errors found later (an unknown label, in the task family) can still name ``file:line``.

A ``.txt`` file read without an explicit ``format`` is not necessarily plain text: the task family
decides (:class:`TextFileFormat`: CoNLL columns for token tasks, CoNLL-U for parsing, plain text
for MLM corpora).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xlt.errors import DataError

Row = dict[str, Any]
Located = tuple[str, Row]  # (where the row starts in its file: a line number or a JSON path, the row)
Reader = Callable[[Path, dict[str, Any]], Iterator[Located]]
READERS: dict[str, Reader] = {}
ENCODING = "utf-8-sig"  # UTF-8, a leading byte-order mark dropped


@dataclass(frozen=True)
class TextFileFormat:
    """How a ``.txt`` file whose location gives no ``format`` is read: the reader's name and its
    default options (a location's own ``options`` take precedence). The options also apply when a
    location names this format explicitly. The task family supplies it (``TaskFamily.text_file_format``)."""

    format: str = "text"
    options: Mapping[str, Any] = field(default_factory=dict)


PLAIN_TEXT = TextFileFormat()


def reader(name: str) -> Callable[[Reader], Reader]:
    def register(function: Reader) -> Reader:
        READERS[name] = function
        return function

    return register


def _open(path: Path) -> IO[str]:
    """``path`` as UTF-8 text without a byte-order mark; line endings kept (``\\r\\n`` or ``\\n``)."""
    try:
        return open(path, encoding=ENCODING, newline="")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None


def not_utf8(path: Path | str) -> DataError:
    """The one-line error for a file that is not UTF-8, naming its first undecodable line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return DataError(f"{path}:{number}: not UTF-8 (byte {raw[error.start]:#04x} at column "
                                 f"{error.start + 1}); convert the file to UTF-8")
    return DataError(f"{path}: not UTF-8; convert the file to UTF-8")


def _lines(handle: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, line without its line ending) for every line of an open file; a byte-order
    mark at the start of a line (files concatenated with ``cat``) is dropped as well."""
    try:
        for number, raw in enumerate(handle, 1):
            yield number, raw.rstrip("\r\n").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise not_utf8(handle.name) from None


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


def load_json(path: Path) -> Any:
    """The parsed JSON document at ``path`` (DataError naming the line of a syntax error)."""
    with _open(path) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
        except UnicodeDecodeError:
            raise not_utf8(path) from None


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


def read_records(path: Path, fmt: str | None, options: Mapping[str, Any] | None = None,
                 text_file: TextFileFormat = PLAIN_TEXT) -> Iterator[Located]:
    """``(position, row)`` of every record of ``path`` in format ``fmt`` (None: from the suffix,
    ``.txt`` as ``text_file`` says)."""
    fmt = fmt or infer_format(path, text_file)
    if fmt not in READERS:
        raise DataError(f"{path}: unknown format {fmt!r} (known: {', '.join(sorted(READERS))})")
    if not path.exists():
        raise DataError(f"{path}: file not found")
    defaults = text_file.options if fmt == text_file.format else {}
    return READERS[fmt](path, {**defaults, **(options or {})})


def read_file(path: Path, fmt: str | None, options: Mapping[str, Any] | None = None,
              text_file: TextFileFormat = PLAIN_TEXT) -> Iterator[Row]:
    """The rows of ``path`` (see :func:`read_records`)."""
    return (row for _, row in read_records(path, fmt, options, text_file))


def infer_format(path: Path, text_file: TextFileFormat = PLAIN_TEXT) -> str:
    """The reader of a file given without ``format``: its suffix names it, except ``.txt``, whose
    content the task family decides (``text_file``)."""
    suffix = path.suffix.lower().lstrip(".")
    return text_file.format if suffix == "txt" else suffix


from xlt.data import parallel, task_formats  # noqa: E402, F401  (register conllu, conll, squad, parallel_text)
