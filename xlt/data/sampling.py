"""Seeded batch samplers whose order depends only on (seed, epoch).

The order is a pure function of the seed and the epoch number, so a run resumed from a
checkpoint sees exactly the batches an uninterrupted run would: :meth:`EpochBatchSampler.resume_at`
makes the next pass start mid-epoch, after the batches the interrupted run had consumed
(xlt.training.resume sets it from the checkpoint). Each batch is a list of
``(epoch, index)`` pairs; :class:`EpochIndexed` turns them into examples that carry a
per-example seed (used, e.g., by MLM masking) independent of the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


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
