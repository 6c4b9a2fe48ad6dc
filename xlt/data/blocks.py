"""MLM token blocks in a compact (memory-mappable) array, for corpora too large for Python lists.

Multilingual MLM over many Wikipedias (MAD-G, §3.4.3: up to 500,000 sequences of 256 tokens per
language) does not fit in lists of Python ints. :func:`build_blocks` tokenises a stream of texts,
concatenates the ids and cuts them into blocks of ``max_seq_length`` tokens (special tokens
included), stopping as soon as ``max_blocks`` blocks exist, into an int32 array;
:class:`TokenBlocks` serves them as the same example dicts ``MLMFamily.preprocess`` produces
(``input_ids``, ``attention_mask``, ``special_tokens_mask``), and can live on disk (``save`` /
``load(mmap=True)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlt.config import check_number
from xlt.errors import DataError


@dataclass
class MLMConfig:
    """MLM settings of language modules (``lang_module.mlm``; thesis §4.4.2, §3.4.3): block length,
    masking rate and the held-out split (see xlt.tasks.mlm for what each costs)."""

    family: str = "mlm"
    max_seq_length: int = 256
    mlm_probability: float = 0.15
    heldout_fraction: float = 0.05
    max_heldout_blocks: int | None = None  # None: the whole held-out part; N: its first N blocks
    # high-resource languages (data.high_resource): 1% held out, validated every 5,000 steps (§4.4.2)
    high_resource_heldout_fraction: float = 0.01
    high_resource_eval_every: int | None = 5000
    untie_output_embeddings: bool = True  # decouple + freeze the output matrix (§4.4.2)

    def validate(self, where: str) -> None:
        check_number(self.max_seq_length, f"{where}.max_seq_length", minimum=8, integer=True)
        check_number(self.mlm_probability, f"{where}.mlm_probability", above=0, below=1)
        for name in ("heldout_fraction", "high_resource_heldout_fraction"):
            check_number(getattr(self, name), f"{where}.{name}", minimum=0, below=1)
        check_number(self.max_heldout_blocks, f"{where}.max_heldout_blocks", minimum=1, integer=True, optional=True)
        check_number(self.high_resource_eval_every, f"{where}.high_resource_eval_every", minimum=1, integer=True,
                     optional=True)


class TokenBlocks(Sequence[dict[str, Any]]):
    """Blocks of token ids: row i holds ``lengths[i]`` ids (padded with 0 after that)."""

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, prefix: int, suffix: int):
        self.ids, self.lengths, self.prefix, self.suffix = ids, lengths, prefix, suffix

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        n = int(self.lengths[index])
        body = n - self.prefix - self.suffix
        return {"input_ids": self.ids[index, :n].tolist(), "attention_mask": [1] * n,
                "special_tokens_mask": [1] * self.prefix + [0] * body + [1] * self.suffix}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in range(len(self)):
            yield self[index]

    def subset(self, indices: Sequence[int]) -> TokenBlocks:
        order = np.asarray(indices, dtype=np.int64)
        return TokenBlocks(np.asarray(self.ids[order]), np.asarray(self.lengths[order]), self.prefix, self.suffix)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        np.save(path.with_suffix(".ids.npy"), self.ids)
        np.save(path.with_suffix(".lengths.npy"), self.lengths)
        (path.with_suffix(".affixes")).write_text(f"{self.prefix} {self.suffix}\n")

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> TokenBlocks:
        path = Path(path)
        mode = "r" if mmap else None
        prefix, suffix = (int(x) for x in path.with_suffix(".affixes").read_text().split())
        return cls(np.load(path.with_suffix(".ids.npy"), mmap_mode=mode),
                   np.load(path.with_suffix(".lengths.npy"), mmap_mode=mode), prefix, suffix)


def build_blocks(texts: Iterable[str], tokenizer: Any, max_seq_length: int, prefix: Sequence[int],
                 suffix: Sequence[int], max_blocks: int | None = None, chunk: int = 1000,
                 where: str = "corpus") -> TokenBlocks:
    """Tokenise ``texts`` into blocks of ``max_seq_length`` tokens: prefix + ids + suffix."""
    width = max_seq_length - len(prefix) - len(suffix)
    if width < 1:
        raise DataError(f"{where}: max_seq_length {max_seq_length} leaves no room for text")
    rows: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.int32)
    pending: list[str] = []

    def flush(final: bool) -> None:
        nonlocal carry
        if pending:
            encoded = tokenizer(pending, add_special_tokens=False)["input_ids"]
            pending.clear()
            pieces = [carry, *(np.asarray(ids, dtype=np.int32) for ids in encoded)]
            carry = np.concatenate(pieces)
        full = len(carry) // width
        if full:
            rows.append(carry[:full * width].reshape(full, width))
            carry = carry[full * width:]
        if final and len(carry):
            rows.append(np.concatenate([carry, np.full(width - len(carry), -1, np.int32)])[None])
            carry = carry[:0]

    def count() -> int:
        return sum(r.shape[0] for r in rows)

    for text in texts:
        if not text or not text.strip():
            continue
        pending.append(text)
        if len(pending) >= chunk:
            flush(final=False)
            if max_blocks is not None and count() >= max_blocks:
                break
    flush(final=True)
    body = np.concatenate(rows) if rows else np.zeros((0, width), np.int32)
    if max_blocks is not None:
        body = body[:max_blocks]
    if not len(body):
        raise DataError(f"{where}: no text to build MLM blocks from")
    text_lengths = (body >= 0).sum(1)  # only the last block can be shorter than ``width``
    lengths = (text_lengths + len(prefix) + len(suffix)).astype(np.int32)
    ids = np.zeros((len(body), max_seq_length), np.int32)
    ids[:, :len(prefix)] = prefix
    full = text_lengths == width
    ids[full, len(prefix):len(prefix) + width] = body[full]
    ids[full, len(prefix) + width:len(prefix) + width + len(suffix)] = suffix
    for row in np.flatnonzero(~full):
        n = int(text_lengths[row])
        ids[row, len(prefix):len(prefix) + n] = body[row, :n]
        ids[row, len(prefix) + n:len(prefix) + n + len(suffix)] = suffix
    return TokenBlocks(ids, lengths, len(prefix), len(suffix))
