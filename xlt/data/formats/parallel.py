"""Parallel text: line-aligned pairs of plain-text files (AmericasNLP 2021's ``train.es`` /
``train.bzd``), read as ``{source, target}`` rows (thesis §6.4.2, Table D.2).

A location names the source-side file (or a glob of them) with ``format: parallel_text``; the
aligned target file is ``options.target`` (a path, relative to the source file's directory unless
absolute) or the source path with its suffix replaced by ``options.target_suffix`` (``bzd`` turns
``dev.es`` into ``dev.bzd``). ``options.source_column`` / ``options.target_column`` rename the
columns. Pairs with a blank side are skipped (line numbers stay aligned); files of different
lengths are a DataError naming both. NusaX-MT's CSV (one column per language) needs no reader of
its own: ``format: csv`` with ``columns: {source: indonesian, target: madurese}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlt.data.readers import Located, _lines, _open, reader
from xlt.errors import DataError

log = logging.getLogger(__name__)


def _read_lines(path: Path) -> list[str]:
    """The lines of ``path`` (byte-order mark and CRLF handled as by every reader)."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    with _open(path) as handle:
        return [line for _, line in _lines(handle)]


def target_path(source: Path, options: dict[str, Any]) -> Path:
    """The aligned target-side file of ``source`` (module docstring)."""
    if "target" in options and "target_suffix" not in options:
        target = Path(options["target"])
        return target if target.is_absolute() else source.parent / target
    if "target_suffix" in options and "target" not in options:
        return source.with_suffix("." + str(options["target_suffix"]).lstrip("."))
    raise DataError(f"{source}: a parallel_text location needs options.target or options.target_suffix (one)")


@reader("parallel_text")
def read_parallel_text(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    unknown = sorted(set(options) - {"target", "target_suffix", "source_column", "target_column"})
    if unknown:
        raise DataError(f"{path}: unknown parallel_text option(s) {unknown}")
    target = target_path(path, options)
    sources, targets = _read_lines(path), _read_lines(target)
    if len(sources) != len(targets):
        raise DataError(f"{path} ({len(sources)} lines) and {target} ({len(targets)} lines) are not line-aligned")
    source_column = options.get("source_column", "source")
    target_column = options.get("target_column", "target")
    skipped = 0
    for number, (source_line, target_line) in enumerate(zip(sources, targets), 1):
        if not source_line.strip() or not target_line.strip():
            skipped += 1
            continue
        yield str(number), {source_column: source_line.strip(), target_column: target_line.strip()}
    if skipped:
        log.info("%s: %d line pair(s) with a blank side skipped", path, skipped)
