"""Exact global top-K selection (LT-SFT §4.3.1) and random selection (rand-SFT)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xlt.modules.ltsft import lottery_ticket_masks
from xlt.modules.rand_sft import random_masks
from xlt.modules.selection import abs_diff_scores, topk_masks


def _brute_force(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Reference: stable sort of (-score, tensor order, index)."""
    flat = torch.cat([s.flatten() for s in scores.values()])
    order = sorted(range(len(flat)), key=lambda i: (-float(flat[i]), i))[:k]
    mask = torch.zeros(len(flat), dtype=torch.bool)
    mask[order] = True
    out, start = {}, 0
    for name, s in scores.items():
        out[name] = mask[start:start + s.numel()]
        start += s.numel()
    return out


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5), data=st.data(),
       levels=st.integers(1, 6), chunk=st.integers(1, 50))
def test_topk_equals_brute_force_with_ties(sizes, data, levels, chunk):
    # few distinct values -> many ties, which must be broken by tensor order then index
    scores = {f"t{i}": torch.tensor(data.draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)),
                                    dtype=torch.float32) / 7 for i, n in enumerate(sizes)}
    k = data.draw(st.integers(0, sum(sizes)))
    masks = topk_masks({n: s.numel() for n, s in scores.items()}, lambda n, a, b: scores[n][a:b], k, chunk_size=chunk)
    expected = _brute_force(scores, k)
    assert sum(int(m.sum()) for m in masks.values()) == k
    for name in scores:
        assert torch.equal(masks[name], expected[name])


def test_topk_distinct_values_selects_largest():
    torch.manual_seed(0)
    a, b = torch.randn(1000).abs(), torch.randn(37, 11).abs()
    masks = topk_masks({"a": a.numel(), "b": b.numel()},
                       lambda n, s, e: (a if n == "a" else b).flatten()[s:e], 123, chunk_size=97)
    chosen = torch.cat([a[masks["a"]], b.flatten()[masks["b"]]])
    threshold = torch.cat([a, b.flatten()]).topk(123).values.min()
    assert len(chosen) == 123 and bool((chosen >= threshold).all())


def test_lottery_ticket_masks_use_absolute_difference():
    before = {"w": torch.zeros(2, 3), "v": torch.zeros(4)}
    after = {"w": torch.tensor([[0.1, -5.0, 0.0], [0.0, 0.2, 0.0]]), "v": torch.tensor([3.0, 0.0, -0.3, 0.0])}
    masks = lottery_ticket_masks(after, before, 3)
    assert masks["w"].tolist() == [False, True, False, False, False, False]
    assert masks["v"].tolist() == [True, False, True, False]


def test_abs_diff_scores_handles_bf16():
    after = {"w": torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16)}
    before = {"w": torch.tensor([1.0, 0.0, 3.5], dtype=torch.bfloat16)}
    assert abs_diff_scores(after, before)("w", 0, 3).tolist() == [0.0, 2.0, 0.5]


def test_random_masks_exact_reproducible_and_spread():
    shapes = {"a": torch.Size([50, 20]), "b": torch.Size([3000])}
    first = random_masks(shapes, 400, seed=1)
    again = random_masks(shapes, 400, seed=1)
    other = random_masks(shapes, 400, seed=2)
    assert sum(int(m.sum()) for m in first.values()) == 400
    assert all(torch.equal(first[n], again[n]) for n in shapes)
    assert not all(torch.equal(first[n], other[n]) for n in shapes)
    # proportional to size in expectation: a holds 1000/4000 of the entries
    assert 60 < int(first["a"].sum()) < 140


def test_selection_rejects_bad_k():
    import pytest

    with pytest.raises(ValueError):
        topk_masks({"a": 3}, lambda n, s, e: torch.ones(e - s), 4)
