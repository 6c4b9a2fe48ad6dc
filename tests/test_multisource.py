"""Multi-source training (§3.3.3, §4.4.4): the mixture sampler, the mixture config, and the
per-batch language-module switch with real training."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from xlt.data.locations import DataLocation, load_location
from xlt.data.mixture import LANGUAGE_KEY, MixtureBatchSampler, SamplingConfig, smoothed_probabilities
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ConfigError
from xlt.methods import TrainRequest
from xlt.methods.core.sft import SFTModule, SparseDelta, SparseFineTuning
from xlt.methods.sparse.config import SparseModuleConfig
from xlt.methods.sparse.procedure import train_sparse
from xlt.models.loading import ModelConfig, base_weights_hash, load_tokenizer
from xlt.pipeline.data_config import parse_data_config
from xlt.tasks import build_task
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig
from xlt.training.multisource import MultiSourceTrain


# ---------------------------------------------------------------------------- sampler
def test_every_batch_is_single_language_with_configured_proportions():
    sizes, upsampling = [10, 25, 7], [1, 2, 3]
    sampler = MixtureBatchSampler(sizes, 4, upsampling, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3 + 2 * 7 + 3 * 2
    assert all(len({source for _, source, _ in batch}) == 1 for batch in batches)
    per_source = Counter(batch[0][1] for batch in batches)
    assert per_source == {0: math.ceil(10 / 4), 1: 2 * math.ceil(25 / 4), 2: 3 * math.ceil(7 / 4)}
    # each upsampling repetition covers every example of its source exactly once
    seen = Counter((source, i) for batch in batches for _, source, i in batch)
    assert all(seen[(s, i)] == upsampling[s] for s in range(3) for i in range(sizes[s]))


def test_order_depends_only_on_seed_and_epoch():
    a, b = MixtureBatchSampler([9, 13], 2, seed=5), MixtureBatchSampler([9, 13], 2, seed=5)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)
    assert list(a) != list(MixtureBatchSampler([9, 13], 2, seed=6))
    sources = [batch[0][1] for batch in a]
    assert sources != sorted(sources)  # the batches of the sources are interleaved


def test_smoothed_sampling_probabilities():
    # p(l) ~ min(n_l, cap)^alpha: sizes 100, 10^4, 10^6 with cap 5 * 10^5 -> weights 10, 100, sqrt(5e5)
    p = smoothed_probabilities([100, 10_000, 1_000_000], 0.5, 500_000)
    weights = [10.0, 100.0, math.sqrt(500_000)]
    assert p == pytest.approx([w / sum(weights) for w in weights])
    sampler = MixtureBatchSampler([100, 10_000], 10, seed=0, sampling=SamplingConfig(policy="smoothed", alpha=0.5))
    counts = Counter()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        counts.update(batch[0][1] for batch in sampler)
    share = counts[0] / sum(counts.values())
    assert share == pytest.approx(10 / 110, abs=0.02)  # vs 1% of the batches without smoothing
    with pytest.raises(ConfigError, match="policy"):
        SamplingConfig(policy="uniform")


# ---------------------------------------------------------------------------- config
def _data(**sources_cfg):
    node = {"name": "t", "sources": {"en": {}, "et": {}}, "targets": ["mt"],
            "source_defaults": {"train": {"path": "/d/{treebank}-train.conllu",
                                          "sample": {"path": "ud/{treebank}.conllu"}},
                                "max_train_examples": 15000},
            "languages": {"en": {"vars": {"treebank": "en_ewt"}}, "et": {"vars": {"treebank": "et_edt"}}}}
    node.update(sources_cfg)
    return parse_data_config(node)


def test_a_misplaced_key_in_a_mixture_entry_is_an_error():
    # the reference code's Estonian entry nested its SFT under "data" and trained without it
    with pytest.raises(ConfigError, match=r"data\.sources\.et: unknown key 'sft'"):
        _data(sources={"en": {}, "et": {"sft": "cambridgeltl/mbert-lang-sft-et-small"}})
    with pytest.raises(ConfigError, match=r"data\.sources\.et\.upsampling=0"):
        _data(sources={"en": {}, "et": {"upsampling": 0}})
    with pytest.raises(ConfigError, match="not both"):
        _data(source={"lang": "en", "train": {"path": "x"}})
    with pytest.raises(ConfigError, match=r"\{treebank\} is undefined for 'fi'"):
        _data(sources={"fi": {}}).mixture()


def test_mixture_entries_take_defaults_and_template_variables():
    data = _data(sources={"en": {"upsampling": 2}, "et": {"max_train_examples": None, "language_module": False}})
    en, et = data.mixture()
    assert (en.lang, en.upsampling, en.max_train_examples, en.language_module) == ("en", 2, 15000, True)
    assert en.train[0].path == "/d/en_ewt-train.conllu" and et.train[0].path == "/d/et_edt-train.conllu"
    assert et.max_train_examples is None and not et.language_module
    assert data.source_langs == ["en", "et"] and data.is_multisource
    single = parse_data_config({"name": "t", "source": {"lang": "en", "train": {"path": "a.tsv"}}})
    (spec,) = single.mixture()
    assert spec.lang == "en" and spec.train[0].path == "a.tsv" and spec.validation == []


# ---------------------------------------------------------------------------- switching
NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"],
       "train": {"lr": 1e-3, "batch_size": 4, "max_epochs": 1, "weight_decay": 0.1}}
PROBE = ["embeddings.word_embeddings.weight", 0]  # an entry of the [CLS] embedding (set below); BitFit never trains it
DELTAS = {"aa": 100.0, "bb": 200.0, "cc": 300.0}


def _request(tmp_path, model_path):
    tokenizer = load_tokenizer(model_path)
    family = build_task(NLI, tokenizer)
    location = DataLocation(path=str(SAMPLES_DIR / "multinli/multinli_1.0_train.jsonl"), max_examples=60,
                            columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"})
    examples = family.preprocess(load_location(location, "train"), "train")
    # each language's examples are marked by their label: aa -> 0, bb -> 1, cc -> 2
    sources = {lang: [{**e, "labels": i} for e in examples[i * 16:(i + 1) * 16]] for i, lang in enumerate(DELTAS)}
    model = family.build_model(model_path, ModelConfig(name_or_path=model_path))
    shape = tuple(dict(model.body.named_parameters())[PROBE[0]].shape)
    PROBE[1] = tokenizer.cls_token_id * shape[1] + 3  # in every batch: it gets a gradient at every step
    base_hash = base_weights_hash(model.body)
    modules = {lang: SFTModule(SparseFineTuning({PROBE[0]: SparseDelta(
        shape, torch.tensor([value]), torch.tensor([PROBE[1]], dtype=torch.int32))}, meta={"base_hash": base_hash}))
        for lang, value in DELTAS.items()}
    for lang, module in modules.items():
        module.check_base(base_hash, lang)
    train = MultiSourceTrain(sources, {"aa": 1, "bb": 2, "cc": 1}, modules)
    validation = {lang: examples[:8] for lang in DELTAS}
    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=12),
                    LoggerConfig(csv=False), tmp_path, "test", seed=0)
    return model, TrainRequest(model, train, validation, family.collator(), family.schedule, fitter, 0, None)


def _record(model):
    """Record (phase, language, probe value) at every forward: a training batch's language from its
    label, a validation batch's from the loader its metric belongs to."""
    seen = []
    probe = dict(model.body.named_parameters())[PROBE[0]]
    loss, update = model.loss, model.update_metric
    languages = list(DELTAS)

    def recording_loss(batch):
        assert LANGUAGE_KEY not in batch  # the switch consumed it
        seen.append(("train", languages[int(batch["labels"][0])], float(probe.detach().flatten()[PROBE[1]])))
        return loss(batch)

    def recording_update(metric, batch):
        loader = next(i for i, m in enumerate(model._val_metrics) if m is metric)
        seen.append(("val", model.val_names[loader], float(probe.detach().flatten()[PROBE[1]])))
        return update(metric, batch)

    model.loss, model.update_metric = recording_loss, recording_update
    return seen, probe


def test_the_batch_language_module_is_active_for_its_step_only(tmp_path, tiny_bert_path):
    model, request = _request(tmp_path, tiny_bert_path)
    seen, probe = _record(model)
    theta0 = float(probe.detach().flatten()[PROBE[1]])
    module, summary = train_sparse(SparseModuleConfig(method="bitfit"), request)
    training = [(lang, value) for phase, lang, value in seen if phase == "train"]
    assert len(training) == 12 and {lang for lang, _ in training} == set(DELTAS)
    for lang, value in training:  # exactly base + phi_lang(batch language) during forward and backward
        assert value == pytest.approx(theta0 + DELTAS[lang], abs=1e-3)
    validation = [(lang, value) for phase, lang, value in seen if phase == "val"]
    assert {lang for lang, _ in validation} == set(DELTAS)
    for lang, value in validation:  # each validation loader runs with its own language's module
        assert value == pytest.approx(theta0 + DELTAS[lang], abs=1e-3)
    # afterwards no module is left applied, the untrained probe is bit-identical, the SFT holds no trace of it
    assert probe.detach().flatten()[PROBE[1]].item() == theta0
    assert PROBE[0] not in module.sft.diffs
    assert "phase2/val/aa/accuracy" in summary and "phase2/val/accuracy" in summary


def test_language_modules_are_removed_before_the_optimizer_step(tmp_path, tiny_bert_path):
    """With every entry trainable, the update of an entry a language module touches must survive:
    removing the module after the step would restore the pre-step value (or leave +phi_lang in)."""
    model, request = _request(tmp_path, tiny_bert_path)
    probe = dict(model.body.named_parameters())[PROBE[0]]
    theta0 = probe.detach().clone()
    module, _ = train_sparse(SparseModuleConfig(method="full", freeze_layer_norm=False), request)
    final, initial = probe.detach().flatten()[PROBE[1]].item(), theta0.flatten()[PROBE[1]].item()
    assert abs(final - initial) < 1.0  # no +100..300 left in the weights
    assert final != initial  # and the steps' updates of this entry were kept, not overwritten by the removal
    diff = module.sft.diffs[PROBE[0]].to_dense().flatten()[PROBE[1]].item()
    assert diff == pytest.approx(final - theta0.flatten()[PROBE[1]].item())
