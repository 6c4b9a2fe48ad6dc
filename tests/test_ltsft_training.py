"""LT-SFT and its relatives trained for real (tiny model, a few steps): the invariants of
thesis §4.3.1 and ALGORITHMS.md."""

from __future__ import annotations

import pytest
import torch

from xlt.data.blocks import MLMConfig
from xlt.data.locations import DataLocation, load_location
from xlt.data.synthetic import SAMPLES_DIR
from xlt.methods import TrainRequest
from xlt.methods.core.masking import add_l1_gradient
from xlt.methods.sparse.config import SparseModuleConfig
from xlt.methods.sparse.procedure import train_sparse
from xlt.models.loading import ModelConfig, load_tokenizer
from xlt.schedule import Schedule
from xlt.tasks import build_task
from xlt.tasks.mlm import MLMFamily
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"],
       "train": {"lr": 1e-3, "batch_size": 16, "max_epochs": 1, "weight_decay": 0.1}}


class RecordingFitter(Fitter):
    """Records the model's trainable state at the start of every phase."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.starts: dict[str, dict[str, torch.Tensor]] = {}

    def fit(self, model, train, validation, collate, schedule, phase, callbacks=()):
        self.starts[phase] = {n: p.detach().clone() for n, p in model.named_parameters()}
        return super().fit(model, train, validation, collate, schedule, phase, callbacks)


def _fitter(tmp_path, steps=6):
    cfg = TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=steps)
    return RecordingFitter(cfg, LoggerConfig(csv=False), tmp_path, "test", seed=0)


def _nli_request(tmp_path, model_path):
    tokenizer = load_tokenizer(model_path)
    family = build_task(NLI, tokenizer)
    location = DataLocation(path=str(SAMPLES_DIR / "multinli/multinli_1.0_train.jsonl"), max_examples=96,
                            columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"})
    examples = family.preprocess(load_location(location, "train"), "train")
    model = family.build_model(model_path, ModelConfig(name_or_path=model_path))
    fitter = _fitter(tmp_path)
    return TrainRequest(model, examples, {"en": examples[:32]}, family.collator(), family.schedule, fitter,
                        seed=0, reference_params=None), fitter


def test_ltsft_exact_k_frozen_bit_identical_and_same_head_init(tmp_path, tiny_xlmr_path):
    request, fitter = _nli_request(tmp_path, tiny_xlmr_path)
    body_names = {n for n, _ in request.model.body.named_parameters()}
    module, summary = train_sparse(SparseModuleConfig(method="ltsft", num_trainable=3000), request)
    sft = module.sft
    assert sft.num_entries == 3000 == summary["k"]
    assert sft.num_nonzero() > 2900  # selected entries moved in phase 2
    # phase 2 started from theta0, the head included (same random init in both phases)
    start1, start2 = fitter.starts["phase1"], fitter.starts["phase2"]
    for name in start1:
        assert torch.equal(start1[name], start2[name]), name
    # after training with weight decay 0.1, every unselected entry is bit-identical to theta0
    params = dict(request.model.body.named_parameters())
    selected = {name: torch.zeros(p.numel(), dtype=torch.bool) for name, p in params.items()}
    for name, delta in sft.diffs.items():
        selected[name][delta.indices.long()] = True
    for name, param in params.items():
        initial = start1[f"backbone.{name}"].flatten()
        final = param.detach().flatten()
        frozen = ~selected[name]
        assert torch.equal(final[frozen].view(torch.int32), initial[frozen].view(torch.int32)), name
    # LayerNorm never enters the SFT; the head is saved dense
    assert not any("LayerNorm" in name for name in sft.diffs)
    assert all(name.startswith("head.") for name in sft.abs) and sft.abs
    assert set(sft.diffs) <= body_names


def test_rand_sft_bitfit_and_full(tmp_path, tiny_xlmr_path):
    request, _ = _nli_request(tmp_path, tiny_xlmr_path)
    module, _ = train_sparse(SparseModuleConfig(method="rand_sft", density=0.01), request)
    body_params = sum(p.numel() for p in request.model.body.parameters())
    assert module.sft.num_entries == round(0.01 * body_params)

    request, _ = _nli_request(tmp_path, tiny_xlmr_path)
    module, _ = train_sparse(SparseModuleConfig(method="bitfit"), request)
    assert module.sft.diffs and all(name.endswith("bias") for name in module.sft.diffs)
    assert not any("LayerNorm" in name for name in module.sft.diffs)

    request, _ = _nli_request(tmp_path, tiny_xlmr_path)
    module, _ = train_sparse(SparseModuleConfig(method="full", freeze_layer_norm=False), request)
    assert all(delta.indices is None for delta in module.sft.diffs.values())
    assert any("LayerNorm" in name for name in module.sft.diffs)


def test_budget_scaled_for_tiny_models_and_bounded(tmp_path, tiny_xlmr_path):
    request, _ = _nli_request(tmp_path, tiny_xlmr_path)
    request.reference_params = 277453056
    module, summary = train_sparse(SparseModuleConfig(method="rand_sft", num_trainable=14155776), request)
    body_params = sum(p.numel() for p in request.model.body.parameters())
    assert summary["k"] == round(14155776 * body_params / 277453056)
    from xlt.errors import ConfigError

    request, _ = _nli_request(tmp_path, tiny_xlmr_path)
    with pytest.raises(ConfigError, match="maskable"):
        train_sparse(SparseModuleConfig(method="ltsft", num_trainable=10**9), request)


def test_language_sft_freezes_untied_decoder_and_layer_norm(tmp_path, tiny_xlmr_path):
    tokenizer = load_tokenizer(tiny_xlmr_path)
    family = MLMFamily(MLMConfig(max_seq_length=64), tokenizer)
    corpus = load_location(DataLocation(path=str(SAMPLES_DIR / "corpora/quy.txt"), max_examples=120), "corpus")
    train_lines, heldout = family.split_heldout(corpus, "corpus")
    model = family.build_model(tiny_xlmr_path, ModelConfig(name_or_path=tiny_xlmr_path))
    embeddings = model.backbone.get_input_embeddings().weight
    decoder = model.backbone.get_output_embeddings().weight
    assert decoder is not embeddings and not decoder.requires_grad
    decoder_before = decoder.detach().clone()
    request = TrainRequest(model, family.preprocess(train_lines, "c"), {"quy": family.preprocess(heldout, "c")},
                           family.collator(), Schedule(lr=1e-3, batch_size=4, max_steps=4), _fitter(tmp_path, 4),
                           seed=0, reference_params=None)
    module, summary = train_sparse(SparseModuleConfig(method="ltsft", density=0.05, l1_lambda=0.1), request)
    assert torch.equal(model.backbone.get_output_embeddings().weight, decoder_before)
    assert "embeddings.word_embeddings.weight" in module.sft.diffs  # the input embeddings can change
    assert all("lm_head" in name for name in module.sft.abs)
    assert "phase2/val/loss" in summary


def test_l1_gradient_matches_autograd():
    torch.manual_seed(0)
    params = {"a": torch.nn.Parameter(torch.randn(5, 3)), "b": torch.nn.Parameter(torch.randn(4))}
    reference = {n: p.detach() + 0.1 * torch.randn_like(p) for n, p in params.items()}
    coefficient = 0.1 / 19
    value = add_l1_gradient(params, dict(reference), coefficient)
    grads = {n: p.grad.clone() for n, p in params.items()}
    for p in params.values():
        p.grad = None
    penalty = coefficient * sum((p - reference[n]).abs().sum() for n, p in params.items())
    penalty.backward()
    assert value == pytest.approx(float(penalty), rel=1e-5)
    for n, p in params.items():
        assert torch.allclose(grads[n], p.grad)


def test_schedule_step_budget_rule():
    # the lesser of 100 epochs or 100k steps, at least 30k (§4.4.2)
    s = Schedule(max_epochs=100, max_steps=100000, min_steps=30000)
    assert s.total_steps(10) == 30000  # tiny corpus: the minimum applies
    assert s.total_steps(500) == 50000  # 100 epochs
    assert s.total_steps(5000) == 100000  # the step cap
    assert Schedule(max_epochs=5, accumulate=4).total_steps(10) == 15
    assert s.total_steps(5000, cap=7) == 7


def test_training_runs_with_dropout_active(tmp_path, tiny_xlmr_path):
    """transformers 5 loads models in eval mode; training must still run every module in train mode."""
    import lightning as L

    class ModeProbe(L.Callback):
        modes: list[bool] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.modes.append(all(m.training for m in pl_module.modules()))

    request, fitter = _nli_request(tmp_path, tiny_xlmr_path)
    assert not request.model.backbone.training  # as loaded by from_pretrained
    probe = ModeProbe()
    fitter.fit(request.model, request.train, {}, request.collate, Schedule(max_steps=2, batch_size=8), "p",
               [probe])
    assert probe.modes and all(probe.modes)
