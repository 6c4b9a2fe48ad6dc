"""Exact global top-K selection (LT-SFT §4.3.1) and random selection (rand-SFT)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import compose_config
from xlt.methods.core.selection import abs_diff_scores, stage_seed, topk_masks
from xlt.methods.core.sft import SparseFineTuning
from xlt.methods.sparse.ltsft import lottery_ticket_masks, maskable_parameters
from xlt.methods.sparse.rand_sft import random_masks


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


# ---------------------------------------------------------------------------- rand-SFT: one draw per stage
def overlap_check(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], numels: dict[str, int]) -> tuple[int, float]:
    """(|A n B|, its distance from K_A K_B / N in standard deviations of the hypergeometric law that
    two independent uniform subsets of sizes K_A, K_B of N entries follow)."""
    n = sum(numels.values())
    k_a = sum(len(a[name]) for name in numels if name in a)
    k_b = sum(len(b[name]) for name in numels if name in b)
    both = sum(len(set(a[name].tolist()) & set(b[name].tolist())) for name in numels if name in a and name in b)
    mean = k_a * k_b / n
    std = math.sqrt(k_a * k_b * (n - k_a) * (n - k_b) / (n * n * (n - 1)))
    return both, (both - mean) / std


def _indices(masks: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: torch.nonzero(mask).flatten() for name, mask in masks.items()}


def test_stage_seed_depends_on_the_stage_identity_and_is_reproducible():
    language = {"kind": "language", "lang": "gn", "base_hash": "x"}
    assert stage_seed(1, language, "rand_sft") == stage_seed(1, {**language, "base_model": "y"}, "rand_sft")
    seeds = {stage_seed(1, language, "rand_sft"), stage_seed(2, language, "rand_sft"),
             stage_seed(1, {**language, "lang": "quy"}, "rand_sft"), stage_seed(1, language, "spiel"),
             stage_seed(1, {"kind": "task", "task": "nli", "source": "en"}, "rand_sft"),
             stage_seed(1, {"kind": "task", "task": "nli", "source": "en,es"}, "rand_sft")}
    assert len(seeds) == 6
    shapes = {"a": torch.Size([300, 40]), "b": torch.Size([8000])}
    numels = {name: shape.numel() for name, shape in shapes.items()}
    gn = random_masks(shapes, 1000, stage_seed(1, language, "rand_sft"))
    again = random_masks(shapes, 1000, stage_seed(1, dict(language), "rand_sft"))
    assert all(torch.equal(gn[name], again[name]) for name in shapes)
    task = random_masks(shapes, 3000, stage_seed(1, {"kind": "task", "task": "nli", "source": "en"}, "rand_sft"))
    quy = random_masks(shapes, 1000, stage_seed(1, {**language, "lang": "quy"}, "rand_sft"))
    for other in (task, quy):
        both, z = overlap_check(_indices(gn), _indices(other), numels)
        assert abs(z) < 5, (both, z)


def test_rand_sft_language_and_task_masks_of_one_experiment_are_independent(tmp_path, cache_dir, monkeypatch):
    """Table 4.2's rand-SFT ablation on the smoke profile: the language SFTs (en, gn, quy) and the task SFT
    of one run overlap as independent uniform masks would, and each mask is the one its identity draws."""
    from xlt.pipeline.experiment import Experiment
    from xlt.pipeline.run import run_experiment
    from xlt.tasks import build_task

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", "lang_module=rand_sft", "task_module=rand_sft",
                 "data.targets=[gn,quy]", "trainer.max_steps_per_phase=1", "lang_module.train.batch_size=4"]
    cfg = compose_config(overrides, tmp_path / "root")
    results = run_experiment(cfg, tmp_path / "run")
    sfts = {label: SparseFineTuning.load(Path(results["artifacts"][label]) / "sft.safetensors")
            for label in ("lang/en", "lang/gn", "lang/quy", "task")}
    exp = Experiment(cfg, tmp_path / "x")
    model = build_task(exp.task_cfg, exp.tokenizer).build_model(exp.model_path, exp.model)
    for param in model.parameters():
        param.requires_grad_(True)
    maskable = maskable_parameters(model.body, include_layer_norm=False)
    numels = {name: p.numel() for name, p in maskable.items()}
    indices = {label: {name: d.flat_indices() for name, d in sft.diffs.items()} for label, sft in sfts.items()}
    for label, sft in sfts.items():  # K entries, all of them maskable entries of the body
        assert set(sft.diffs) <= set(numels) and sft.num_entries == sft.meta["k"], label
    for a, b in (("lang/gn", "task"), ("lang/en", "task"), ("lang/gn", "lang/quy"), ("lang/en", "lang/gn")):
        both, z = overlap_check(indices[a], indices[b], numels)
        assert abs(z) < 5, (a, b, both, z)
    # the same identity draws the same mask (another run, a resumed build)
    for label, sft in sfts.items():
        masks = random_masks({n: p.shape for n, p in maskable.items()}, sft.meta["k"],
                             stage_seed(exp.seed, sft.meta, "rand_sft"))
        assert all(torch.equal(indices[label][name].long(), torch.nonzero(masks[name]).flatten())
                   for name in sft.diffs), label


def test_spiel_initial_indices_are_drawn_per_stage(tmp_path):
    """Table 7.2's composition of a Tulu v2 and a GPT4-Alpaca SpIEL module: the two start from independent
    random indices (eq. 7.6), not the same ones; the same stage draws the same indices again."""
    from tests.spiel_helpers import TinyMLP
    from tests.test_spiel_lightning import Regression, collate, examples
    from xlt.eval.metrics import MeanLoss
    from xlt.methods import TrainRequest
    from xlt.methods.spiel.config import SpielConfig
    from xlt.methods.spiel.procedure import train_spiel
    from xlt.schedule import Schedule
    from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

    def initial_indices(data: str) -> dict[str, torch.Tensor]:
        fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False), LoggerConfig(csv=False),
                        tmp_path / data, "t", 0)
        cfg = SpielConfig(method="spiel_ag", rank=None, num_trainable=150, interval=20, window=5)
        request = TrainRequest(Regression(TinyMLP(d_hidden=60, seed=0), None, MeanLoss),
                               examples(8, 0), {}, collate, Schedule(lr=0.01, batch_size=4, max_steps=1), fitter,
                               seed=0, reference_params=None, meta={"kind": "task", "task": "instruct", "data": data})
        module, summary = train_spiel(cfg, request)
        assert summary["updates"] == 0  # one step, no drop/grow yet: the indices are the initial ones
        return {name: delta.flat_indices() for name, delta in module.sft.diffs.items()}

    tulu, alpaca = initial_indices("tulu_v2"), initial_indices("gpt4_alpaca")
    assert all(torch.equal(tulu[name], initial) for name, initial in initial_indices("tulu_v2").items())
    both = mean = variance = 0.0
    numels = {"up.weight": 12 * 60, "down.weight": 60 * 6}
    for name, n in numels.items():  # per layer: two independent uniform subsets of fixed sizes
        k_a, k_b = len(tulu[name]), len(alpaca[name])
        both += len(set(tulu[name].tolist()) & set(alpaca[name].tolist()))
        mean += k_a * k_b / n
        variance += k_a * k_b * (n - k_a) * (n - k_b) / (n * n * (n - 1))
    assert abs(both - mean) < 5 * math.sqrt(variance), (both, mean)


# ---------------------------------------------------------------------------- the one-pass sample select
def _sorted_reference(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Vectorised brute force for large inputs: a stable sort of -score keeps (tensor, index) order."""
    flat = torch.cat([s.flatten().float() for s in scores.values()])
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    mask[torch.sort(-flat, stable=True).indices[:k]] = True
    return dict(zip(scores, torch.split(mask, [s.numel() for s in scores.values()])))


class _Source:
    """A score source with the optional ``into`` (buffer) and ``at`` (point sample) of the fast path;
    ``sample_bias`` multiplies the point sample, to make the bracket miss on purpose."""

    def __init__(self, scores: dict[str, torch.Tensor], sample_bias: float = 1.0):
        self.scores, self.sample_bias = scores, sample_bias

    def __call__(self, name: str, start: int, end: int) -> torch.Tensor:
        return self.scores[name].flatten()[start:end]

    def into(self, name: str, start: int, end: int, out: torch.Tensor) -> torch.Tensor:
        return out.copy_(self.scores[name].flatten()[start:end])

    def at(self, name: str, positions: torch.Tensor) -> torch.Tensor:
        return self.scores[name].flatten()[positions] * self.sample_bias


def _passes(monkeypatch) -> list[str]:
    """Record which passes of the selection run."""
    from xlt.methods.core import selection

    ran: list[str] = []
    for name in ("bracket_pass", "radix_bucket", "exact_threshold", "threshold_pass"):
        method = getattr(selection._Selection, name)

        def spy(self, *args, _method=method, _name=name):
            ran.append(_name)
            return _method(self, *args)

        monkeypatch.setattr(selection._Selection, name, spy)
    return ran


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=5), data=st.data(),
       levels=st.integers(1, 1000), chunk=st.integers(1, 70), sample_size=st.integers(1, 40),
       workers=st.integers(1, 3), source=st.sampled_from(["plain", "into_at", "biased"]),
       kernels=st.sampled_from(["numpy", "torch"]), tiny_caps=st.booleans())
def test_sampled_topk_equals_brute_force(sizes, data, levels, chunk, sample_size, workers, source, kernels,
                                         tiny_caps):
    """The sampled bracket (total > sample_size), its fallbacks and both kernel sets pick exactly the
    brute force's entries, ties included; ``biased`` makes the sample lie, so the bracket misses, and
    ``tiny_caps`` sends the selection through the radix passes to the exact-threshold pass."""
    from xlt.methods.core import selection

    scores = {f"t{i}": torch.tensor(data.draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)),
                                    dtype=torch.float32) / 7 for i, n in enumerate(sizes)}
    k = data.draw(st.integers(0, sum(sizes)))
    score = {"plain": lambda n, a, b: scores[n][a:b], "into_at": _Source(scores),
             "biased": _Source(scores, sample_bias=data.draw(st.sampled_from([0.0, 0.5, 3.0])))}[source]
    saved = {name: getattr(selection, name) for name in ("_NUMPY_KERNELS", "MIN_CANDIDATE_CAP", "BUCKET_CANDIDATE_CAP")}
    selection._NUMPY_KERNELS = kernels == "numpy"
    if tiny_caps:
        selection.MIN_CANDIDATE_CAP = selection.BUCKET_CANDIDATE_CAP = 0
    try:
        masks = topk_masks({n: s.numel() for n, s in scores.items()}, score, k, chunk_size=chunk,
                           sample_size=sample_size, workers=workers)
    finally:
        for name, value in saved.items():
            setattr(selection, name, value)
    expected = _brute_force(scores, k)
    assert sum(int(m.sum()) for m in masks.values()) == k
    for name in scores:
        assert torch.equal(masks[name], expected[name])


def test_large_selection_takes_one_pass_and_is_exact(monkeypatch):
    """Above the sample size the selection reads the scores once (the sampled bracket holds), with
    the default blocks, and agrees with a full stable sort."""
    ran = _passes(monkeypatch)
    generator = torch.Generator().manual_seed(0)
    before = {"emb": torch.randn(3000, 768, generator=generator), "w": torch.randn(768, 768, generator=generator),
              "b": torch.randn(768, generator=generator)}
    after = {n: t + 1e-3 * torch.randn(t.shape, generator=generator) for n, t in before.items()}
    after["emb"][:1000] = before["emb"][:1000]  # untouched rows: exact zeros
    k = 200_000
    masks = lottery_ticket_masks(after, before, k)
    assert ran == ["bracket_pass"]
    expected = _sorted_reference({n: (after[n] - before[n]).abs() for n in after}, k)
    assert all(torch.equal(masks[n], expected[n]) for n in after)


def test_tied_threshold_falls_back_to_the_exact_radix_passes(monkeypatch):
    """A mass of equal scores at the K-th value overflows the candidate caps: the radix passes find
    the threshold and the ties are taken in (tensor, index) order."""
    from xlt.methods.core import selection

    ran = _passes(monkeypatch)
    monkeypatch.setattr(selection, "MIN_CANDIDATE_CAP", 10)
    monkeypatch.setattr(selection, "BUCKET_CANDIDATE_CAP", 10)
    generator = torch.Generator().manual_seed(1)
    scores = {"a": torch.rand(30_000, generator=generator), "b": torch.full((40_000,), 0.25),
              "c": torch.rand(30_000, generator=generator)}
    scores["c"][::3] = 0.25
    k = sum(int((s > 0.25).sum()) for s in scores.values()) + 20_000  # 0.25, tied 50,000 times, is the K-th value
    masks = topk_masks({n: s.numel() for n, s in scores.items()}, _Source(scores), k, sample_size=4096)
    assert ran == ["bracket_pass", "radix_bucket", "exact_threshold", "threshold_pass"]
    expected = _sorted_reference(scores, k)
    assert all(torch.equal(masks[n], expected[n]) for n in scores)


def test_missed_bracket_falls_back_to_the_radix_bucket(monkeypatch):
    """A sample that misrepresents the scores (here: all zero) leaves too many candidates; the radix
    bucket of the K-th value is the exact bracket of a second pass."""
    from xlt.methods.core import selection

    ran = _passes(monkeypatch)
    monkeypatch.setattr(selection, "MIN_CANDIDATE_CAP", 10)
    generator = torch.Generator().manual_seed(2)
    scores = {"a": torch.rand(40_000, generator=generator), "b": torch.rand(7, 300, generator=generator)}
    masks = topk_masks({n: s.numel() for n, s in scores.items()}, _Source(scores, sample_bias=0.0), 1234,
                       sample_size=1000)
    assert ran == ["bracket_pass", "radix_bucket", "bracket_pass"]
    expected = _sorted_reference(scores, 1234)
    assert all(torch.equal(masks[n], expected[n]) for n in scores)


def test_negative_zero_ties_with_zero():
    scores = {"a": torch.tensor([0.0, -0.0, 1.0, -0.0, 0.0]), "b": torch.tensor([-0.0, 2.0])}
    for sample_size in (1, 100):
        masks = topk_masks({"a": 5, "b": 2}, _Source(scores), 4, sample_size=sample_size)
        assert masks["a"].tolist() == [True, True, True, False, False] and masks["b"].tolist() == [False, True]


def test_selection_rejects_non_finite_or_negative_scores():
    import pytest

    for bad in (float("nan"), float("inf"), -1.0):
        scores = {"a": torch.rand(5000), "b": torch.rand(100)}
        scores["b"][17] = bad
        for sample_size in (10, 10**6):  # the sampled and the exact path
            with pytest.raises(ValueError, match="finite and non-negative"):
                topk_masks({"a": 5000, "b": 100}, _Source(scores), 50, sample_size=sample_size)


def test_random_masks_unchanged_by_the_one_pass_selection():
    """rand-SFT masks (hence artifacts) are the ones the former three-pass radix select drew (hashes
    computed with it): same per-block random scores, same exact top-K and tie order."""
    import hashlib

    shapes = {"emb": torch.Size([3_000_000]), "w": torch.Size([1_200_000]), "b": torch.Size([700])}
    for k, digest in ((123_457, "336dccafe6a40585"), (2_000_000, "b1fc0b7d00a032f2")):
        masks = random_masks(shapes, k, seed=7)
        assert hashlib.sha256(b"".join(m.numpy().tobytes() for m in masks.values())).hexdigest()[:16] == digest
