"""Exact global top-K selection over many tensors in bounded extra memory (thesis §4.3.1).

LT-SFT keeps the K entries with the largest |theta1 - theta0| across *all* maskable tensors.
The reference code gathers every value into a Python list and calls ``np.partition``
(minutes and gigabytes for mBERT). Here scores are produced chunk by chunk and the K-th
largest value is found by a two-pass radix select on the IEEE-754 bit patterns (for
non-negative float32 values the int32 bit pattern is order-preserving), so the extra memory
is O(chunk_size) plus the boolean masks. A third pass builds the masks; ties at the
threshold are broken deterministically by tensor order, then by flat row-major index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

ScoreFn = Callable[[str, int, int], torch.Tensor]
"""score(name, start, end) -> float tensor of the flat entries [start, end) of tensor ``name``."""

DEFAULT_CHUNK = 2**22
_HIGH_BITS = 15  # bits >> 15 leaves the top 16 bits of a non-negative float32 (sign bit is 0)


def _bits(scores: torch.Tensor) -> torch.Tensor:
    scores = scores.detach().to(torch.float32).flatten()
    if not torch.isfinite(scores).all() or (scores < 0).any():
        raise ValueError("selection scores must be finite and non-negative")
    return scores.view(torch.int32).to(torch.int64)


def _chunks(numels: Mapping[str, int], chunk_size: int):
    for name, numel in numels.items():
        for start in range(0, numel, chunk_size):
            yield name, start, min(start + chunk_size, numel)


def topk_masks(
    numels: Mapping[str, int],
    score: ScoreFn,
    k: int,
    chunk_size: int = DEFAULT_CHUNK,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Boolean flat masks with exactly ``k`` True entries: the k highest scores overall.

    ``numels`` gives, in tie-breaking order, each tensor's number of entries; ``score`` is
    called once per chunk per pass (three passes). Masks live on ``device`` (default: the
    device of the scores).
    """
    total = sum(numels.values())
    if not 0 <= k <= total:
        raise ValueError(f"k={k} must lie in [0, {total}] (the number of selectable entries)")

    def scores_bits(name: str, start: int, end: int) -> torch.Tensor:
        return _bits(score(name, start, end))

    # Pass 1: histogram of the high 16 bits; find the bucket holding the k-th largest value.
    high_hist = None
    for name, start, end in _chunks(numels, chunk_size):
        bits = scores_bits(name, start, end)
        hist = torch.bincount(bits >> _HIGH_BITS, minlength=1 << 16)
        high_hist = hist if high_hist is None else high_hist + hist.to(high_hist.device)
    if k == 0:
        threshold, above = None, 0
    else:
        assert high_hist is not None
        from_top = high_hist.flip(0).cumsum(0)
        bucket = (1 << 16) - 1 - int(torch.searchsorted(from_top, torch.tensor(k, device=from_top.device)))
        above_bucket = int(high_hist[bucket + 1:].sum())
        # Pass 2: histogram of the low 15 bits inside that bucket.
        low_hist = torch.zeros(1 << _HIGH_BITS, dtype=torch.int64, device=high_hist.device)
        for name, start, end in _chunks(numels, chunk_size):
            bits = scores_bits(name, start, end)
            inside = bits[(bits >> _HIGH_BITS) == bucket] & ((1 << _HIGH_BITS) - 1)
            low_hist += torch.bincount(inside, minlength=1 << _HIGH_BITS).to(low_hist.device)
        need = k - above_bucket
        low_from_top = low_hist.flip(0).cumsum(0)
        low = (1 << _HIGH_BITS) - 1 - int(torch.searchsorted(low_from_top, torch.tensor(need, device=low_hist.device)))
        threshold = (bucket << _HIGH_BITS) | low
        above = above_bucket + int(low_hist[low + 1:].sum())

    # Pass 3: masks = strictly above the threshold, plus the first (k - above) ties in order.
    ties_left = k - above
    masks: dict[str, torch.Tensor] = {}
    for name, numel in numels.items():
        masks[name] = torch.zeros(numel, dtype=torch.bool, device=device)
    for name, start, end in _chunks(numels, chunk_size):
        if threshold is None:
            break
        bits = scores_bits(name, start, end)
        chosen = bits > threshold
        if ties_left > 0:
            tie_positions = torch.nonzero(bits == threshold).flatten()[:ties_left]
            chosen[tie_positions] = True
            ties_left -= len(tie_positions)
        masks[name][start:end] = chosen.to(masks[name].device)
    return masks


def abs_diff_scores(after: Mapping[str, torch.Tensor], before: Mapping[str, torch.Tensor]) -> ScoreFn:
    """Score |after - before| for LT-SFT, computed chunk by chunk in float32."""

    def score(name: str, start: int, end: int) -> torch.Tensor:
        new = after[name].detach().flatten()[start:end].to(torch.float32)
        old = before[name].detach().flatten()[start:end].to(device=new.device, dtype=torch.float32)
        return (new - old).abs_()

    return score


STAGE_IDENTITY_KEYS = ("kind", "lang", "task", "source", "data")
"""The entries of a training request's ``meta`` that say which module a stage trains: its role
(``kind``: language / task), its language, or its task and source language(s), or its training data."""


def stage_seed(seed: int, meta: Mapping[str, Any], purpose: str) -> int:
    """The seed of one stage's random draw (``purpose``: e.g. ``"rand_sft"``), from the run seed and
    the stage's identity (:data:`STAGE_IDENTITY_KEYS` of ``meta``).

    Modules that are composed must draw independent random selections: with the run seed alone,
    every language SFT and the task SFT of an experiment would get the same random mask (100%
    overlap where independent masks overlap by about K_A K_B / N), which biases the rand-SFT
    ablation of Table 4.2 / Figure 4.2, since overlap is what makes composed SFTs interfere (§4.5.2).
    The same stage in another run, or in a resumed build, gets the same seed. (A request whose meta
    names no identity, as in library use outside the pipeline, is seeded by ``seed`` and ``purpose``.)"""
    identity = {key: meta[key] for key in STAGE_IDENTITY_KEYS if meta.get(key) is not None}
    text = json.dumps({"seed": int(seed), "purpose": purpose, **identity}, sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def random_scores(seed: int, order: Sequence[str], device: torch.device | str | None = None) -> ScoreFn:
    """I.i.d. uniform scores, reproducible per (seed, tensor, chunk): top-K of them is a uniform K-subset.
    Pass a :func:`stage_seed`, so that different stages draw independently."""
    position = {name: i for i, name in enumerate(order)}

    def score(name: str, start: int, end: int) -> torch.Tensor:
        chunk_seed = int(hashlib.sha256(f"{seed}:{position[name]}:{start}".encode()).hexdigest()[:15], 16)
        generator = torch.Generator(device="cpu").manual_seed(chunk_seed)
        return torch.rand(end - start, generator=generator).to(device or "cpu")

    return score
