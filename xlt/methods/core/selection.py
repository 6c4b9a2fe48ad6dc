"""Exact global top-K selection over many tensors in bounded extra memory (thesis §4.3.1).

LT-SFT keeps the K entries with the largest |theta1 - theta0| across *all* maskable tensors.
The reference code gathers every value into a Python list and calls ``np.partition``
(minutes and gigabytes for mBERT). Here scores are produced block by block and never held
all at once; the result is exactly K entries, ties at the threshold broken deterministically
by tensor order, then by flat row-major index (the order of a stable sort of
(-score, tensor, index)).

Fast path, one pass over the scores (a sample select in the manner of Floyd and Rivest):

1. A uniform random sample of about a million scores brackets the K-th largest value t_K: with
   r = K/N, the sample's order statistics at ranks r m -+ 6 sd (sd = sqrt(m r (1 - r))) give
   ``hi`` and ``lo`` such that lo <= t_K <= hi except with probability ~1e-9.
2. One pass writes ``score > hi`` straight into the masks, counts those entries, and keeps the
   few *candidates* with lo <= score <= hi (about 12 sd / m of N: 0.3% at mBERT's 8%), with their
   positions.
3. If #above <= K <= #above + #candidates, the top K are everything above plus the best
   K - #above candidates by (-score, position); otherwise (a missed bracket, or more candidates
   than the cap, e.g. a mass of tied scores) the exact fallback runs.

Fallback (always exact): a radix select on the IEEE-754 bit patterns (for non-negative float32
values the int32 bit pattern is order-preserving; read through an int32 view, never widened): a
histogram of the high 16 bits finds the bucket of t_K, which then serves as the bracket of step 2;
if that bucket alone holds too many entries, a histogram of its low 15 bits gives t_K exactly, and
a last pass takes everything above it and the first ties in order.

Extra memory: per worker one block of float32 scores and one of booleans (``chunk_size`` entries),
plus the candidates and the sample; the masks are the output. On the CPU every per-block operation
runs through NumPy views of the same memory, and the blocks are shared among
``torch.get_num_threads()`` Python threads (NumPy releases the GIL): the corresponding torch
kernels are several times slower there for comparisons and index search, and each of them is an
OpenMP region whose barrier costs milliseconds when the cores are shared with other jobs. Other
devices use torch operations, one block after another.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

ScoreFn = Callable[[str, int, int], torch.Tensor]
"""score(name, start, end) -> float tensor of the flat entries [start, end) of tensor ``name``.

A score source may also offer ``into(name, start, end, out)`` (write the block's float32 scores into
the float32 tensor ``out`` and return it: no allocation per block), ``at(name, positions)`` (the
float32 scores at flat positions: the point sample of the bracket; without it the sample is taken in
contiguous runs, which is as exact but brackets correlated scores less tightly) and ``device``."""

DEFAULT_CHUNK = 2**22
"""Entries per block of a plain score function. rand-SFT's random scores are drawn per block, so this
also fixes its masks."""
CACHE_BLOCK = 2**18
"""Entries per block for sources that write into a buffer (LT-SFT's |theta1 - theta0|): 1 MiB of
float32, so that the block's several passes stay in the core's cache."""
SAMPLE_SIZE = 2**20
MIN_CANDIDATE_CAP = 2**16  # the bracket pass gives up beyond max(this, 4 x the expected candidates)
BUCKET_CANDIDATE_CAP = 2**22  # the fallback's bracket pass runs when the radix bucket holds at most this many
_SIGMAS = 6.0  # half-width of the sample bracket, in standard deviations of the sample rank
_SAMPLE_SEED = 0x5E1EC7
_HIGH_BITS = 15  # bits >> 15 leaves the top 16 bits of a non-negative float32 (sign bit is 0)
_LOW_MASK = (1 << _HIGH_BITS) - 1
_NUMPY_KERNELS = True  # NumPy kernels for CPU scores (tests switch them off to run the torch kernels on the CPU)


def _float_of_bits(bits: int) -> float:
    return float(np.array([bits], dtype=np.int32).view(np.float32)[0])


def _check(low: float, high: float) -> None:
    if not (low >= 0 and high < math.inf):  # NaN fails both
        raise ValueError("selection scores must be finite and non-negative")


class _Scratch:
    """One worker's reused buffers (sized for the largest block on first use)."""

    def __init__(self, size: int, device: torch.device):
        self.size, self.device = size, device
        self._floats: torch.Tensor | None = None
        self._flags: np.ndarray | None = None
        self._ints: np.ndarray | None = None
        self.histogram: torch.Tensor | None = None

    def floats(self, n: int) -> torch.Tensor:
        if self._floats is None:
            self._floats = torch.empty(self.size, dtype=torch.float32, device=self.device)
        return self._floats[:n]

    def flags(self, n: int) -> np.ndarray:
        if self._flags is None:
            self._flags = np.empty(self.size + 8, dtype=np.bool_)
        return self._flags[:n]

    def ints(self, n: int) -> np.ndarray:
        if self._ints is None:
            self._ints = np.empty(self.size, dtype=np.int32)
        return self._ints[:n]


class _Blocks:
    """The blocks of scores, read (and validated) into a worker's buffer."""

    def __init__(self, numels: Mapping[str, int], score: ScoreFn, chunk_size: int):
        self.numels = dict(numels)
        self.score = score
        self.chunk_size = chunk_size
        self.names = list(self.numels)
        self.spans = [(t, start, min(start + chunk_size, numel))
                      for t, numel in enumerate(self.numels.values()) for start in range(0, numel, chunk_size)]
        self.buffer_size = min(chunk_size, max(self.numels.values(), default=1))

    def device(self) -> torch.device:
        device = getattr(self.score, "device", None)
        if device is None and self.spans:
            t, start, end = self.spans[0]
            device = self.score(self.names[t], start, min(end, start + 1)).device
        return torch.device(device or "cpu")

    def read(self, t: int, start: int, end: int, scratch: _Scratch) -> torch.Tensor:
        name = self.names[t]
        into = getattr(self.score, "into", None)
        if into is not None:
            scores = into(name, start, end, scratch.floats(end - start))
        else:
            scores = self.score(name, start, end).detach().to(torch.float32).reshape(-1).contiguous()
        if scores.numel() != end - start:
            raise ValueError(f"score({name!r}, {start}, {end}) gave {scores.numel()} values")
        if scores.numel():
            if scores.device.type == "cpu":
                values = scores.numpy()
                _check(float(values.min()), float(values.max()))
            else:
                low, high = torch.aminmax(scores)
                _check(float(low), float(high))
        return scores

    def sample(self, size: int) -> np.ndarray:
        """About ``size`` scores drawn uniformly, stratified by tensor (each tensor's share in proportion
        to its size, which brackets at least as tightly as a simple random sample). The seed is fixed;
        the selection does not depend on the sample, only its speed does."""
        total = sum(self.numels.values())
        generator = torch.Generator().manual_seed(_SAMPLE_SEED)
        at = getattr(self.score, "at", None)
        run = 1 if at is not None else max(1, min(4096, size // 256))  # contiguous runs without ``at``
        parts = [np.zeros(0, dtype=np.float32)]
        for name, numel in self.numels.items():
            draws = math.floor(size * numel / total / run + float(torch.rand((), generator=generator)))
            if draws == 0:
                continue
            if at is not None:
                positions = torch.randint(numel, (draws,), generator=generator)
                parts.append(at(name, positions).detach().to(torch.float32).reshape(-1).cpu().numpy())
                continue
            for start in torch.randint(max(1, numel - run + 1), (draws,), generator=generator).tolist():
                parts.append(self.score(name, start, min(numel, start + run)).detach().to(torch.float32)
                             .reshape(-1).cpu().numpy())
        values = np.concatenate(parts)
        if values.size:
            _check(float(values.min()), float(values.max()))
        return values


def _bracket(sample: np.ndarray, k: int, total: int, exact: bool) -> tuple[float, float, int]:
    """(lo, hi, expected candidates) around the K-th largest of ``total`` entries, from a sample
    (or from all of them when ``exact``: then lo = hi = the K-th largest value)."""
    m = sample.size
    if m == 0:
        return -math.inf, math.inf, total
    if exact:
        value = float(np.partition(sample, m - k)[m - k])
        return value, value, 0
    centre = k / total * m - 1  # sample rank (0-based, from the top) of the K-th largest value
    spread = _SIGMAS * math.sqrt(m * (k / total) * (1 - k / total)) + 1
    top, bottom = math.floor(centre - spread), math.ceil(centre + spread)
    ranks = [m - 1 - rank for rank in (top, bottom) if 0 <= rank < m]  # ascending positions
    ordered = np.partition(sample, ranks) if ranks else sample
    hi = float(ordered[m - 1 - top]) if top >= 0 else math.inf
    lo = float(ordered[m - 1 - bottom]) if bottom < m else -math.inf
    return lo, hi, int(total * (min(bottom, m - 1) - max(top, 0) + 1) / m)


class _Selection:
    """One top-K selection: the masks, and the passes that fill them."""

    def __init__(self, blocks: _Blocks, k: int, workers: int):
        self.blocks = blocks
        self.k = k
        self.device = blocks.device()
        self.cpu = self.device.type == "cpu" and _NUMPY_KERNELS
        self.workers = max(1, workers) if self.cpu else 1
        # every pass writes every entry, so the masks need no zeroing (and pages are touched once)
        self.masks = {name: torch.empty(numel, dtype=torch.bool, device=self.device)
                      for name, numel in blocks.numels.items()}
        self._local = threading.local()
        self._scratches: list[_Scratch] = []
        self._lock = threading.Lock()

    def _scratch(self) -> _Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _Scratch(self.blocks.buffer_size, self.device)
            with self._lock:
                self._scratches.append(scratch)
        return scratch

    def _each_block(self, visit: Callable[[int, int, int, _Scratch], Any]) -> Iterator[Any]:
        """visit(tensor, start, end, scratch) for every block; results in block order."""
        spans = self.blocks.spans
        if self.workers == 1 or len(spans) == 1:
            yield from (visit(*span, self._scratch()) for span in spans)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            yield from pool.map(lambda span: visit(*span, self._scratch()), spans)

    # ------------------------------------------------------------------ kernels (NumPy on the CPU)
    def _above(self, scores: torch.Tensor, threshold: float, mask: torch.Tensor) -> int:
        """mask = scores > threshold; returns the count."""
        if self.cpu:
            out = mask.numpy()
            np.greater(scores.numpy(), np.float32(threshold), out=out)
            return int(np.count_nonzero(out))
        torch.gt(scores, threshold, out=mask)
        return int(torch.count_nonzero(mask))

    def _between(self, scores: torch.Tensor, lo: float, hi: float, mask: torch.Tensor,
                 scratch: _Scratch) -> tuple[np.ndarray, np.ndarray]:
        """(positions, scores) of the entries with lo <= score <= hi (``mask`` holds score > hi)."""
        if not self.cpu:
            positions = torch.nonzero((scores >= lo) & (scores <= hi)).flatten()
            return positions.cpu().numpy(), scores[positions].cpu().numpy()
        values = scores.numpy()
        n = values.size
        padded = -(-n // 8) * 8
        flags = scratch.flags(padded)
        np.greater_equal(values, np.float32(lo), out=flags[:n])
        np.logical_xor(flags[:n], mask.numpy(), out=flags[:n])
        flags[n:] = False
        words = np.flatnonzero(flags.view(np.uint64) != 0)  # candidates are rare: look 8 flags at a time
        if not words.size:
            return words, values[:0]
        positions = (words[:, None] * 8 + np.arange(8)).ravel()
        positions = positions[flags[positions]]
        return positions, values[positions]

    def _high_bits(self, scores: torch.Tensor, scratch: _Scratch) -> torch.Tensor:
        """The top 16 bits of each score's int32 pattern (-0.0, sign bit set, goes to 0.0's bucket)."""
        if self.cpu:
            bits = scratch.ints(scores.numel())
            np.right_shift(scores.numpy().view(np.int32), _HIGH_BITS, out=bits)
            np.maximum(bits, 0, out=bits)
            return torch.from_numpy(bits)
        return torch.clamp_min_(scores.view(torch.int32) >> _HIGH_BITS, 0)

    # ------------------------------------------------------------------ passes
    def bracket_pass(self, lo: float, hi: float, cap: int) -> bool:
        """Fill the masks from a bracket lo <= t_K <= hi (steps 2-3 of the module docstring); False
        (masks undefined) when the bracket misses or more than ``cap`` candidates fall inside."""
        stop = threading.Event()
        totals = {"above": 0, "candidates": 0}

        def visit(t: int, start: int, end: int, scratch: _Scratch) -> tuple[np.ndarray, np.ndarray] | None:
            if stop.is_set():
                return None
            scores = self.blocks.read(t, start, end, scratch)
            mask = self.masks[self.blocks.names[t]][start:end]
            above = self._above(scores, hi, mask)
            positions, values = self._between(scores, lo, hi, mask, scratch)
            with self._lock:
                totals["above"] += above
                totals["candidates"] += positions.size
                if totals["above"] > self.k or totals["candidates"] > cap:
                    stop.set()
            return positions + start, values

        found = [(t, result) for (t, _, _), result in zip(self.blocks.spans, self._each_block(visit))
                 if result is not None and result[0].size]
        need = self.k - totals["above"]
        if stop.is_set() or need > totals["candidates"]:
            return False
        if need:
            values = np.concatenate([values for _, (_, values) in found])
            # the need-th largest candidate; all above it, and the first ties in (tensor, index) order,
            # which is the candidates' order
            last = values.size - need
            threshold = np.partition(values, last)[last]
            chosen = values > threshold
            ties = np.flatnonzero(values == threshold)[: need - int(np.count_nonzero(chosen))]
            chosen[ties] = True
            offset = 0
            for t, (positions, _) in found:
                picked = positions[chosen[offset:offset + positions.size]]
                offset += positions.size
                if picked.size:
                    mask = self.masks[self.blocks.names[t]]
                    if self.cpu:
                        mask.numpy()[picked] = True
                    else:
                        mask[torch.from_numpy(picked).to(self.device)] = True
        return True

    def radix_bucket(self) -> tuple[int, int, int]:
        """Pass over the high 16 bits: (the bucket of t_K, entries above it, entries in it)."""

        def visit(t: int, start: int, end: int, scratch: _Scratch) -> None:
            bits = self._high_bits(self.blocks.read(t, start, end, scratch), scratch)
            counts = torch.bincount(bits, minlength=1 << 16).cpu()
            scratch.histogram = counts if scratch.histogram is None else scratch.histogram.add_(counts)

        for scratch in self._scratches:
            scratch.histogram = None
        for _ in self._each_block(visit):
            pass
        histogram = sum(s.histogram for s in self._scratches if s.histogram is not None)
        assert isinstance(histogram, torch.Tensor)
        from_top = histogram.flip(0).cumsum(0)
        bucket = (1 << 16) - 1 - int(torch.searchsorted(from_top, torch.tensor(self.k)))
        return bucket, int(histogram[bucket + 1:].sum()), int(histogram[bucket])

    def exact_threshold(self, bucket: int, above_bucket: int) -> tuple[float, int]:
        """Pass over the low 15 bits inside ``bucket``: (t_K, entries above it)."""
        histogram = torch.zeros(1 << _HIGH_BITS, dtype=torch.int64)
        scratch = self._scratch()
        for t, start, end in self.blocks.spans:
            scores = self.blocks.read(t, start, end, scratch)
            inside = self._high_bits(scores, scratch) == bucket
            if self.cpu:
                low_bits = torch.from_numpy(scores.numpy().view(np.int32)[inside.numpy()] & _LOW_MASK)
            else:
                low_bits = scores.view(torch.int32)[inside] & _LOW_MASK
            histogram += torch.bincount(low_bits, minlength=1 << _HIGH_BITS).cpu()
        from_top = histogram.flip(0).cumsum(0)
        low = _LOW_MASK - int(torch.searchsorted(from_top, torch.tensor(self.k - above_bucket)))
        return _float_of_bits((bucket << _HIGH_BITS) | low), above_bucket + int(histogram[low + 1:].sum())

    def threshold_pass(self, threshold: float, above: int) -> None:
        """Everything above ``threshold`` plus the first ties in (tensor, index) order."""
        ties_left = self.k - above
        scratch = self._scratch()
        for t, start, end in self.blocks.spans:
            scores = self.blocks.read(t, start, end, scratch)
            mask = self.masks[self.blocks.names[t]][start:end]
            self._above(scores, threshold, mask)
            if ties_left > 0:
                if self.cpu:
                    ties = np.flatnonzero(scores.numpy() == np.float32(threshold))[:ties_left]
                    mask.numpy()[ties] = True
                else:
                    ties = torch.nonzero(scores == threshold).flatten()[:ties_left]
                    mask[ties] = True
                ties_left -= ties.size if self.cpu else ties.numel()


def topk_masks(
    numels: Mapping[str, int],
    score: ScoreFn,
    k: int,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
    sample_size: int = SAMPLE_SIZE,
    workers: int | None = None,
) -> dict[str, torch.Tensor]:
    """Boolean flat masks with exactly ``k`` True entries: the k highest scores overall.

    ``numels`` gives, in tie-breaking order, each tensor's number of entries; ``score`` is called
    block by block, usually in one pass (module docstring): blocks of ``chunk_size`` entries (default
    :data:`CACHE_BLOCK` for a source with ``into``, else :data:`DEFAULT_CHUNK`). CPU blocks are shared by
    ``workers`` threads (default ``torch.get_num_threads()``). Masks live on ``device`` (default: the CPU)."""
    total = sum(numels.values())
    if not 0 <= k <= total:
        raise ValueError(f"k={k} must lie in [0, {total}] (the number of selectable entries)")
    if k == 0:
        return {name: torch.zeros(numel, dtype=torch.bool, device=device) for name, numel in numels.items()}
    if chunk_size is None:
        chunk_size = CACHE_BLOCK if hasattr(score, "into") else DEFAULT_CHUNK
    blocks = _Blocks(numels, score, chunk_size)
    selection = _Selection(blocks, k, torch.get_num_threads() if workers is None else workers)
    exact = total <= sample_size
    if exact:  # small: the "sample" is every entry, the bracket the K-th value itself
        scratch = selection._scratch()
        sample = np.concatenate([blocks.read(*span, scratch).cpu().numpy() for span in blocks.spans])
    else:
        sample = blocks.sample(sample_size)
    lo, hi, expected = _bracket(sample, k, total, exact)
    cap = total if exact else max(MIN_CANDIDATE_CAP, 4 * expected)
    if not selection.bracket_pass(lo, hi, cap):
        bucket, above_bucket, in_bucket = selection.radix_bucket()
        top = (bucket << _HIGH_BITS) | _LOW_MASK
        if in_bucket > BUCKET_CANDIDATE_CAP or not selection.bracket_pass(
                _float_of_bits(bucket << _HIGH_BITS), _float_of_bits(top), in_bucket):
            selection.threshold_pass(*selection.exact_threshold(bucket, above_bucket))
    target = torch.device(device) if device is not None else torch.device("cpu")
    return {name: mask.to(target) for name, mask in selection.masks.items()}


class AbsDiffScores:
    """|after - before| for LT-SFT, in float32, block by block into a reused buffer (``into``), or at
    sampled positions (``at``). On the CPU, float32 tensors go through NumPy views (module docstring)."""

    def __init__(self, after: Mapping[str, torch.Tensor], before: Mapping[str, torch.Tensor]):
        self.after, self.before = after, before
        self.device = next(iter(after.values())).device if after else torch.device("cpu")

    def _flat(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        new = self.after[name].detach().reshape(-1)
        return new, self.before[name].detach().reshape(-1)

    def __call__(self, name: str, start: int, end: int) -> torch.Tensor:
        out = torch.empty(end - start, dtype=torch.float32, device=self.after[name].device)
        return self.into(name, start, end, out)

    def into(self, name: str, start: int, end: int, out: torch.Tensor) -> torch.Tensor:
        new, old = self._flat(name)
        new, old = new[start:end], old[start:end]
        if out.device.type == "cpu" == new.device.type == old.device.type and \
                new.dtype == old.dtype == torch.float32:
            result = out.numpy()
            np.subtract(new.numpy(), old.numpy(), out=result)
            np.abs(result, out=result)
            return out
        out.copy_(new)  # both rounded to float32 first: the difference of the stored values
        out.sub_(old.to(out.device))
        return out.abs_()

    def at(self, name: str, positions: torch.Tensor) -> torch.Tensor:
        new, old = self._flat(name)
        if new.device.type == "cpu" == old.device.type and new.dtype == old.dtype == torch.float32:
            index = positions.numpy()
            return torch.from_numpy(np.abs(new.numpy()[index] - old.numpy()[index]))
        return (new[positions.to(new.device)].float() - old[positions.to(old.device)].float().to(new.device)).abs_()


def abs_diff_scores(after: Mapping[str, torch.Tensor], before: Mapping[str, torch.Tensor]) -> AbsDiffScores:
    """Score |after - before| for LT-SFT (:class:`AbsDiffScores`)."""
    return AbsDiffScores(after, before)


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
    """I.i.d. uniform scores, reproducible per (seed, tensor, block of :data:`DEFAULT_CHUNK`): top-K of
    them is a uniform K-subset. Pass a :func:`stage_seed`, so that different stages draw independently."""
    position = {name: i for i, name in enumerate(order)}

    def score(name: str, start: int, end: int) -> torch.Tensor:
        chunk_seed = int(hashlib.sha256(f"{seed}:{position[name]}:{start}".encode()).hexdigest()[:15], 16)
        generator = torch.Generator(device="cpu").manual_seed(chunk_seed)
        return torch.rand(end - start, generator=generator).to(device or "cpu")

    score.device = torch.device(device or "cpu")  # type: ignore[attr-defined]
    return score
