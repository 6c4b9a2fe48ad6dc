"""LoRA / (IA)^3 through peft, qLoRA and qSpIEL on NF4 weights, composition (eq. 7.9 and the
LoRA sum of §7.5.1), merging and the merged-model export."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xlt.methods.core.quantization import nf4_linear, quantize_linears
from xlt.methods.core.sft import SparseFineTuning
from xlt.methods.peft.wrappers import adapter_kind, attach_ia3, attach_lora, lora_update, merge_adapters
from xlt.methods.spiel.sparse_linear import (
    SpielLinear,
    attach_sft_as_spiel,
    attach_spiel,
    dense_base_weight,
    find_target_linears,
    lora_equivalent_budget,
)
from xlt.models.loading import body_of


def load(path: str) -> nn.Module:
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(path)


def tokens(n: int = 2, length: int = 12) -> torch.Tensor:
    return torch.randint(3, 200, (n, length), generator=torch.Generator().manual_seed(0))


def randomise_lora(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name or "ia3_l" in name:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))


def test_lora_counts_match_the_spiel_rank_equivalent(llama_path):
    model = load(llama_path)
    equivalent = lora_equivalent_budget(find_target_linears(body_of(model)), 4)
    lora = attach_lora(model, rank=4)
    assert lora.num_trainable == equivalent
    assert all("lora_" in name for name in lora.trainable_parameters())
    assert not any("lm_head" in name for name in lora.trainable_parameters())


def test_lora_sum_composition_merge_and_exact_removal(llama_path, tmp_path):
    """Merging two LoRA adapters one after the other gives W + (a/r)B_1A_1 + (a/r)B_2A_2, outputs
    equal the model with both adapters active, and removal restores the exact base weights."""
    ids = tokens()
    for seed in (1, 2):
        lora = attach_lora(load(llama_path), rank=4, alpha=16, dropout=0.0)
        randomise_lora(lora.model, seed)
        lora.save(tmp_path / f"lora{seed}")
    assert adapter_kind(tmp_path / "lora1") == "LORA"
    model = load(llama_path)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    handle = merge_adapters(model, [tmp_path / "lora1", tmp_path / "lora2"])
    updates = [lora_update(tmp_path / f"lora{s}") for s in (1, 2)]
    for name, param in model.named_parameters():
        layer = name.rsplit(".", 1)[0]
        expected = before[name].clone()
        for update in updates:
            key = next((k for k in update if k.endswith(layer)), None)
            if key is not None and name.endswith(".weight"):
                expected += update[key]
        assert torch.allclose(param, expected, atol=1e-6), name
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())
    with torch.no_grad():
        merged_logits = model(ids).logits
    handle.remove()
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    # the same sum with both adapters active on the fly (peft, unmerged)
    from peft import PeftModel

    active = PeftModel.from_pretrained(load(llama_path), str(tmp_path / "lora1"), adapter_name="a")
    active.load_adapter(str(tmp_path / "lora2"), adapter_name="b")
    active.base_model.set_adapter(["a", "b"])
    with torch.no_grad():
        assert torch.allclose(active(ids).logits, merged_logits, atol=1e-4)


def test_ia3_trains_defaults_and_merges(llama_path, tmp_path):
    model = load(llama_path)
    ia3 = attach_ia3(model)
    names = set(ia3.trainable_parameters())
    assert names and all("ia3_l" in n for n in names)
    assert {n.split(".ia3_l")[0].rsplit(".", 1)[-1] for n in names} == {"k_proj", "v_proj", "down_proj"}
    randomise_lora(model, 3)
    ids = tokens()
    with torch.no_grad():
        expected = model(ids).logits
    ia3.save(tmp_path / "ia3")
    fresh = load(llama_path)
    handle = merge_adapters(fresh, [tmp_path / "ia3"])
    with torch.no_grad():
        assert torch.allclose(fresh(ids).logits, expected, atol=1e-4)
    handle.remove()


def test_spiel_composition_is_the_sum_and_the_merged_export_reloads(llama_path, tmp_path):
    """eq. 7.9: theta + scatter(eta_T, phi_T) + scatter(eta_G, phi_G), applied as one composed SFT or
    one after the other; then a merged model saved with save_pretrained loads back identically."""
    sfts = []
    for seed in (1, 2):
        model = load(llama_path)
        modules = attach_spiel(body_of(model), 500, seed=seed)
        with torch.no_grad():
            for _, layer in modules:
                layer.values.normal_(0, 0.05)
        sfts.append(modules.to_sft({"method": "spiel_ag"}))
    model = load(llama_path)
    body = body_of(model)
    base = {n: p.detach().clone() for n, p in body.named_parameters()}
    composed = SparseFineTuning.compose(sfts)
    handle = composed.apply(body, verify_base=False)
    for name, param in body.named_parameters():
        expected = base[name].clone()
        for sft in sfts:
            if name in sft.diffs:
                expected += sft.diffs[name].to_dense()
        assert torch.allclose(param, expected, atol=1e-7), name
    ids = tokens()
    with torch.no_grad():
        composed_logits = model(ids).logits
    model.save_pretrained(tmp_path / "merged")
    handle.remove()
    assert all(torch.equal(p, base[n]) for n, p in body.named_parameters())
    one, two = sfts[0].apply(body, verify_base=False), sfts[1].apply(body, verify_base=False)
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, composed_logits, atol=1e-5)
    two.remove()
    one.remove()
    reloaded = load(str(tmp_path / "merged"))
    with torch.no_grad():
        assert torch.allclose(reloaded(ids).logits, composed_logits, atol=1e-6)


# ----------------------------------------------------------------------------- NF4
def test_qspiel_on_nf4_weights_equals_dequantised_dense_reference():
    """eq. 7.8: Y = X (DEQUANT(W_NF4) + Delta) with bf16 deltas; gradients for X and phi."""
    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    quantized = nf4_linear(linear, compute_dtype=torch.float32)
    assert type(quantized).__name__ == "Linear4bit" and quantized.weight.quant_state.nested  # double quantisation
    w = dense_base_weight(quantized).float()
    assert (w - linear.weight).abs().max() < 0.05  # 4-bit, but close
    indices = torch.randperm(64 * 32)[:100]
    layer = SpielLinear(quantized, indices, torch.randn(100).bfloat16(), values_dtype=torch.bfloat16)
    assert layer.values.dtype == torch.bfloat16
    x = torch.randn(5, 64, requires_grad=True)
    out = layer(x)
    phi = layer.values.detach().float().clone().requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    dense = w.reshape(-1).index_add(0, layer.indices.long(), phi).view(32, 64)
    ref = nn.functional.linear(x_ref, dense, linear.bias.detach())
    assert torch.allclose(out, ref, atol=1e-4)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    ref.backward(upstream)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-4)
    assert torch.allclose(layer.values.grad.float(), phi.grad, rtol=1e-2, atol=1e-2)  # bf16 gradient
    assert quantized.weight.grad is None


def load_nf4(path: str) -> nn.Module:
    """The tiny Llama loaded quantised (NF4, float32 compute) through xlt's own loading path."""
    from xlt.models.loading import ModelConfig
    from xlt.tasks.instruction import load_causal_lm

    return load_causal_lm(path, ModelConfig(name_or_path=path), quantize="nf4")


def test_nf4_models_evaluate_with_the_weights_they_train_with(llama_path):
    """bitsandbytes repacks NF4 layers for a bfloat16 CPU kernel on the first eval-mode, no-grad forward
    (block scales rounded to bf16, bf16 compute): xlt turns that off, so evaluation and training agree."""
    ids = tokens()
    model = load_nf4(llama_path)
    model.train()
    with torch.no_grad():
        training_logits = model(ids).logits  # training mode: never repacked
    model.eval()
    with torch.no_grad():
        eval_logits = model(ids).logits
    assert torch.equal(eval_logits, training_logits)


def test_qspiel_and_qlora_train_on_a_quantised_tiny_llama(llama_path, tmp_path):
    ids = tokens()
    # qLoRA: peft LoRA on Linear4bit layers (loaded quantised by transformers)
    q = load_nf4(llama_path)
    assert type(q.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    lora = attach_lora(q, rank=4)
    randomise_lora(q, 1)
    q(ids, labels=ids).loss.backward()
    assert all(p.grad is not None for p in lora.trainable_parameters().values())
    lora.save(tmp_path / "qlora")
    # qSpIEL: sparse deltas on the dequantised weights of an in-memory quantised model
    model = load(llama_path)
    assert quantize_linears(body_of(model), compute_dtype=torch.float32) == 14
    modules = attach_spiel(body_of(model), 400, values_dtype=torch.bfloat16)
    assert all(type(layer.base).__name__ == "Linear4bit" for _, layer in modules)
    model(ids, labels=ids).loss.backward()
    assert all(layer.values.grad is not None and layer.values.grad.dtype == torch.bfloat16 for _, layer in modules)
    with torch.no_grad():
        for _, layer in modules:
            layer.values.normal_(0, 0.05)
        logits = model(ids).logits
    sft = modules.to_sft()
    modules.remove()
    wrapped = attach_sft_as_spiel(body_of(model), sft)  # how a qSpIEL module is evaluated on NF4
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, logits, atol=1e-5)
    with pytest.raises(ValueError, match="4-bit"):
        wrapped.merge()
    # the qLoRA adapter applies (unmerged) to a freshly quantised model
    q2 = load_nf4(llama_path)
    handle = merge_adapters(q2, [tmp_path / "qlora"])
    q.eval()  # LoRA dropout off
    with torch.no_grad():
        assert torch.allclose(q2(ids).logits, q(ids).logits, atol=1e-4)
    handle.remove()
