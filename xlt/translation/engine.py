"""Translating task data record by record, field by field, resumably (thesis §6.3.1 step 2, §6.4.2).

:func:`translate_records` translates the text ``fields`` of every record (premise and hypothesis
separately for NLI, the text for SA) into the target language and returns the records with those
fields replaced and every other column (ids, labels, ...) unchanged, in the input order.

* Identical segments are translated once (NLI premises repeat three times; hypotheses repeat too).
* Segments are sorted by token length (longest first) and cut into chunks of ``chunk_size``; each
  chunk is translated in batches (the backend's ``batch_size``) and written to ``work_dir`` as an
  atomically renamed JSONL part file, then ``progress.json`` is updated (atomically). The plan (the
  segments' order and chunking) is a function of the input and settings only, so a killed or
  preempted job started again with the same ``work_dir`` reuses every finished part and translates
  only the rest: no row is dropped or duplicated.
* ``plan.json`` records a key of (segments, languages, backend settings, chunk size); a work dir
  holding another job's parts is refused (ArtifactError) rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xlt.errors import ArtifactError, DataError
from xlt.translation.backends import Translator
from xlt.utils.hashing import stable_hash

log = logging.getLogger(__name__)

PLAN_VERSION = 1


@dataclass
class TranslationStats:
    """What a :func:`translate_records` call did."""

    records: int = 0
    segments: int = 0  # non-empty text fields
    unique_segments: int = 0  # segments actually translated (after de-duplication)
    translated: int = 0  # unique segments translated by this call
    resumed: int = 0  # unique segments taken from parts written by an earlier attempt
    truncated: int = 0  # unique segments longer than the backend's max_input_length
    chunks: int = 0
    seconds: float = 0.0  # time spent translating in this call

    @property
    def segments_per_second(self) -> float:
        return self.translated / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "segments_per_second": self.segments_per_second}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, fsynced and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> None:
    """Records as JSON lines (UTF-8, not ASCII-escaped), written atomically."""
    write_atomic(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _segments(records: Sequence[Mapping[str, Any]], fields: Sequence[str], dedupe: bool,
              where: str) -> tuple[list[str], list[list[int | None]]]:
    """Unique texts to translate, and per record and field the index of its text (None: empty)."""
    texts: list[str] = []
    index: dict[str, int] = {}
    slots: list[list[int | None]] = []
    for number, record in enumerate(records):
        row: list[int | None] = []
        for field in fields:
            if field not in record:
                raise DataError(f"{where}: record {number} has no field {field!r} (fields: {sorted(record)})")
            value = record[field]
            if value is None or (isinstance(value, str) and not value.strip()):
                row.append(None)
                continue
            if not isinstance(value, str):
                raise DataError(f"{where}: record {number} field {field!r} is {type(value).__name__}, not text")
            if dedupe and value in index:
                row.append(index[value])
                continue
            index[value] = len(texts)
            row.append(len(texts))
            texts.append(value)
        slots.append(row)
    return texts, slots


def _texts_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _read_part(path: Path, expected: Sequence[int]) -> list[str] | None:
    """The translations of a finished part file, or None if it does not match the plan's chunk."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, json.JSONDecodeError):
        return None
    if [row.get("i") for row in rows] != list(expected) or not all(isinstance(r.get("t"), str) for r in rows):
        return None
    return [row["t"] for row in rows]


def translate_records(records: Sequence[Mapping[str, Any]], fields: Sequence[str], translator: Translator,
                      src_code: str, tgt_code: str, work_dir: str | Path, chunk_size: int = 4096,
                      dedupe: bool = True, where: str = "data", identity: Mapping[str, Any] | None = None,
                      after_chunk: Callable[[int, int], None] | None = None) -> tuple[list[dict[str, Any]],
                                                                                      TranslationStats]:
    """``records`` with ``fields`` translated from ``src_code`` into ``tgt_code`` (module docstring).

    Empty or missing-text fields (``None``, blank) are kept as they are. ``after_chunk(done, total)``
    is called after each chunk this call writes. ``identity`` (e.g. the NMT model's key) joins the
    plan's key, so a work dir of another model's job is refused too. Returns the translated records (new dicts, input
    order, all other columns unchanged) and statistics."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    work_dir = Path(work_dir)
    texts, slots = _segments(records, fields, dedupe, where)
    stats = TranslationStats(records=len(records), unique_segments=len(texts),
                             segments=sum(slot is not None for row in slots for slot in row))
    lengths = translator.token_lengths(texts)
    stats.truncated = sum(length > translator.settings.max_input_length for length in lengths)
    order = sorted(range(len(texts)), key=lambda j: (-lengths[j], j))
    chunks = [order[start:start + chunk_size] for start in range(0, len(order), chunk_size)]
    stats.chunks = len(chunks)
    plan = {"version": PLAN_VERSION, "texts": _texts_hash(texts), "segments": len(texts), "chunks": len(chunks),
            "chunk_size": chunk_size, "src": src_code, "tgt": tgt_code, "translator": translator.identity(),
            "identity": dict(identity or {})}
    plan_key = stable_hash(plan)
    plan_path = work_dir / "plan.json"
    if plan_path.exists():
        found = json.loads(plan_path.read_text(encoding="utf-8")).get("key")
        if found != plan_key:
            raise ArtifactError(f"{work_dir}: holds the parts of another translation job (plan {found}, this job "
                                f"{plan_key}); remove the directory or give another work dir")
    else:
        write_atomic(plan_path, json.dumps({"key": plan_key, **plan}, indent=1, sort_keys=True))
    parts = work_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.tmp"):  # a killed writer's temporary file
        stale.unlink(missing_ok=True)

    translations: list[str | None] = [None] * len(texts)
    done = 0
    for number, chunk in enumerate(chunks):
        part = parts / f"part-{number:06d}.jsonl"
        previous = _read_part(part, chunk) if part.exists() else None
        if previous is None:
            started = time.perf_counter()
            outputs = translator.translate([texts[j] for j in chunk], src_code, tgt_code)
            stats.seconds += time.perf_counter() - started
            stats.translated += len(chunk)
            write_atomic(part, "".join(json.dumps({"i": j, "t": t}, ensure_ascii=False) + "\n"
                                       for j, t in zip(chunk, outputs)))
        else:
            outputs = previous
            stats.resumed += len(chunk)
        for j, text in zip(chunk, outputs):
            translations[j] = text
        done += 1
        write_atomic(work_dir / "progress.json",
                     json.dumps({"key": plan_key, "chunks_done": done, "chunks": len(chunks),
                                 "segments_done": stats.translated + stats.resumed, "segments": len(texts)}))
        if previous is None:
            log.info("%s -> %s: chunk %d/%d (%d segments)", src_code, tgt_code, number + 1, len(chunks), len(chunk))
            if after_chunk is not None:
                after_chunk(done, len(chunks))

    output = []
    for record, row in zip(records, slots):
        translated = dict(record)
        for field, slot in zip(fields, row):
            if slot is not None:
                translated[field] = translations[slot]
        output.append(translated)
    return output, stats
