"""Readers for local data files. Malformed input raises DataError naming ``file:line``.

The readers themselves live in :mod:`xlt.data.formats`, one module per family of formats, each
registering its readers with ``@reader(name)`` (found by the :class:`~xlt.registry.Registry`
``READERS`` without an import list): ``jsonl``, ``json`` (a list of records), ``tsv`` / ``csv``
(header row, or ``options.header`` for header-less files), ``text`` (one example per non-empty line)
in ``formats/plain.py``; ``conllu`` and ``conll`` token columns in ``formats/conll.py``; ``squad`` JSON
in ``formats/squad.py``; ``parallel_text`` in ``formats/parallel.py``.

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

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xlt.errors import DataError
from xlt.registry import Registry

Row = dict[str, Any]
Located = tuple[str, Row]  # (where the row starts in its file: a line number or a JSON path, the row)
Reader = Callable[[Path, dict[str, Any]], Iterator[Located]]
READERS: Registry[Reader] = Registry("reader", "xlt.data.formats", "format")
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
    """Register a reader of format ``name`` (``@reader("conllu")``)."""
    return READERS.register(name)


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


def load_json(path: Path) -> Any:
    """The parsed JSON document at ``path`` (DataError naming the line of a syntax error)."""
    with _open(path) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
        except UnicodeDecodeError:
            raise not_utf8(path) from None


def read_records(path: Path, fmt: str | None, options: Mapping[str, Any] | None = None,
                 text_file: TextFileFormat = PLAIN_TEXT) -> Iterator[Located]:
    """``(position, row)`` of every record of ``path`` in format ``fmt`` (None: from the suffix,
    ``.txt`` as ``text_file`` says)."""
    fmt = fmt or infer_format(path, text_file)
    if fmt not in READERS:
        raise DataError(f"{path}: unknown format {fmt!r} (known: {', '.join(READERS.names())})")
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
