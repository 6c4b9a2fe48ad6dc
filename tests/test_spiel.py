"""SpIEL (thesis §7.3, Appendix E.4): the sparse-delta linear layer, its backward, the budget,
the optimisers, drop/grow, the schedule, and SpIEL-AG/MA bookkeeping against dense references."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.spiel_helpers import TinyMLP, make_batches, spiel_mlp, train
from xlt.methods.spiel.optim import SparseSM3, SpielAdamW
from xlt.methods.spiel.selection import SpielAG, SpielMA, UpdateSchedule, drop_and_grow, top_outer_product
from xlt.methods.spiel.sparse_linear import (
    CSRPattern,
    SpielLinear,
    SpielModules,
    _gathered_delta_grad,
    allocate_budget,
    attach_sft_as_spiel,
    attach_spiel,
    dense_delta_grad,
    find_target_linears,
    lora_equivalent_budget,
    sparse_delta_grad,
)


def dense_reference(linear: nn.Linear, indices: torch.Tensor, values: torch.Tensor):
    """W + scatter(eta, phi) as an autograd graph over a dense copy (what SpIEL must equal)."""
    phi = values.detach().clone().requires_grad_(True)
    weight = linear.weight.detach().reshape(-1).index_add(0, indices.long(), phi).view_as(linear.weight)
    return weight, phi


# ----------------------------------------------------------------------------- the layer
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("grad_mode", ["sparse", "dense"])
def test_sparse_linear_equals_dense_weight_plus_delta(bias, grad_mode):
    torch.manual_seed(0)
    linear = nn.Linear(24, 18, bias=bias)
    indices = torch.randperm(24 * 18)[:60]
    values = torch.randn(60)
    layer = SpielLinear(linear, indices, values)
    layer.grad_mode = grad_mode
    x = torch.randn(3, 7, 24, requires_grad=True)
    weight, phi = dense_reference(linear, indices, values)
    x_ref = x.detach().clone().requires_grad_(True)
    out = layer(x)
    ref = nn.functional.linear(x_ref, weight, None if linear.bias is None else linear.bias.detach())
    assert torch.allclose(out, ref, atol=1e-6)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    ref.backward(upstream)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    order = torch.argsort(indices)  # the layer keeps its entries sorted by index
    assert torch.equal(layer.indices.long(), indices[order])
    assert torch.allclose(layer.values.grad, phi.grad[order], atol=1e-5)
    assert linear.weight.grad is None and (linear.bias is None or linear.bias.grad is None)


def test_delta_of_the_layer_and_no_grad_forward():
    torch.manual_seed(0)
    linear = nn.Linear(5, 4)
    layer = SpielLinear(linear, torch.tensor([3, 0, 19]), torch.tensor([1.0, 2.0, 3.0]))
    expected = torch.zeros(20)
    expected[[3, 0, 19]] = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(layer.delta().reshape(-1), expected)
    x = torch.randn(2, 5)
    with torch.no_grad():
        out = layer(x)
    assert torch.allclose(out, nn.functional.linear(x, linear.weight + expected.view(4, 5), linear.bias), atol=1e-6)
    with pytest.raises(ValueError, match="duplicate"):
        SpielLinear(linear, torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="out of range"):
        SpielLinear(linear, torch.tensor([20]))


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 9), d_in=st.integers(1, 13), d_out=st.integers(1, 11), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 10_000))
def test_sparse_delta_gradient_equals_dense_then_gather(b, d_in, d_out, density, seed):
    """E.4: X[:, c_j] . dY[:, r_j] at the active entries equals gathering from dY^T X."""
    generator = torch.Generator().manual_seed(seed)
    x, dy = torch.randn(b, d_in, generator=generator), torch.randn(b, d_out, generator=generator)
    n = int(density * d_in * d_out)
    flat = torch.sort(torch.randperm(d_in * d_out, generator=generator)[:n]).values
    pattern = CSRPattern.from_flat(flat, (d_out, d_in))
    expected = dense_delta_grad(x, dy).reshape(-1)[flat]
    assert torch.allclose(sparse_delta_grad(x, dy, pattern), expected, atol=1e-5)
    assert torch.allclose(_gathered_delta_grad(x, dy, pattern, chunk_elements=7), expected, atol=1e-5)


def test_sparse_delta_gradient_in_bfloat16_inputs():
    torch.manual_seed(0)
    x, dy = torch.randn(16, 32).bfloat16(), torch.randn(16, 8).bfloat16()
    flat = torch.sort(torch.randperm(256)[:40]).values
    got = sparse_delta_grad(x, dy, CSRPattern.from_flat(flat, (8, 32)))
    assert got.dtype == torch.float32
    assert torch.allclose(got, (dy.float().t() @ x.float()).reshape(-1)[flat], atol=1e-4)


def test_dense_then_gather_baseline_stays_in_the_run_dtype():
    """The thesis's dense X^T dY (eq. 7.4) is computed in the backward pass's dtype, as autograd would:
    a bfloat16 run is not handicapped by a float32 GEMM (issue 14, item 3)."""
    torch.manual_seed(0)
    x, dy = torch.randn(16, 32), torch.randn(16, 8)
    assert dense_delta_grad(x, dy).dtype == torch.float32
    dense = dense_delta_grad(x.bfloat16(), dy.bfloat16())
    assert dense.dtype == torch.bfloat16
    assert torch.allclose(dense.float(), dy.t() @ x, atol=0.1, rtol=0.02)
    assert dense_delta_grad(x, dy.bfloat16()).dtype == torch.bfloat16  # autocast: float32 input, bf16 grad


def test_sparse_mode_takes_phi_gradient_from_the_sparse_kernel_even_in_a_dense_window(monkeypatch):
    """In a bfloat16 run the window's dense gradient is bfloat16; phi's own gradient still comes from
    the float32 sparse kernel, and the window's statistics are kept in float32."""
    torch.manual_seed(0)
    linear = nn.Linear(32, 8).bfloat16()
    layer = SpielLinear(linear, torch.randperm(256)[:40], values_dtype=torch.float32)
    modules = SpielModules(nn.Sequential(layer), {"0": layer})
    selector = SpielAG(modules, SpielAdamW(modules.parameters(), lr=1e-3), UpdateSchedule(10, 5, 2))
    selector.begin_micro_batch(1, True)  # the window's first micro-batch: the dense gradient is observed
    x = torch.randn(16, 32).bfloat16().requires_grad_(True)
    out = layer(x)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    expected = (upstream.float().t() @ x.detach().float()).reshape(-1)[layer.indices.long()]
    assert torch.allclose(layer.values.grad, expected, atol=1e-3)
    window = selector.windows["0"]
    assert window.step_grad.dtype == window.grad_sum.dtype == torch.float32


def test_sampled_addmm_failure_warns_once_with_the_reason(monkeypatch, caplog):
    """The process-wide fallback to the chunked gather is announced once per device, saying why."""
    import logging

    import xlt.methods.spiel.sparse_linear as spiel

    def broken(*args, **kwargs):
        raise RuntimeError("sampled_addmm: no kernel for this backend\nmore detail")

    monkeypatch.setattr(spiel, "_SDDMM_OK", {})
    monkeypatch.setattr(torch.sparse, "sampled_addmm", broken)
    torch.manual_seed(0)
    x, dy = torch.randn(6, 10), torch.randn(6, 7)
    flat = torch.sort(torch.randperm(70)[:20]).values
    pattern = CSRPattern.from_flat(flat, (7, 10))
    with caplog.at_level(logging.WARNING, logger="xlt.methods.spiel.sparse_linear"):
        first = sparse_delta_grad(x, dy, pattern)
        second = sparse_delta_grad(x, dy, pattern)
    warnings = [r.getMessage() for r in caplog.records if "sampled_addmm" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "cpu" in warnings[0] and "RuntimeError" in warnings[0] and "no kernel for this backend" in warnings[0]
    assert "chunked gather" in warnings[0]
    expected = (dy.t() @ x).reshape(-1)[flat]
    assert torch.allclose(first, expected, atol=1e-5) and torch.equal(first, second)


# ----------------------------------------------------------------------------- budget
def test_budget_is_proportional_exact_and_lora_equivalent():
    parts = allocate_budget({"a": 100, "b": 300, "c": 7}, 41)
    assert sum(parts.values()) == 41 and parts["b"] == 3 * parts["a"] or abs(parts["b"] - 3 * parts["a"]) <= 3
    assert all(0 <= parts[n] <= size for n, size in {"a": 100, "b": 300, "c": 7}.items())
    assert allocate_budget({"a": 5, "b": 5}, 10) == {"a": 5, "b": 5}
    with pytest.raises(ValueError):
        allocate_budget({"a": 5}, 6)
    model = TinyMLP(d_in=12, d_hidden=20, d_out=6)
    # LoRA of rank r on up (12->20) and down (20->6): r * ((12 + 20) + (20 + 6))
    assert lora_equivalent_budget(find_target_linears(model), 4) == 4 * (32 + 26)


def test_llama2_7b_lora_equivalent_is_the_thesis_number():
    """§7.4.4 / reference scripts: 2,498,560 trainable parameters per LoRA rank for Llama-2-7B."""
    shapes = {"q_proj": (4096, 4096), "k_proj": (4096, 4096), "v_proj": (4096, 4096), "o_proj": (4096, 4096),
              "gate_proj": (11008, 4096), "up_proj": (11008, 4096), "down_proj": (4096, 11008)}
    per_layer = sum(o + i for o, i in shapes.values())
    assert 32 * per_layer == 2_498_560
    shapes13 = {"q": (5120, 5120), "k": (5120, 5120), "v": (5120, 5120), "o": (5120, 5120),
                "g": (13824, 5120), "u": (13824, 5120), "d": (5120, 13824)}
    assert 40 * sum(o + i for o, i in shapes13.values()) == 3_911_680


def test_attach_spiel_budget_targets_and_freezing():
    model = TinyMLP()
    modules = attach_spiel(model, 50, seed=3)
    assert modules.num_entries == 50
    assert {n: layer.num_entries for n, layer in modules} == allocate_budget({"up": 240, "down": 120}, 50)
    assert isinstance(model.up, SpielLinear) and not model.up.base.weight.requires_grad
    assert all(torch.equal(layer.values, torch.zeros_like(layer.values)) for _, layer in modules)
    again = attach_spiel(TinyMLP(), 50, seed=3)
    assert all(torch.equal(a.indices, b.indices) for (_, a), (_, b) in zip(modules, again))
    only = attach_spiel(TinyMLP(), 10, targets=["down"])
    assert list(only.layers) == ["down"]
    with pytest.raises(ValueError, match="no linear layers"):
        attach_spiel(TinyMLP(), 10, targets=["nothing"])


def test_sft_export_round_trip_and_merge_equals_on_the_fly_delta():
    torch.manual_seed(0)
    model, modules = spiel_mlp()
    with torch.no_grad():
        for _, layer in modules:
            layer.values.normal_()
    x = torch.randn(4, 12)
    with torch.no_grad():
        expected = model(x)
    sft = modules.to_sft({"method": "spiel_ag"})
    assert set(sft.diffs) == {"up.weight", "down.weight"}
    assert all(d.indices.dtype == torch.int32 for d in sft.diffs.values())
    plain = TinyMLP()
    handle = sft.apply(plain, verify_base=False)
    with torch.no_grad():
        assert torch.allclose(plain(x), expected, atol=1e-6)
    handle.remove()
    wrapped = attach_sft_as_spiel(plain, sft)
    with torch.no_grad():
        assert torch.allclose(plain(x), expected, atol=1e-6)
    wrapped.merge()
    assert isinstance(plain.up, nn.Linear)
    with torch.no_grad():
        assert torch.allclose(plain(x), expected, atol=1e-6)


def test_memory_does_not_grow_with_model_size():
    """No dense gradient buffer on any base weight after a step, and the persistent training
    state (trainable tensors, their grads, optimiser state) is the same for a 16x larger model
    with the same d_phi: O(d_phi), not O(d_theta)."""
    def persistent_after_step(width: int) -> int:
        torch.manual_seed(0)
        model = TinyMLP(d_in=12, d_hidden=width, d_out=6)
        modules = attach_spiel(model, 64)
        optimizer = SpielAdamW(modules.parameters(), lr=1e-2)
        loss = model(torch.randn(4, 12)).pow(2).mean()
        loss.backward()
        optimizer.step()
        assert all(p.grad is None for n, p in model.named_parameters() if not n.endswith("values"))
        grads = sum(p.grad.numel() for p in model.parameters() if p.grad is not None)
        state = sum(t.numel() for s in optimizer.state.values() for t in s.values())
        return grads + state + sum(layer.indices.numel() for _, layer in modules)

    small, large = persistent_after_step(20), persistent_after_step(320)
    assert small == large == 64 * 5  # grad + exp_avg + exp_avg_sq + age + indices per entry


# ----------------------------------------------------------------------------- optimisers
def test_spiel_adamw_equals_torch_adamw_when_ages_agree():
    torch.manual_seed(0)
    ours = nn.Parameter(torch.randn(10))
    reference = nn.Parameter(ours.detach().clone())
    a = SpielAdamW([ours], lr=0.05, weight_decay=0.3)
    b = torch.optim.AdamW([reference], lr=0.05, weight_decay=0.3, eps=1e-8)
    for _ in range(4):
        grad = torch.randn(10)
        ours.grad, reference.grad = grad.clone(), grad.clone()
        a.step()
        b.step()
    assert torch.allclose(ours, reference, atol=1e-6)


def test_adam_seeding_reproduces_a_hand_computed_update():
    """A grown entry seeded from a 5-step window (mean grad 0.2, mean squared grad 0.05) takes
    its next step (grad 0.5) as if Adam had seen 5 steps of those statistics (§7.3.1)."""
    param = nn.Parameter(torch.zeros(3))
    optimizer = SpielAdamW([param], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    param.grad = torch.tensor([1.0, 1.0, 1.0])
    optimizer.step()  # every entry has age 1 now
    param.data.zero_()
    optimizer.seed(param, torch.tensor([1]), torch.tensor([0.2]), torch.tensor([0.05]), 5)
    optimizer.reset(param, torch.tensor([2]))
    param.grad = torch.tensor([0.5, 0.5, 0.5])
    optimizer.step()
    # entry 1: m0 = (1 - 0.9^5) 0.2, v0 = (1 - 0.999^5) 0.05, then one Adam step at age 6
    m0, v0 = (1 - 0.9**5) * 0.2, (1 - 0.999**5) * 0.05
    m, v = 0.9 * m0 + 0.1 * 0.5, 0.999 * v0 + 0.001 * 0.25
    seeded = -0.1 * (m / (1 - 0.9**6)) / (math.sqrt(v / (1 - 0.999**6)) + 1e-8)
    # entry 2 (reset): a fresh first step, m_hat = g, v_hat = g^2: update = -lr * g/|g|
    fresh = -0.1 * 0.5 / (0.5 + 1e-8)
    # entry 0: its second ordinary step (ages agree with plain AdamW)
    m1, v1 = 0.1 * 1.0, 0.001 * 1.0
    m2, v2 = 0.9 * m1 + 0.1 * 0.5, 0.999 * v1 + 0.001 * 0.25
    second = -0.1 * (m2 / (1 - 0.9**2)) / (math.sqrt(v2 / (1 - 0.999**2)) + 1e-8)
    assert param.tolist() == pytest.approx([second, seeded, fresh], rel=5e-5)  # float32 arithmetic
    assert optimizer.state[param]["age"].tolist() == [2.0, 6.0, 1.0]


def test_sm3_update_and_growth_score_hand_computed():
    """2x3 weight, active entries (0,0), (0,2), (1,1) = flat 0, 2, 4 (§7.3.2, eq. 7.7)."""
    indices = torch.tensor([0, 2, 4])
    values = nn.Parameter(torch.zeros(3))
    optimizer = SparseSM3([(values, indices, (2, 3))], lr=1.0, eps=0.0)
    values.grad = torch.tensor([1.0, 2.0, 3.0])
    optimizer.step()
    # nu = 0 + g^2 = [1, 4, 9]; r = [max(1, 4), 9]; c = [1, 9, 4]; update = g / sqrt(nu) = 1
    row, col = optimizer.accumulators(values)
    assert row.tolist() == [4.0, 9.0] and col.tolist() == [1.0, 9.0, 4.0]
    assert values.tolist() == pytest.approx([-1.0, -1.0, -1.0])
    values.grad = torch.tensor([2.0, 1.0, 1.0])
    optimizer.step()
    # nu = [min(4, 1) + 4, min(4, 4) + 1, min(9, 9) + 1] = [5, 5, 10]
    assert row.tolist() == [5.0, 10.0] and col.tolist() == [5.0, 10.0, 5.0]
    assert values.tolist() == pytest.approx([-1 - 2 / math.sqrt(5), -1 - 1 / math.sqrt(5), -1 - 1 / math.sqrt(10)])
    # growth score (r_i c_j)^(1/4) over the inactive entries 1 = (0,1), 3 = (1,0), 5 = (1,2)
    row.copy_(torch.tensor([1.0, 4.0]))
    col.copy_(torch.tensor([9.0, 16.0, 25.0]))
    model = nn.Module()
    model.layer = SpielLinear(nn.Linear(3, 2), indices, values.detach().clone())
    modules = SpielModules(model, {"layer": model.layer})
    selector = SpielMA(modules, optimizer, UpdateSchedule(total_steps=100))
    optimizer.layout[model.layer.values] = (model.layer.indices, (2, 3))
    optimizer.state[model.layer.values] = {"row": row, "col": col}
    candidates, scores = selector.growth_candidates(model.layer, 2, indices)
    assert candidates.tolist() == [5, 3]  # products 100 and 36 (16 is third)
    assert scores.tolist() == pytest.approx([100 ** 0.25, 36 ** 0.25])


def _ma_layer_with_accumulators():
    """A 3x4 layer with entries (0,0), (1,1), (2,2) = flat 0, 5, 10; |phi| smallest at flat 5. SM3's
    accumulators make the dropped entry's own (1,1) the best-scoring position (r_1 c_1 = 100), then
    (2,1) = flat 9 (r_2 c_1 = 4), (1,2) = flat 6 (3)."""
    model = nn.Module()
    model.layer = SpielLinear(nn.Linear(4, 3), torch.tensor([0, 5, 10]), torch.tensor([0.5, 0.001, -0.7]))
    modules = SpielModules(model, {"layer": model.layer})
    optimizer = SparseSM3([(model.layer.values, model.layer.indices, model.layer.shape)], lr=0.1, eps=0.0)
    row, col = optimizer.accumulators(model.layer.values)
    row.copy_(torch.tensor([0.1, 10.0, 0.4]))
    col.copy_(torch.tensor([0.2, 10.0, 0.3, 0.1]))
    # xi = 0.5 at step 25 of 100: k = floor(0.5 * 75/100 * 3) = 1
    selector = SpielMA(modules, optimizer, UpdateSchedule(total_steps=100, interval=20, window=5, replace_rate=0.5))
    return model.layer, optimizer, selector


def test_spiel_ma_never_regrows_a_dropped_entry():
    """SpIEL-MA grows only outside eta (§7.3.2; the reference's select_sm3): eq. 7.7 ranks the dropped
    entry's row and column highest, but the entry is replaced, with phi = 0 at the new index."""
    layer, _, selector = _ma_layer_with_accumulators()
    report = selector.update(25)
    assert report.layers["layer"].replaced == report.layers["layer"].dropped == 1
    assert layer.indices.tolist() == [0, 9, 10]
    assert layer.values.tolist() == pytest.approx([0.5, 0.0, -0.7])


def test_sm3_accumulators_survive_drop_and_grow():
    """Algorithm 3 initialises r and c once: drop/grow leaves them, and a grown entry's first SM3 step
    starts from its row's and column's history, nu = min(r_i, c_j) + g^2 (docs/spiel.md)."""
    layer, optimizer, selector = _ma_layer_with_accumulators()
    before = [a.clone() for a in optimizer.accumulators(layer.values)]
    selector.update(25)
    assert all(torch.equal(a, b) for a, b in zip(optimizer.accumulators(layer.values), before))
    layer.values.grad = torch.tensor([1.0, 2.0, 0.5])  # entries (0,0), (2,1) grown, (2,2)
    optimizer.step()
    nu = [min(0.1, 0.2) + 1.0, min(0.4, 10.0) + 4.0, min(0.4, 0.3) + 0.25]
    expected = [0.5 - 0.1 * 1.0 / math.sqrt(nu[0]), -0.1 * 2.0 / math.sqrt(nu[1]), -0.7 - 0.1 * 0.5 / math.sqrt(nu[2])]
    assert layer.values.tolist() == pytest.approx(expected)
    row, col = optimizer.accumulators(layer.values)
    assert row.tolist() == pytest.approx([max(0.1, nu[0]), 10.0, max(0.4, nu[1], nu[2])])
    assert col.tolist() == pytest.approx([max(0.2, nu[0]), max(10.0, nu[1]), max(0.3, nu[2]), 0.1])


def test_sm3_weight_decay_is_decoupled_towards_zero():
    values = nn.Parameter(torch.tensor([2.0]))
    optimizer = SparseSM3([(values, torch.tensor([0]), (1, 1))], lr=0.1, eps=0.0, weight_decay=0.5)
    values.grad = torch.tensor([0.0])
    optimizer.step()
    assert values.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5))


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), k=st.integers(0, 12), chunk=st.integers(1, 30),
       seed=st.integers(0, 1000))
def test_top_outer_product_matches_brute_force(rows, cols, k, chunk, seed):
    generator = torch.Generator().manual_seed(seed)
    row, col = torch.rand(rows, generator=generator), torch.rand(cols, generator=generator)
    exclude = torch.sort(torch.randperm(rows * cols, generator=generator)[: (rows * cols) // 3]).values
    index, score = top_outer_product(row, col, k, exclude, chunk_elements=chunk)
    full = torch.outer(row, col).reshape(-1)
    full[exclude] = -1
    allowed = int((full >= 0).sum())
    expected = torch.sort(full, descending=True).values[: min(k, allowed)]
    assert torch.allclose(score, expected)
    assert not torch.isin(index, exclude).any() and torch.allclose(full[index], score)


# ----------------------------------------------------------------------------- drop / grow
@settings(max_examples=40, deadline=None)
@given(numel=st.integers(4, 60), data=st.data())
def test_drop_and_grow_keeps_budget_no_duplicates(numel, data):
    n = data.draw(st.integers(1, numel - 1))
    k = data.draw(st.integers(0, n))
    seed = data.draw(st.integers(0, 10_000))
    generator = torch.Generator().manual_seed(seed)
    indices = torch.sort(torch.randperm(numel, generator=generator)[:n]).values.int()
    values = torch.randn(n, generator=generator)
    candidates = torch.randperm(numel, generator=generator)[: data.draw(st.integers(0, numel))]
    scores = torch.rand(candidates.numel(), generator=generator)
    result = drop_and_grow(indices, values, k, candidates, scores)
    new = indices.clone()
    new[result.slots] = result.new_indices
    assert new.numel() == n and torch.unique(new).numel() == n  # budget kept, no duplicate
    assert result.slots.numel() == result.new_indices.numel() <= k
    dropped_order = torch.sort(values.abs(), stable=True).indices[:k]
    assert torch.isin(result.slots, dropped_order).all()  # only dropped slots are replaced
    kept = indices[~torch.isin(torch.arange(n), dropped_order)]
    assert not torch.isin(result.new_indices, kept).any() and not torch.isin(result.new_indices, indices).any()
    # the grown entries are the best-scoring candidates that were not retained
    allowed = ~torch.isin(candidates, kept)
    best = candidates[allowed][torch.sort(scores[allowed], descending=True, stable=True).indices[:k]]
    assert set(result.new_indices.tolist()) == set(best.tolist()) - set(indices.tolist())


def test_drop_and_grow_small_case_by_hand():
    indices = torch.tensor([1, 4, 7, 9])
    values = torch.tensor([0.5, -0.01, 0.02, -2.0])
    # drop k=2 smallest |phi|: slots 1 (index 4) and 2 (index 7)
    candidates = torch.tensor([9, 7, 3, 0, 5])  # 9 is retained (not allowed); 7 is dropped but regrown
    scores = torch.tensor([9.0, 5.0, 4.0, 0.0, 1.0])  # 0 has score 0: never grown
    result = drop_and_grow(indices, values, 2, candidates, scores)
    assert result.new_indices.tolist() == [3]  # 7 stays in place, 3 replaces index 4 (smallest |phi|)
    assert result.slots.tolist() == [1]


# ----------------------------------------------------------------------------- schedule
def test_schedule_fires_at_the_right_steps_with_the_right_k():
    schedule = UpdateSchedule(total_steps=100, interval=20, window=5, replace_rate=0.2)
    assert schedule.update_steps() == [5, 25, 45, 65, 85]
    assert [t for t in range(1, 101) if schedule.is_update_step(t)] == [5, 25, 45, 65, 85]
    assert [t for t in range(1, 30) if schedule.in_window(t)] == [1, 2, 3, 4, 5, 21, 22, 23, 24, 25]
    assert [t for t in range(1, 101) if schedule.window_start(t)] == [1, 21, 41, 61, 81]
    assert schedule.num_replacements(5, 1000) == 1000  # the first update replaces everything
    assert schedule.num_replacements(25, 1000) == int(0.2 * (100 - 25) / 100 * 1000) == 150
    assert schedule.num_replacements(85, 1000) == int(0.2 * 15 / 100 * 1000) == 30
    cosine = UpdateSchedule(total_steps=100, kind="cosine")
    assert cosine.num_replacements(25, 1000) == int(0.1 * (1 + math.cos(25 * math.pi / 100)) * 1000) == 170
    short = UpdateSchedule(total_steps=30)
    assert short.update_steps() == [5, 25] and not short.in_window(41)
    assert not UpdateSchedule(total_steps=23).in_window(21)  # the update at 25 would come after T
    with pytest.raises(ValueError):
        UpdateSchedule(total_steps=10, kind="step")


# ----------------------------------------------------------------------------- SpIEL-AG / MA end to end
def _dense_grads(model: nn.Module, modules, batch) -> dict[str, torch.Tensor]:
    """d loss / d W' for every SpIEL layer, from a dense copy of the model."""
    x, y = batch
    weights = {}
    for name, layer in modules:
        weights[name] = layer.merged_weight(layer.values, torch.float32).requires_grad_(True)
    h = torch.tanh(nn.functional.linear(x, weights["up"], model.up.base.bias))
    loss = ((nn.functional.linear(h, weights["down"]) - y) ** 2).mean()
    return dict(zip(weights, torch.autograd.grad(loss, list(weights.values()))))


def test_spiel_ag_window_statistics_equal_dense_references_under_accumulation():
    """Candidates = top-K |grad| of the window's first micro-batch; accumulated per optimiser
    step over the window (gradient accumulation 2), they equal the dense gradients' sums; the
    update then drops the smallest |phi| and grows the best |mean grad| with zero values and
    seeded Adam moments (age gamma)."""
    torch.manual_seed(0)
    model, modules = spiel_mlp(density=0.2)
    optimizer = SpielAdamW(modules.parameters(), lr=1e-2)
    selector = SpielAG(modules, optimizer, UpdateSchedule(total_steps=40, interval=20, window=3))
    expected = {name: {"sum": 0.0, "sq": 0.0} for name, _ in modules}
    for step, micro in enumerate(make_batches(steps=3, accumulate=2), 1):
        step_grad = {name: 0.0 for name, _ in modules}
        for j, batch in enumerate(micro):
            dense = _dense_grads(model, modules, batch)  # before the backward: same weights
            selector.begin_micro_batch(step, j == 0)
            (((model(batch[0]) - batch[1]) ** 2).mean() / 2).backward()
            for name, layer in modules:
                candidates = selector.windows[name].candidates
                if step == 1 and j == 0:
                    top = torch.topk(dense[name].abs().reshape(-1), layer.num_entries).indices
                    assert torch.equal(candidates, torch.sort(top).values)
                step_grad[name] = step_grad[name] + dense[name].reshape(-1)[candidates] / 2
        for name in step_grad:
            expected[name]["sum"] = expected[name]["sum"] + step_grad[name]
            expected[name]["sq"] = expected[name]["sq"] + step_grad[name] ** 2
        selector.before_optimizer_step(step)
        for name, _ in modules:
            assert torch.allclose(selector.windows[name].grad_sum, expected[name]["sum"], atol=1e-5)
            assert torch.allclose(selector.windows[name].grad_sq_sum, expected[name]["sq"], atol=1e-6)
        windows = {name: (w.candidates.clone(), w.grad_sum / 3, w.grad_sq_sum / 3)
                   for name, w in selector.windows.items()}
        optimizer.step()
        optimizer.zero_grad()
        before = {name: dict(zip(layer.indices.tolist(), layer.values.tolist())) for name, layer in modules}
        report = selector.after_optimizer_step(step)
        assert (report is not None) == (step == 3)
    for name, layer in modules:
        candidates, mean, mean_sq = windows[name]
        n = layer.num_entries
        assert torch.unique(layer.indices).numel() == n and torch.equal(layer.indices, torch.sort(layer.indices).values)
        state = optimizer.state[layer.values]
        position = {c: i for i, c in enumerate(candidates.tolist())}
        for slot, (index, value) in enumerate(zip(layer.indices.tolist(), layer.values.tolist())):
            if index in before[name]:  # retained (or dropped and regrown at once): value kept
                assert value == before[name][index]
            else:  # grown: value 0, moments seeded from the window, age gamma
                assert value == 0.0
                p = position[index]
                assert state["age"][slot] == 3
                assert float(state["exp_avg"][slot]) == pytest.approx(float((1 - 0.9**3) * mean[p]), rel=1e-5)
                assert float(state["exp_avg_sq"][slot]) == pytest.approx(float((1 - 0.999**3) * mean_sq[p]), rel=1e-5)
        # the first update (t = gamma) replaces everything: the entries become the n candidates
        # with the largest |mean grad|
        order = torch.sort(mean.abs(), descending=True, stable=True).indices
        assert set(layer.indices.tolist()) == set(candidates[order][:n].tolist())
        assert report.layers[name].dropped == n
    assert not selector.windows and all(layer.observer is None for _, layer in modules)


def test_spiel_ag_and_ma_training_reduce_the_loss_and_keep_the_budget():
    for variant in ("ag", "ma"):
        torch.manual_seed(0)
        model, modules = spiel_mlp(density=0.3)
        budget = {name: layer.num_entries for name, layer in modules}
        schedule = UpdateSchedule(total_steps=60, interval=10, window=3)
        if variant == "ag":
            optimizer = SpielAdamW(modules.parameters(), lr=3e-2)
            selector = SpielAG(modules, optimizer, schedule)
        else:
            entries = [(layer.values, layer.indices, layer.shape) for _, layer in modules]
            optimizer = SparseSM3(entries, lr=0.1)
            selector = SpielMA(modules, optimizer, schedule)
        losses = train(model, selector, optimizer, make_batches(steps=60, accumulate=1, batch=32))
        assert sum(losses[-10:]) < 0.7 * sum(losses[:10]), variant
        assert [r.step for r in selector.reports] == [3, 13, 23, 33, 43, 53]
        assert selector.reports[0].replaced > 0 and selector.reports[1].replaced > 0
        for name, layer in modules:
            assert layer.num_entries == budget[name] and torch.unique(layer.indices).numel() == budget[name]
        histogram = selector.age_histogram()
        assert sum(histogram.values()) == sum(budget.values()) and max(histogram) > 3


def test_observer_off_outside_windows_means_no_dense_gradient(monkeypatch):
    """Outside gradient-estimation windows the backward never forms dY^T X."""
    import xlt.methods.spiel.sparse_linear as spiel

    calls = []
    original = spiel.dense_delta_grad
    monkeypatch.setattr(spiel, "dense_delta_grad", lambda x, dy: calls.append(1) or original(x, dy))
    model, modules = spiel_mlp()
    optimizer = SpielAdamW(modules.parameters(), lr=1e-2)
    selector = SpielAG(modules, optimizer, UpdateSchedule(total_steps=12, interval=10, window=2))
    batches = make_batches(steps=12, accumulate=2)
    dense_steps = []
    train(model, selector, optimizer, batches,
          on_backward=lambda step, micro, batch: dense_steps.append((step, micro, len(calls))))
    counts = {(s, m): c for s, m, c in dense_steps}
    # two layers form a dense gradient on the first micro-batch of step 1 only (window 1-2;
    # the window 11-12 would update at step 12 = T, so it runs too)
    assert counts[(1, 0)] == 2 and counts[(2, 1)] == 2 and counts[(10, 1)] == 2 and counts[(11, 0)] == 4
    assert counts[(12, 1)] == 4


def test_dense_grad_mode_selects_the_same_indices_as_the_sparse_backward():
    """grad_mode=dense (the thesis's X^T dY-then-gather) and the E.4 backward give the same training."""
    results = []
    for mode in ("sparse", "dense"):
        torch.manual_seed(0)
        model, modules = spiel_mlp(density=0.3)
        modules.set_grad_mode(mode)
        optimizer = SpielAdamW(modules.parameters(), lr=3e-2)
        selector = SpielAG(modules, optimizer, UpdateSchedule(total_steps=24, interval=10, window=3))
        train(model, selector, optimizer, make_batches(steps=24, accumulate=2))
        results.append({name: (layer.indices.clone(), layer.values.detach().clone()) for name, layer in modules})
    for name in results[0]:
        assert torch.equal(results[0][name][0], results[1][name][0])
        assert torch.allclose(results[0][name][1], results[1][name][1], atol=1e-5)
