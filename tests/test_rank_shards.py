"""Batches sharded by rank (issue 16, item 3): every rank's part of the same global batches, so that
multi-source batches keep one language per step on every rank, the epoch order depends on the seed
only, resume is exact mid-epoch and the (smoothed, upsampled) mixture is the one process's."""

from __future__ import annotations

import pytest
import torch

from xlt.data.mixture import MixtureBatchSampler, MixtureDataset, SamplingConfig, TagLanguage
from xlt.data.sampling import (
    PADDING_KEY,
    EpochBatchSampler,
    EpochIndexed,
    MarkPadding,
    Padding,
    RankShardData,
    RankShards,
    rank_share,
)


def _mixture(seed: int = 3) -> MixtureBatchSampler:
    return MixtureBatchSampler([10, 7, 3], 4, upsampling=[1, 2, 1], seed=seed,
                               sampling=SamplingConfig(policy="smoothed"))


@pytest.mark.parametrize("make", [lambda: EpochBatchSampler(11, 4, seed=5), _mixture])
@pytest.mark.parametrize("world", [2, 3])
def test_the_ranks_parts_make_up_the_global_batches(make, world):
    for epoch in (0, 1):
        shards = [RankShards(make(), rank, world) for rank in range(world)]
        for shard in shards:
            shard.set_epoch(epoch)
        single = list(make().batches(epoch))
        parts = [list(shard) for shard in shards]
        assert all(len(p) == len(single) == len(shards[0]) for p in parts)
        for step, batch in enumerate(single):
            joined = [item for p in parts for item in p[step] if not isinstance(item, Padding)]
            assert joined == batch  # the same items, in order: nothing lost, nothing repeated
            if isinstance(batch[0], tuple) and len(batch[0]) == 3:  # mixture: (epoch, source, index)
                assert {item[1] for p in parts for item in p[step] if not isinstance(item, Padding)} \
                    == {batch[0][1]}  # one language in the step, on every rank


def test_resume_mid_epoch_is_exact_on_every_rank():
    full = [list(RankShards(_mixture(), rank, 2)) for rank in range(2)]
    for rank in range(2):
        resumed = RankShards(_mixture(), rank, 2)
        resumed.resume_at(0, 5)  # resume_at counts global batches
        assert list(resumed) == full[rank][5:]


def test_a_rank_without_items_gets_a_padding_stand_in_weighed_zero():
    (stand_in,) = rank_share([7], 1, 2)
    assert isinstance(stand_in, Padding) and stand_in.item == 7
    assert rank_share([1, 2, 3], 0, 2) == [1, 2] and rank_share([1, 2, 3], 1, 2) == [3]
    dataset = RankShardData(EpochIndexed([{"x": 1}, {"x": 2}], 0))
    collate = MarkPadding(lambda examples: {"x": torch.tensor([e["x"] for e in examples])})
    padded = collate([dataset[Padding((0, 1))]])
    assert padded[PADDING_KEY] is True and padded["x"].tolist() == [2]
    assert PADDING_KEY not in collate([dataset[(0, 0)]])
    # the language tag of a multi-source batch survives the marker
    mixture = RankShardData(MixtureDataset([("a", [{"x": 1}]), ("b", [{"x": 2}])]))
    tagged = MarkPadding(TagLanguage(lambda examples: {"x": torch.tensor([e["x"] for e in examples])}))
    assert tagged([mixture[Padding((0, 1, 0))]])[PADDING_KEY] is True


def test_rank_must_be_in_the_world():
    with pytest.raises(ValueError, match="rank 2"):
        RankShards(EpochBatchSampler(4, 2), 2, 2)
