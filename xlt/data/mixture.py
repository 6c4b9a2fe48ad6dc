"""Multi-source mixtures: single-language batches over several sources (thesis §3.3.3, §4.4.4).

Each batch holds examples of ONE source language. Two policies order the batches of an epoch:

- ``shuffle`` (§4.4.4, the thesis's multi-source task training): source l contributes
  ``ceil(n_l / batch_size) * upsampling_l`` batches (every upsampling repetition a fresh permutation
  of its examples); the epoch is a seeded shuffle of all these batches;
- ``smoothed`` (§3.4.3, MAD-G's multilingual MLM): each batch's language is drawn independently with
  p(l) proportional to min(n_l * upsampling_l, cap)^alpha; each language's examples are consumed in
  seeded permutations, a new one whenever the previous is used up. The epoch has as many batches
  as under ``shuffle``.

Either way the order is a function of (seed, epoch) only, so a resumed run sees the same batches.
Items are ``(epoch, source, index)``; :class:`MixtureDataset` adds ``example_seed`` (as
:class:`~xlt.data.sampling.EpochIndexed`) and :class:`TagLanguage` puts the batch's language under
``batch[LANGUAGE_KEY]`` for the training loop (which switches language modules on it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from xlt.data.sampling import SeededBatchSampler
from xlt.errors import ConfigError

LANGUAGE_KEY = "_language"
POLICIES = ("shuffle", "smoothed")


@dataclass
class SamplingConfig:
    """``data.sampling``: how the batches of a multi-source mixture are ordered."""

    policy: str = "shuffle"  # shuffle | smoothed
    alpha: float = 0.5  # smoothed: exponent
    cap: int = 500000  # smoothed: n_l is capped here before the exponent

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(f"data.sampling.policy={self.policy!r}: expected one of {', '.join(POLICIES)}")
        if self.alpha < 0 or self.cap < 1:
            raise ConfigError("data.sampling: alpha must be >= 0 and cap >= 1")


def smoothed_probabilities(sizes: Sequence[int], alpha: float, cap: int) -> list[float]:
    """p(l) proportional to min(n_l, cap)^alpha (§3.4.3)."""
    weights = [min(n, cap) ** alpha if n > 0 else 0.0 for n in sizes]
    total = sum(weights)
    return [w / total for w in weights]


def _generator(*parts: int) -> torch.Generator:
    seed = 0
    for part in parts:
        seed = (seed * 1_000_003 + int(part)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class MixtureBatchSampler(SeededBatchSampler):
    """Single-source batches of ``(epoch, source, index)`` over sources of the given sizes."""

    def __init__(self, sizes: Sequence[int], batch_size: int, upsampling: Sequence[int] | None = None,
                 seed: int = 0, sampling: SamplingConfig | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.sizes = [int(n) for n in sizes]
        self.upsampling = [int(u) for u in (upsampling or [1] * len(self.sizes))]
        if len(self.upsampling) != len(self.sizes) or any(u < 1 for u in self.upsampling):
            raise ValueError("one upsampling factor >= 1 per source")
        if not self.sizes or any(n < 1 for n in self.sizes):
            raise ValueError("every source needs at least one example")
        super().__init__(seed)
        self.batch_size = batch_size
        self.sampling = sampling or SamplingConfig()

    def batch_counts(self) -> list[int]:
        """Batches per epoch contributed by each source (under ``shuffle``)."""
        return [math.ceil(n / self.batch_size) * u for n, u in zip(self.sizes, self.upsampling)]

    def __len__(self) -> int:
        return sum(self.batch_counts())

    def probabilities(self) -> list[float]:
        sizes = [n * u for n, u in zip(self.sizes, self.upsampling)]
        return smoothed_probabilities(sizes, self.sampling.alpha, self.sampling.cap)

    def source_order(self, epoch: int) -> list[int]:
        """The source of every batch of ``epoch``."""
        if self.sampling.policy == "smoothed":
            weights = torch.tensor(self.probabilities(), dtype=torch.float64)
            draws = torch.multinomial(weights, len(self), replacement=True, generator=_generator(self.seed, epoch, 7))
            return draws.tolist()
        order = [source for source, count in enumerate(self.batch_counts()) for _ in range(count)]
        permutation = torch.randperm(len(order), generator=_generator(self.seed, epoch, 3)).tolist()
        return [order[i] for i in permutation]

    def source_counts(self, num_batches: int) -> list[int]:
        """How many of the first ``num_batches`` batches (over successive epochs) each source gets."""
        counts = [0] * len(self.sizes)
        epoch = 0
        while num_batches > 0:
            for source in self.source_order(epoch)[:num_batches]:
                counts[source] += 1
            num_batches -= len(self)
            epoch += 1
        return counts

    def _stream(self, source: int, epoch: int) -> Iterator[list[int]]:
        """Batches of one source: successive seeded permutations of its examples."""
        n = self.sizes[source]
        cycle = 0
        while True:
            permutation = torch.randperm(n, generator=_generator(self.seed, epoch, source, cycle, 5)).tolist()
            for start in range(0, n, self.batch_size):
                yield permutation[start:start + self.batch_size]
            cycle += 1

    def batches(self, epoch: int) -> Iterator[list[tuple[int, int, int]]]:
        streams = [self._stream(s, epoch) for s in range(len(self.sizes))]
        for source in self.source_order(epoch):
            yield [(epoch, source, i) for i in next(streams[source])]


class MixtureDataset(Dataset):
    """Per-source example lists, indexed by ``(epoch, source, index)``."""

    def __init__(self, sources: Sequence[tuple[str, Sequence[dict[str, Any]]]], seed: int = 0):
        self.sources = list(sources)
        self.seed = seed

    def __len__(self) -> int:
        return sum(len(examples) for _, examples in self.sources)

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, Any]:
        epoch, source, index = key
        lang, examples = self.sources[source]
        example = dict(examples[index])
        example["example_seed"] = ((self.seed * 1_000_003 + epoch) * 10_000_019 + index) * 101 + source
        example[LANGUAGE_KEY] = lang
        return example


class TagLanguage:
    """Wraps a collate function: the batch (all one language) gets ``batch[LANGUAGE_KEY]``."""

    def __init__(self, collate: Callable[[Sequence[dict[str, Any]]], dict[str, Any]]):
        self.collate = collate

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        languages = {example[LANGUAGE_KEY] for example in examples}
        if len(languages) != 1:
            raise ValueError(f"a multi-source batch mixes languages {sorted(languages)}")
        batch = self.collate(examples)
        batch[LANGUAGE_KEY] = languages.pop()
        return batch
