"""Seeded batch samplers whose order depends only on (seed, epoch), and seeded subsets of data.

The order is a pure function of the seed and the epoch number, so a run resumed from a
checkpoint sees exactly the batches an uninterrupted run would: :meth:`EpochBatchSampler.resume_at`
makes the next pass start mid-epoch, after the batches the interrupted run had consumed
(xlt.training.resume sets it from the checkpoint). Each batch is a list of
``(epoch, index)`` pairs; :class:`EpochIndexed` turns them into examples that carry a
per-example seed (used, e.g., by MLM masking) independent of the global RNG.

Several processes (DDP, xlt.training.distributed): :class:`RankShards` gives each rank its part of every
batch of such a sampler (the configured batch size is the global batch); every rank sees the same batches,
in the same order, and resumes at the same position. A rank whose part of a (last, short) batch would be
empty gets one example marked as padding (``PADDING_KEY``), which the task model weighs zero.

Subsets (``random`` | ``first``): where the thesis *samples* N items of a larger set (the MAD-G
generator's sequences of a whole Wikipedia dump, §3.4.3; MAD-G-ft's 1k..100k words, §3.5.3;
chapter 3's 12,000 / 600 source sentences, §3.4.3), ``random`` draws them with a generator seeded by
the run seed and names (the stage and the language: :func:`subset_rng`), so a run reproduces its
subset and two languages never share a draw whatever order they are listed in; ``first`` takes the
first N, the reference code's behaviour (chapter 4's ``max_train_samples``).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from xlt.errors import ConfigError

SUBSETS = ("random", "first")
PADDING_KEY = "_rank_padding"  # a collated batch that holds only a stand-in example (RankShards)


class SeededBatchSampler(Sampler[list[Any]]):
    """Base of our batch samplers: the batches of an epoch are a pure function of (seed, epoch).

    Lightning announces each epoch through ``set_epoch`` on ``batch_sampler.sampler`` (never on the
    batch sampler itself), hence the forwarding ``sampler`` attribute; ``resume_at`` makes the next
    pass start mid-epoch after the batches an interrupted run had consumed (xlt.training.resume)."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.epoch = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches already consumed in it)
        self.sampler = _EpochSetter(self)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Make the next pass over ``epoch`` skip its first ``batches_done`` batches (once)."""
        self.epoch = epoch
        self._resume = (epoch, batches_done) if batches_done else None

    def batches(self, epoch: int) -> Iterator[list[Any]]:
        """Every batch of ``epoch``, in order."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[list[Any]]:
        skip = self._resume[1] if self._resume is not None and self._resume[0] == self.epoch else 0
        self._resume = None
        for number, batch in enumerate(self.batches(self.epoch)):
            if number >= skip:
                yield batch


class EpochBatchSampler(SeededBatchSampler):
    """Batches of ``batch_size`` indices of ``range(size)``, shuffled per epoch with ``seed``."""

    def __init__(self, size: int, batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        super().__init__(seed)
        self.size, self.batch_size = size, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last

    def __len__(self) -> int:
        return self.size // self.batch_size if self.drop_last else math.ceil(self.size / self.batch_size)

    def order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def batches(self, epoch: int) -> Iterator[list[tuple[int, int]]]:
        order = self.order(epoch)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield [(epoch, i) for i in order[start:start + self.batch_size]]


def rank_share(batch: Sequence[Any], rank: int, world: int) -> list[Any]:
    """Rank ``rank``'s contiguous part of ``batch`` (sizes differ by at most one, the first ranks get the
    extra items); a rank left without any gets ``[Padding(batch[0])]``."""
    base, extra = divmod(len(batch), world)
    start = rank * base + min(rank, extra)
    part = list(batch[start:start + base + (1 if rank < extra else 0)])
    return part or [Padding(batch[0])]


class Padding:
    """A stand-in item for a rank whose share of a batch is empty: the item it wraps, weighed zero."""

    __slots__ = ("item",)

    def __init__(self, item: Any):
        self.item = item

    def __repr__(self) -> str:
        return f"Padding({self.item!r})"


class RankShards(SeededBatchSampler):
    """Rank ``rank``'s part (:func:`rank_share`) of every batch of ``batches``, a sampler of global batches.

    Every rank draws the same global batches (a pure function of seed and epoch), so they agree on the
    number of batches, on each batch's language in a multi-source mixture (§4.4.4: each step is one language
    on every rank), on the epoch order for a seed and on the resume position (``resume_at`` counts global
    batches); upsampling and the smoothed policy decide global batches, so they are unchanged."""

    def __init__(self, batches: SeededBatchSampler, rank: int, world: int):
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in a world of {world}")
        super().__init__(batches.seed)
        self.global_batches, self.rank, self.world = batches, rank, world

    def __len__(self) -> int:
        return len(self.global_batches)

    def batches(self, epoch: int) -> Iterator[list[Any]]:
        for batch in self.global_batches.batches(epoch):
            yield rank_share(batch, self.rank, self.world)


class RankShardData(Dataset):
    """A dataset that also serves :class:`Padding` items: the wrapped item, marked ``PADDING_KEY``."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: Any) -> dict[str, Any]:
        if isinstance(key, Padding):
            return {**self.dataset[key.item], PADDING_KEY: True}
        return self.dataset[key]


class MarkPadding:
    """Wraps a collate function: a batch holding a :class:`Padding` example gets ``batch[PADDING_KEY] = True``."""

    def __init__(self, collate: Callable[[Sequence[dict[str, Any]]], dict[str, Any]]):
        self.collate = collate

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        padding = any([example.pop(PADDING_KEY, False) for example in examples])
        batch = self.collate(examples)
        if padding:
            batch[PADDING_KEY] = True
        return batch


class _EpochSetter:
    """Forwards ``set_epoch`` to its batch sampler: what Lightning's loops call every epoch."""

    def __init__(self, owner: SeededBatchSampler):
        self.owner = owner

    def set_epoch(self, epoch: int) -> None:
        self.owner.set_epoch(epoch)


class EpochIndexed(Dataset):
    """Wraps a sequence of example dicts; item ``(epoch, i)`` gets ``example_seed`` added."""

    def __init__(self, examples: Sequence[dict[str, Any]], seed: int = 0):
        self.examples, self.seed = examples, seed

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        example = dict(self.examples[index])
        example["example_seed"] = (self.seed * 1_000_003 + epoch) * 10_000_019 + index
        return example


# ---------------------------------------------------------------------------- seeded subsets
def check_subset(value: Any, key: str) -> str:
    """``value`` if it names a subset rule (``random`` | ``first``), else a ConfigError naming ``key``."""
    if value not in SUBSETS:
        raise ConfigError(f"{key}={value!r}: expected random (a seeded sample) or first (the first N)")
    return value


def subset_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the run seed and ``names`` (e.g. ``"madg-ft", "fo"``)."""
    digest = hashlib.blake2b("\x00".join(names).encode(), digest_size=8).digest()
    return np.random.default_rng([seed & 0xFFFF_FFFF_FFFF_FFFF, int.from_bytes(digest, "little")])


def subset_order(total: int, size: int | None, subset: str, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``min(size, total)`` of ``range(total)`` items (``size`` None: all of them): the first
    ones in order (``first``), or a uniform sample without replacement in random order (``random``: the
    prefix of a seeded permutation, so a larger ``size`` extends a smaller one's sample). Only indices are
    drawn: the items themselves are read afterwards (a memory-mapped dataset is never loaded whole)."""
    count = total if size is None else min(size, total)
    if subset == "first":
        return np.arange(count, dtype=np.int64)
    check_subset(subset, "subset")
    return rng.permutation(total)[:count].astype(np.int64)


def first_words(texts: Iterable[str], words: int) -> list[str]:
    """The first ``words`` whitespace-separated words of a corpus, text by text (the last text cut)."""
    kept: list[str] = []
    remaining = words
    for text in texts:
        tokens = text.split()
        if not tokens:
            continue
        if len(tokens) >= remaining:
            kept.append(" ".join(tokens[:remaining]))
            break
        kept.append(" ".join(tokens))
        remaining -= len(tokens)
    return kept


def sample_words(texts: Iterable[str], words: int, rng: np.random.Generator) -> list[str]:
    """A seeded sample of exactly ``words`` words (all of them if the corpus is smaller), drawn from the
    whole corpus in units of lines (a Wikipedia article's paragraphs): the lines of a uniformly random
    order taken until ``words`` words, the last one cut. One pass, memory bounded by the sample: each
    line gets a random key and a heap keeps the lowest-keyed lines that reach ``words`` (the same lines
    a full shuffle would give, so a larger ``words`` extends a smaller one's sample). The result is in
    the sampled (random) order."""
    heap: list[tuple[float, int, list[str]]] = []  # (-key, tie-break, tokens): the largest key on top
    held, counter = 0, 0
    for text in texts:
        lines = [line.split() for line in text.splitlines()]
        lines = [tokens for tokens in lines if tokens]
        if not lines:
            continue
        for key, tokens in zip(rng.random(len(lines)), lines):
            if held >= words and heap and -heap[0][0] <= key:
                continue  # would come after the lines already holding enough words
            heapq.heappush(heap, (-float(key), counter, tokens))
            counter += 1
            held += len(tokens)
            while heap and held - len(heap[0][2]) >= words:  # the largest-keyed line is not needed
                held -= len(heapq.heappop(heap)[2])
    ordered = [tokens for _, _, tokens in sorted(heap, key=lambda item: (-item[0], item[1]))]
    if held > words:  # cut the last (largest-keyed) line to exactly ``words``
        ordered[-1] = ordered[-1][:len(ordered[-1]) - (held - words)]
    return [" ".join(tokens) for tokens in ordered if tokens]
