"""Seeded batch samplers whose order depends only on (seed, epoch).

The order is a pure function of the seed and the epoch number, so a run resumed from a
checkpoint sees exactly the batches an uninterrupted run would. Each batch is a list of
``(epoch, index)`` pairs; :class:`EpochIndexed` turns them into examples that carry a
per-example seed (used, e.g., by MLM masking) independent of the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``batch_size`` indices of ``range(size)``, shuffled per epoch with ``seed``."""

    def __init__(self, size: int, batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> Sampler:
        """Lightning calls ``set_epoch`` on ``dataloader.batch_sampler.sampler``, never on the batch
        sampler itself: exposing ourselves there makes every epoch get its own order (and masks)."""
        return self

    def __len__(self) -> int:
        return self.size // self.batch_size if self.drop_last else math.ceil(self.size / self.batch_size)

    def order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.size, generator=generator).tolist()

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = self.order(self.epoch)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield [(self.epoch, i) for i in order[start:start + self.batch_size]]


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
