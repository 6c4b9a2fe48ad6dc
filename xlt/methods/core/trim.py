"""SFTs under vocabulary reduction (thesis §5.3.2): the rows of an SFT's vocabulary-indexed tensors are
sliced exactly as xlt.models.vocabulary slices the model, so a language or task SFT of the teacher applies
to the trimmed teacher (apply-then-trim equals trim-then-apply)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from math import prod

import torch

from xlt.errors import ArtifactError
from xlt.methods.core.sft import INT32_LIMIT, SparseDelta, SparseFineTuning
from xlt.models.vocabulary import VocabularyReduction


def _row_numel(shape: tuple[int, ...]) -> int:
    return prod(shape[1:]) if len(shape) > 1 else 1


def trim_sft(sft: SparseFineTuning, reduction: VocabularyReduction, names: Iterable[str] | None = None,
             base_hash: str | None = None) -> SparseFineTuning:
    """The SFT for the trimmed model: rows of dropped tokens removed, kept rows re-indexed.

    ``names``: the diff/abs tensors whose first dimension is the vocabulary (default: every tensor
    with ``reduction.old_size`` rows, e.g. ``embeddings.word_embeddings.weight`` and the MLM biases).
    Flat row-major indices ``row * row_numel + offset`` become ``new_row * row_numel + offset``;
    entries of dropped rows disappear. ``base_hash``: the trimmed base's weights hash, recorded so
    ``check_base`` accepts the trimmed model (without it the untrimmed hash moves to
    ``meta["untrimmed_base_hash"]``).
    """
    shapes = {name: delta.shape for name, delta in sft.diffs.items()}
    shapes.update({name: tuple(t.shape) for name, t in sft.abs.items()})
    if names is None:
        chosen = {name for name, shape in shapes.items() if shape and shape[0] == reduction.old_size}
    else:
        chosen = set(names)
        for name in chosen:
            if name not in shapes:
                continue
            if not shapes[name] or shapes[name][0] != reduction.old_size:
                raise ArtifactError(f"SFT tensor {name!r} has shape {shapes[name]}, not {reduction.old_size} rows")
    mapping = reduction.old_to_new()
    index = reduction.index()
    diffs: dict[str, SparseDelta] = {}
    for name, delta in sft.diffs.items():
        if name not in chosen:
            diffs[name] = delta
            continue
        shape = (reduction.new_size, *delta.shape[1:])
        if delta.indices is None:
            diffs[name] = SparseDelta(shape, delta.values.reshape(delta.shape).index_select(0, index).clone())
            continue
        row_numel = _row_numel(delta.shape)
        flat = delta.indices.long()
        new_rows = mapping[flat // row_numel]
        keep = new_rows >= 0
        new_flat = new_rows[keep] * row_numel + flat[keep] % row_numel
        dtype = torch.int32 if prod(shape) < INT32_LIMIT else torch.int64
        diffs[name] = SparseDelta(shape, delta.values[keep].clone(), new_flat.to(dtype))
    abs_tensors = {name: (t.index_select(0, index.to(t.device)).clone() if name in chosen else t)
                   for name, t in sft.abs.items()}
    meta = dict(sft.meta)
    meta["vocabulary"] = reduction.fingerprint()
    if "base_hash" in meta:
        meta["untrimmed_base_hash"] = meta.pop("base_hash")
    if base_hash is not None:
        meta["base_hash"] = base_hash
    return SparseFineTuning(diffs, abs_tensors, meta)


def trim_sfts(sfts: Mapping[str, SparseFineTuning], reduction: VocabularyReduction,
              names: Iterable[str] | None = None, base_hash: str | None = None) -> dict[str, SparseFineTuning]:
    """:func:`trim_sft` for each SFT of a mapping (e.g. language -> language SFT)."""
    chosen = None if names is None else list(names)
    return {key: trim_sft(sft, reduction, chosen, base_hash) for key, sft in sfts.items()}
