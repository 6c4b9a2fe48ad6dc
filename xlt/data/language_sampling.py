"""Single-language batches for multilingual training (thesis §3.3.3, §3.4.3).

:class:`SmoothedLanguageBatchSampler` draws each batch's language l with probability proportional to
min(n_l, cap)^alpha (MAD-G's multilingual MLM: cap 500,000 sequences, alpha = 0.5, §3.4.3), then the
batch from that language's examples (a per-language seeded permutation, reshuffled when used up).
Like :class:`~xlt.data.sampling.EpochBatchSampler`, the order is a function of (seed, epoch) only
and batches are lists of ``(epoch, index)`` pairs for :class:`~xlt.data.sampling.EpochIndexed`.

:class:`LanguageTaggedCollator` collates a single-language batch and records its language under
``batch["lang"]``, which the per-batch language-module switch reads (xlt.training.switching).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

LANG_KEY = "lang"


def smoothed_probabilities(sizes: Mapping[str, int], alpha: float = 0.5, cap: int | None = 500_000) -> dict[str, float]:
    """p(l) proportional to min(n_l, cap)^alpha (§3.4.3)."""
    weights = {lang: float(min(n, cap) if cap else n) ** alpha for lang, n in sizes.items() if n > 0}
    total = sum(weights.values())
    if not total:
        raise ValueError("no language has any examples")
    return {lang: weight / total for lang, weight in weights.items()}


class SmoothedLanguageBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of one language each; the language of each batch is sampled with smoothed probabilities.

    ``groups`` maps each language to the indices of its examples in the concatenated dataset.
    ``num_batches`` (per epoch) defaults to the capped example count divided by the batch size.
    """

    def __init__(self, groups: Mapping[str, Sequence[int]], batch_size: int, seed: int = 0, alpha: float = 0.5,
                 cap: int | None = 500_000, num_batches: int | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.groups = {lang: indices for lang, indices in groups.items() if len(indices)}
        self.languages = sorted(self.groups)
        self.batch_size, self.seed = batch_size, seed
        self.probabilities = smoothed_probabilities({lang: len(ix) for lang, ix in self.groups.items()}, alpha, cap)
        capped = sum(min(len(ix), cap) if cap else len(ix) for ix in self.groups.values())
        self.num_batches = num_batches or max(1, math.ceil(capped / batch_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> Sampler:
        """Lightning calls ``set_epoch`` on ``dataloader.batch_sampler.sampler``, never on the batch
        sampler itself: exposing ourselves there makes every epoch get its own order (and masks)."""
        return self

    def __len__(self) -> int:
        return self.num_batches

    def iterate(self, epoch: int) -> Iterator[tuple[str, list[int]]]:
        """The epoch's batches as (language, example indices), generated lazily."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        weights = torch.tensor([self.probabilities[lang] for lang in self.languages], dtype=torch.float64)
        choices = torch.multinomial(weights, self.num_batches, replacement=True, generator=generator)
        orders: dict[str, torch.Tensor] = {}
        cursors: dict[str, int] = {}
        for choice in choices.tolist():
            lang = self.languages[choice]
            indices = self.groups[lang]
            batch: list[int] = []
            while len(batch) < min(self.batch_size, len(indices)):
                if lang not in orders or cursors[lang] >= len(indices):  # (re)shuffle this language's pool
                    orders[lang] = torch.randperm(len(indices), generator=generator)
                    cursors[lang] = 0
                take = min(self.batch_size - len(batch), len(indices) - cursors[lang])
                batch.extend(indices[i] for i in orders[lang][cursors[lang]:cursors[lang] + take].tolist())
                cursors[lang] += take
            yield lang, batch

    def batches(self, epoch: int) -> list[tuple[str, list[int]]]:
        return list(self.iterate(epoch))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for _, batch in self.iterate(self.epoch):
            yield [(self.epoch, i) for i in batch]


class LanguageTaggedCollator:
    """Collates a batch whose examples all carry the same ``lang`` and adds ``batch["lang"]``."""

    def __init__(self, collate: Callable[[Sequence[dict[str, Any]]], dict[str, Any]], key: str = LANG_KEY):
        self.collate, self.key = collate, key

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        languages = {example.get(self.key) for example in examples}
        if len(languages) != 1 or None in languages:
            raise ValueError(f"a batch must hold examples of exactly one language, got {sorted(map(str, languages))}")
        batch = self.collate([{k: v for k, v in example.items() if k != self.key} for example in examples])
        batch[self.key] = languages.pop()
        return batch


class LanguageTagged(Sequence[dict[str, Any]]):
    """A lazy view of ``examples`` with ``lang`` added to each (no copy of the underlying examples)."""

    def __init__(self, examples: Sequence[dict[str, Any]], lang: str, key: str = LANG_KEY):
        self.examples, self.lang, self.key = examples, lang, key

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        return {**self.examples[index], self.key: self.lang}


class Concatenated(Sequence[dict[str, Any]]):
    """A lazy concatenation of example sequences (indices run through them in order)."""

    def __init__(self, parts: Sequence[Sequence[dict[str, Any]]]):
        self.parts = list(parts)
        self.offsets = [0]
        for part in self.parts:
            self.offsets.append(self.offsets[-1] + len(part))

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        part = bisect.bisect_right(self.offsets, index) - 1
        return self.parts[part][index - self.offsets[part]]


def tag_language(examples: Sequence[dict[str, Any]], lang: str, key: str = LANG_KEY) -> LanguageTagged:
    """``examples`` marked with their language (lazily)."""
    return LanguageTagged(examples, lang, key)
