"""Bottleneck adapters (Pfeiffer), invertible adapters, stacking, MAD-X 2.0, files and AdapterHub import."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertModel,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
    LlamaConfig,
    LlamaModel,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
)

from xlt.config import parse
from xlt.errors import ArtifactError, ConfigError
from xlt.methods.adapters.artifact import AdapterModule
from xlt.methods.adapters.bottleneck import (
    LANGUAGE,
    TASK,
    AdapterShape,
    NICECoupling,
    PfeifferAdapter,
    active_adapters,
    attach_adapter,
    find_sites,
    load_adapter,
    load_adapterhub,
    save_adapter,
)
from xlt.methods.adapters.config import AdapterModuleConfig

SIZES = dict(vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)


def tiny(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "bert":
        model = BertForMaskedLM(BertConfig(**SIZES))
    elif kind == "bert-encoder":
        model = BertModel(BertConfig(**SIZES), add_pooling_layer=False)
    elif kind == "xlm-roberta":
        model = XLMRobertaForMaskedLM(XLMRobertaConfig(**SIZES))
    elif kind == "deberta-v2":
        model = DebertaV2ForMaskedLM(DebertaV2Config(**SIZES, legacy=False))
    elif kind == "deberta-v2-legacy":
        model = DebertaV2ForMaskedLM(DebertaV2Config(**SIZES, legacy=True))
    elif kind == "distilbert":
        model = DistilBertForMaskedLM(DistilBertConfig(vocab_size=120, dim=32, n_layers=3, n_heads=2, hidden_dim=64))
    else:
        raise KeyError(kind)
    return model.eval()


def output(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    out = model(input_ids=ids)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def random_adapter(layers=(0, 1, 2), level=LANGUAGE, invertible=False, seed=1, hidden=32,
                   bottleneck=8) -> PfeifferAdapter:
    adapter = PfeifferAdapter(AdapterShape(hidden, bottleneck, tuple(layers), invertible=invertible), level=level)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in adapter.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return adapter


IDS = torch.randint(5, 120, (2, 9), generator=torch.Generator().manual_seed(3))
ARCHITECTURES = ["bert", "bert-encoder", "xlm-roberta", "deberta-v2", "deberta-v2-legacy", "distilbert"]


@pytest.mark.parametrize("kind", ARCHITECTURES)
def test_zero_up_projection_leaves_the_output_unchanged_and_remove_restores(kind):
    model = tiny(kind)
    base = output(model, IDS)
    adapter = random_adapter()
    with torch.no_grad():
        for layer in adapter.layers.values():
            layer.up.weight.zero_()
            layer.up.bias.zero_()
    handle = attach_adapter(model, adapter)
    assert torch.equal(output(model, IDS), base)  # s + 0 = s exactly: bit-identical
    handle.remove()
    handle = attach_adapter(model, random_adapter(invertible=True))  # a real adapter changes the output ...
    assert (output(model, IDS) - base).abs().max() > 1e-3
    handle.remove()  # ... and removing it leaves no hook behind
    assert torch.equal(output(model, IDS), base)
    sites = find_sites(model)
    assert all(not norm._forward_hooks for norm in sites.layer_norms) and not sites.embeddings._forward_hooks
    assert active_adapters(model) == []


def adapterhub_reference(model: BertForMaskedLM, stack: list[PfeifferAdapter]):
    """AdapterHub's Pfeiffer forward (pre_forward / forward / post_forward with Stack), written out."""

    def forward(self, hidden_states, input_tensor, index):
        hidden = self.dropout(self.dense(hidden_states))
        for adapter in stack:  # Stack: pre_forward before every adapter
            if index not in adapter.shape.layers:
                continue
            residual = hidden  # residual_before_ln=True
            normed = self.LayerNorm(hidden + input_tensor)  # original_ln_before
            module = adapter.layers[str(index)]
            hidden = module.up(torch.relu(module.down(normed))) + residual  # adapter_residual_before_ln=False
        return self.LayerNorm(hidden + input_tensor)  # post_forward: original_ln_after

    return forward


def reference_output(model: BertForMaskedLM, stack: list[PfeifferAdapter]) -> torch.Tensor:
    originals = []
    for index, layer in enumerate(model.bert.encoder.layer):
        originals.append(layer.output.forward)
        reference = adapterhub_reference(model, stack)
        layer.output.forward = (lambda h, x, module=layer.output, i=index, f=reference: f(module, h, x, i))
    try:
        return output(model, IDS)
    finally:
        for layer, original in zip(model.bert.encoder.layer, originals):
            layer.output.forward = original


def test_pfeiffer_placement_and_stacking_match_adapterhub():
    model = tiny("bert")
    language = random_adapter(level=LANGUAGE, seed=1)
    task = random_adapter(layers=(0, 2), level=TASK, seed=2)
    expected = reference_output(model, [language, task])
    wrong_order = reference_output(model, [task, language])
    assert (expected - wrong_order).abs().max() > 1e-3  # the order matters
    # attach the task adapter FIRST: the language adapter still sits below it (MAD-X)
    handles = [attach_adapter(model, task), attach_adapter(model, language)]
    assert [a.level for a in active_adapters(model)] == [LANGUAGE, TASK]
    assert torch.allclose(output(model, IDS), expected, atol=1e-5)
    for handle in handles:
        handle.remove()
    single = reference_output(model, [language])
    handle = attach_adapter(model, language)
    assert torch.allclose(output(model, IDS), single, atol=1e-5)
    handle.remove()


def test_invertible_adapter_inverse_recovers_its_input():
    torch.manual_seed(0)
    coupling = NICECoupling(33, reduction_factor=2)  # odd size: unequal halves
    with torch.no_grad():
        for param in coupling.parameters():
            param.normal_(0, 0.5)
    x = torch.randn(4, 7, 33)
    y = coupling(x)
    assert (y - x).abs().max() > 0.1
    assert torch.allclose(coupling(y, rev=True), x, atol=1e-5)
    assert torch.allclose(coupling(coupling(x, rev=True)), x, atol=1e-5)


def test_invertible_adapter_wraps_embeddings_and_is_inverted_before_the_mlm_output_layer():
    model = tiny("bert")
    adapter = random_adapter(invertible=True)
    seen = {}
    model.cls.predictions.transform.register_forward_hook(lambda m, a, out: seen.__setitem__("transform", out))
    embeddings = model.bert.embeddings(input_ids=IDS)
    handle = attach_adapter(model, adapter)
    model.cls.predictions.decoder.register_forward_pre_hook(lambda m, args: seen.__setitem__("decoder", args[0]))
    out = model(input_ids=IDS, output_hidden_states=True)
    assert torch.allclose(out.hidden_states[0], adapter.invertible(embeddings), atol=1e-6)
    assert torch.allclose(seen["decoder"], adapter.invertible(seen["transform"], rev=True), atol=1e-6)
    handle.remove()


def test_madx2_has_no_adapter_in_the_last_layer():
    shape = AdapterModuleConfig(reduction_factor=2, leave_out=[-1]).shape(32, 3)
    assert shape.layers == (0, 1)
    adapter = PfeifferAdapter(shape)
    assert set(adapter.layers) == {"0", "1"}
    model = tiny("bert")
    seen = []
    last = find_sites(model).layer_norms[-1]
    handle = attach_adapter(model, adapter)
    last.register_forward_hook(lambda m, a, out: seen.append(torch.equal(out, m.forward(a[0]))))
    output(model, IDS)
    assert seen == [True]  # the last block's LayerNorm output is untouched
    handle.remove()
    full = AdapterModuleConfig(reduction_factor=2).shape(32, 3)
    assert full.layers == (0, 1, 2) and shape.num_parameters() == full.num_parameters() * 2 // 3


def test_parameter_counts_for_mbert_sizes():
    language = AdapterModuleConfig(reduction_factor=2, invertible=True).shape(768, 12)
    assert language.bottleneck == 384
    # 12 x (2 x 768 x 384 + 384 + 768) + NICE (2 x (384 x 192 + 192 + 192 x 384 + 384)): the thesis's "~7.6M"
    assert language.num_parameters() == 7_387_776
    with torch.device("meta"):
        assert PfeifferAdapter(language).num_parameters() == 7_387_776
    task = AdapterModuleConfig(reduction_factor=16).shape(768, 12)
    assert task.bottleneck == 48 and task.num_parameters() == 12 * (2 * 768 * 48 + 48 + 768)


def test_save_load_round_trip_and_bad_files(tmp_path):
    adapter = random_adapter(invertible=True, level=TASK)
    head = {"head/head.out_proj.weight": torch.randn(3, 32)}
    save_adapter(tmp_path / "a", adapter, head, {"lang": "gn"})
    loaded, extra, config = load_adapter(tmp_path / "a")
    assert loaded.shape == adapter.shape and loaded.level == TASK and config["lang"] == "gn"
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in adapter.state_dict().items())
    assert torch.equal(extra["head/head.out_proj.weight"], head["head/head.out_proj.weight"])
    assert not list((tmp_path / "a").glob(".*tmp"))
    with pytest.raises(ArtifactError, match="not an adapter"):
        load_adapter(tmp_path / "missing")
    (tmp_path / "a" / "adapter.safetensors").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="not a readable safetensors"):
        load_adapter(tmp_path / "a")


def write_adapterhub(directory, adapter: PfeifferAdapter, name="gn", prefix="bert.", **config):
    directory.mkdir(parents=True)
    state = {}
    for index, layer in adapter.layers.items():
        base = f"{prefix}encoder.layer.{index}.output.adapters.{name}"
        state[f"{base}.adapter_down.0.weight"] = layer.down.weight.detach().clone()
        state[f"{base}.adapter_down.0.bias"] = layer.down.bias.detach().clone()
        state[f"{base}.adapter_up.weight"] = layer.up.weight.detach().clone()
        state[f"{base}.adapter_up.bias"] = layer.up.bias.detach().clone()
    if adapter.invertible is not None:
        for key, tensor in adapter.invertible.state_dict().items():
            state[f"{prefix}invertible_adapters.{name}.{key}"] = tensor.clone()
    torch.save(state, directory / "pytorch_adapter.bin")
    settings = {"original_ln_before": True, "original_ln_after": True, "residual_before_ln": True,
                "adapter_residual_before_ln": False, "ln_before": False, "ln_after": False, "mh_adapter": False,
                "output_adapter": True, "non_linearity": "relu", "reduction_factor": 4, "inv_adapter": "nice",
                "inv_adapter_reduction_factor": 2, **config}
    (directory / "adapter_config.json").write_text(json.dumps({"config": settings, "hidden_size": 32, "name": name}))


def test_adapterhub_pfeiffer_import(tmp_path):
    adapter = random_adapter(invertible=True)
    write_adapterhub(tmp_path / "hub", adapter)
    imported = load_adapterhub(tmp_path / "hub", num_layers=3)
    assert imported.shape == adapter.shape
    model = tiny("bert")
    handle = attach_adapter(model, adapter)
    expected = output(model, IDS)
    handle.remove()
    handle = attach_adapter(model, imported)
    assert torch.equal(output(model, IDS), expected)
    handle.remove()
    write_adapterhub(tmp_path / "houlsby", adapter, mh_adapter=True)
    with pytest.raises(ArtifactError, match="mh_adapter=True is not the Pfeiffer configuration"):
        load_adapterhub(tmp_path / "houlsby")
    write_adapterhub(tmp_path / "extra", adapter)
    state = torch.load(tmp_path / "extra" / "pytorch_adapter.bin")
    state["bert.encoder.layer.0.attention.output.adapters.gn.adapter_up.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra" / "pytorch_adapter.bin")
    with pytest.raises(ArtifactError, match="unsupported AdapterHub tensors"):
        load_adapterhub(tmp_path / "extra")


def test_adapter_module_copies_the_head_and_restores_it():
    class Tiny(nn.Module):  # the TaskModel surface an artifact uses: backbone + parameters
        def __init__(self):
            super().__init__()
            self.backbone = tiny("bert-encoder")
            self.head = nn.Linear(32, 3)

    model = Tiny()
    original = model.head.weight.detach().clone()
    module = AdapterModule(random_adapter(level=TASK), {"head.weight": torch.ones(3, 32)}, {"base_hash": "abc"})
    handle = module.attach(model, with_head=True)
    assert torch.equal(model.head.weight, torch.ones(3, 32))
    assert any(name.startswith("xlt_adapter_task") for name, _ in model.named_children())
    assert not any(p.requires_grad for p in module.adapter.parameters())  # attached modules are frozen
    handle.remove()
    assert torch.equal(model.head.weight, original) and active_adapters(model.backbone) == []
    assert not any(name.startswith("xlt_adapter") for name, _ in model.named_children())
    bad = AdapterModule(random_adapter(level=TASK), {"head.weight": torch.ones(2, 2)})
    with pytest.raises(ArtifactError, match="does not match"):
        bad.attach(model, with_head=True)
    assert active_adapters(model.backbone) == []  # a failed attach leaves nothing behind
    with pytest.raises(ArtifactError, match="trained against base weights"):
        module.check_base("xyz", "lang/gn")
    module.check_base("abc", "lang/gn")


def test_mismatched_or_unsupported_models_fail_in_one_line():
    model = tiny("bert")
    with pytest.raises(ArtifactError, match="hidden size 16 != model hidden size 32"):
        attach_adapter(model, random_adapter(hidden=16, bottleneck=4))
    with pytest.raises(ArtifactError, match="layer 5"):
        attach_adapter(model, random_adapter(layers=(5,)))
    llama = LlamaModel(LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=32))
    with pytest.raises(ConfigError, match="model type 'llama'"):
        attach_adapter(llama, random_adapter(hidden=16, bottleneck=4, layers=(0,)))
    with pytest.raises(ConfigError, match=r"^task_module\.reduction_factor=0: must be > 0"):  # the full key
        parse(AdapterModuleConfig, {"reduction_factor": 0}, "task_module")


def test_pretrained_adapterhub_language_adapter_is_imported_instead_of_trained(tmp_path):
    from types import SimpleNamespace

    from xlt.methods.adapters.procedure import train_adapter

    adapter = random_adapter(invertible=True)
    write_adapterhub(tmp_path / "hub", adapter)
    model = SimpleNamespace(backbone=tiny("bert"))  # fitting would fail on this: it must not be reached
    request = SimpleNamespace(model=model, meta={"kind": "language", "lang": "gn", "base_hash": "h"},
                              fitter=None, seed=0)
    cfg = AdapterModuleConfig(reduction_factor=4, invertible=True, pretrained={"gn": str(tmp_path / "hub")})
    module, summary = train_adapter(cfg, request)
    assert summary["imported"] == 1 and module.meta["imported_from"] == str(tmp_path / "hub")
    assert module.adapter.level == LANGUAGE
    assert all(torch.equal(module.adapter.state_dict()[k], v) for k, v in adapter.state_dict().items())
