"""MAD-G: generator sizes and equations, generated adapters, smoothed single-language batches, per-batch
language-module switching during training, generator training."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel

from xlt.data.collators import ClassificationCollator, MLMCollator
from xlt.data.mixture import MixtureBatchSampler, SamplingConfig, TagLanguage, smoothed_probabilities
from xlt.data.sampling import first_words
from xlt.eval.metrics import Accuracy, MeanLoss
from xlt.methods.adapters.artifact import AdapterModule
from xlt.methods.adapters.bottleneck import (
    LANGUAGE,
    TASK,
    AdapterShape,
    PfeifferAdapter,
    active_adapters,
    attach_adapter,
)
from xlt.methods.madg.artifact import GeneratorArtifact
from xlt.methods.madg.config import MadgConfig
from xlt.methods.madg.generator import AdapterGenerator, GeneratorAdapter
from xlt.methods.madg.procedure import train_generator
from xlt.schedule import Schedule
from xlt.tasks.base import TaskModel
from xlt.tasks.models.mlm import MaskedLanguageModel
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig
from xlt.training.multisource import MultiSourceTrain
from xlt.typology import uriel_vector

SIZES = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


# ---------------------------------------------------------------------------- the generator
def test_generator_parameter_counts_match_the_thesis_for_mbert():
    madg = AdapterGenerator(768, 384, range(12), language_dim=32, device="meta")
    assert madg.parameter_counts()["W"] == 226_492_416 == 2 * 768 * 384 * 12 * 32
    assert madg.parameter_counts()["V"] == 32 * 289
    madg_ls = AdapterGenerator(768, 384, range(12), language_dim=32, layer_dim=32, device="meta")
    counts = madg_ls.parameter_counts()
    assert counts["W"] == 37_748_736 == 2 * 768 * 384 * (32 + 32)
    assert counts["layer_embeddings"] == 12 * 32
    assert round(counts["total"] / 1e6) == 38 and round(madg.parameter_counts()["total"] / 1e6) == 227  # §3.4.3


@pytest.mark.parametrize("layer_dim", [None, 4])
def test_generated_adapter_follows_the_equations_and_fits_the_adapter_layer(layer_dim):
    generator = AdapterGenerator(32, 8, [0, 1], language_dim=5, layer_dim=layer_dim, seed=0)
    t = torch.from_numpy(uriel_vector("quy"))
    adapter = generator.generate(t)
    lam = generator.V.detach() @ t
    for row, layer in enumerate([0, 1]):
        if layer_dim is None:
            theta = (generator.W.detach() @ lam).view(2, -1)[row]  # theta_l = W V t, sliced per layer
        else:
            theta = generator.W.detach() @ torch.cat([lam, generator.layer_embeddings.detach()[row]])  # eq. 3.2
        module = adapter.layers[str(layer)]
        assert module.down.weight.shape == (8, 32) and module.up.weight.shape == (32, 8)
        assert module.down.bias is None and module.up.bias is None  # 2hm parameters per adapter
        assert torch.allclose(module.down.weight.flatten(), theta[:256], atol=1e-6)
        assert torch.allclose(module.up.weight.flatten(), theta[256:], atol=1e-6)
    assert adapter.shape == AdapterShape(32, 8, (0, 1), invertible=False, bias=False)
    model = BertModel(BertConfig(**SIZES), add_pooling_layer=False).eval()
    handle = attach_adapter(model, adapter)  # the generated tensors are what the adapter layer needs
    assert model(input_ids=torch.tensor([[5, 6, 7]])).last_hidden_state.shape == (1, 3, 32)
    handle.remove()


def test_different_uriel_vectors_give_different_adapters():
    generator = AdapterGenerator(32, 8, [0, 1], language_dim=6, seed=0)
    quechua = generator.generate(torch.from_numpy(uriel_vector("quy")))
    again = generator.generate(torch.from_numpy(uriel_vector("quy")))
    bribri = generator.generate(torch.from_numpy(uriel_vector("bzd")))
    for key, value in quechua.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])
        assert not torch.allclose(value, bribri.state_dict()[key])


def test_generator_adapter_trains_w_and_v_and_equals_the_generated_adapter():
    model = BertModel(BertConfig(**SIZES), add_pooling_layer=False).eval()
    generator = AdapterGenerator(32, 8, [0, 1], language_dim=5, layer_dim=3, seed=0, init_std=0.2)
    dynamic = GeneratorAdapter(generator)
    t = torch.from_numpy(uriel_vector("fin"))
    ids = torch.tensor([[5, 9, 11, 4]])
    handle = attach_adapter(model, dynamic)
    dynamic.set_language(t)
    out = model(input_ids=ids).last_hidden_state
    out.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())
    dynamic.set_language(None)  # no language: no adapter
    base = model(input_ids=ids).last_hidden_state
    handle.remove()
    handle = attach_adapter(model, generator.generate(t))
    assert torch.allclose(model(input_ids=ids).last_hidden_state, out, atol=1e-5)
    handle.remove()
    assert torch.equal(model(input_ids=ids).last_hidden_state, base)


def test_generator_artifact_round_trip_and_unseen_languages(tmp_path):
    generator = AdapterGenerator(32, 8, [0, 1], language_dim=5, seed=0)
    GeneratorArtifact(generator, {"languages": {"en": "eng", "gn": "grn"}, "base_hash": "h"}).save(tmp_path)
    loaded = GeneratorArtifact.load(tmp_path)
    assert all(torch.equal(v, generator.state_dict()[k]) for k, v in loaded.generator.state_dict().items())
    seen, unseen = loaded.generate("gn"), loaded.generate("ain")  # Ainu: any language URIEL knows
    assert seen.meta["seen_by_generator"] and not unseen.meta["seen_by_generator"]
    assert unseen.meta["uriel"] == "ain" and unseen.meta["base_hash"] == "h"


# ---------------------------------------------------------------------------- batches
def test_smoothed_language_sampling():
    p = smoothed_probabilities([100, 400, 2_000_000], alpha=0.5, cap=500_000)
    weights = [10.0, 20.0, math.sqrt(500_000)]  # min(n, 500k)^0.5
    assert p == pytest.approx([w / sum(weights) for w in weights])
    sizes = [10, 40, 950]
    sampler = MixtureBatchSampler(sizes, 4, seed=3, sampling=SamplingConfig(policy="smoothed", alpha=0.5, cap=400))
    batches = list(sampler.batches(0))
    for batch in batches:  # every batch holds one language's examples only
        assert len({source for _, source, _ in batch}) == 1 and len(batch) <= 4
    counts = Counter(batch[0][1] for batch in batches)
    expected = smoothed_probabilities(sizes, 0.5, 400)
    assert all(abs(counts[k] / len(batches) - expected[k]) < 0.04 for k in range(3))
    assert list(sampler.batches(0)) == batches and list(sampler.batches(1)) != batches  # a function of (seed, epoch)
    small = [i for batch in batches if batch[0][1] == 0 for _, _, i in batch][:10]
    assert sorted(small) == list(range(10))  # a language's pool is exhausted before it repeats
    assert sum(sampler.source_counts(len(sampler) + 5)) == len(sampler) + 5


def test_language_tagged_collation_and_first_words():
    collate = TagLanguage(ClassificationCollator(0))
    example = {"input_ids": [1, 2], "attention_mask": [1, 1], "labels": 0}
    assert collate([{**example, "_language": "quy"}, {**example, "_language": "quy"}])["_language"] == "quy"
    with pytest.raises(ValueError, match="mixes languages"):
        collate([{**example, "_language": "gn"}, {**example, "_language": "quy"}])
    assert first_words(["a b c", "", "d e f g"], 5) == ["a b c", "d e"]


# ---------------------------------------------------------------------------- per-batch switching
class Probe(TaskModel):
    """A tiny classifier that records which adapters are active on every training/validation forward."""

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(BertModel(BertConfig(**SIZES), add_pooling_layer=False), nn.Linear(32, 2), Accuracy)
        self.seen: list[tuple[bool, list[object]]] = []

    def logits(self, batch):
        self.seen.append((self.training, active_adapters(self.backbone)))
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        return self.head(self.backbone(**inputs).last_hidden_state[:, 0])

    def loss(self, batch):
        return nn.functional.cross_entropy(self.logits(batch), batch["labels"])

    def update_metric(self, metric, batch):
        metric.update(self.logits(batch).argmax(-1), batch["labels"])


def fitter(tmp_path, steps: int) -> Fitter:
    return Fitter(TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=steps),
                  LoggerConfig(csv=False), tmp_path, "probe", seed=0)


def test_per_batch_language_adapters_in_multi_source_task_training(tmp_path):
    model = Probe()
    languages = ["en", "gn", "quy"]
    modules = {lang: AdapterModule(PfeifferAdapter(AdapterShape(32, 4, (0, 1)), LANGUAGE, seed=i))
               for i, lang in enumerate(languages)}
    rng = np.random.default_rng(0)
    data = {lang: [{"input_ids": rng.integers(5, 60, 6).tolist(), "attention_mask": [1] * 6,
                    "labels": int(rng.integers(2))} for _ in range(12)] for lang in languages}
    task = PfeifferAdapter(AdapterShape(32, 4, (0, 1)), TASK, seed=9)
    for param in model.parameters():
        param.requires_grad_(False)
    model.head.requires_grad_(True)
    attach_adapter(model.backbone, task, owner=model, name="task")
    sampling = SamplingConfig(policy="smoothed", alpha=0.5)
    train = MultiSourceTrain(data, modules=modules, sampling=sampling)
    validation = {lang: data[lang][:4] for lang in languages}
    before = task.layers["0"].down.weight.detach().clone()
    result = fitter(tmp_path, 9).fit(model, train, validation, ClassificationCollator(0),
                                     Schedule(lr=1e-2, batch_size=4, max_steps=9, eval_every=9, select_best=False),
                                     "train")
    order = MixtureBatchSampler([12, 12, 12], 4, seed=0, sampling=sampling).batches(0)
    history = [languages[batch[0][1]] for batch in order][:9]  # each batch's language, as the loader drew them
    assert result.batches == dict(Counter(history)) | {lang: 0 for lang in languages if lang not in history}
    training = [active for is_training, active in model.seen if is_training]
    assert len(training) == 9 and len(set(history)) >= 2  # several languages were drawn
    for lang, active in zip(history, training):  # the batch's language adapter, below the task adapter
        assert len(active) == 2 and active[0] is modules[lang].adapter and active[1] is task
    validating = [active for is_training, active in model.seen if not is_training]
    assert len(validating) % 3 == 0 and len(validating) >= 3  # one batch per language per validation
    assert [a[0] for a in validating[:3]] == [modules[lang].adapter for lang in languages]
    assert active_adapters(model.backbone) == [task]  # nothing left attached after the step
    assert not torch.equal(task.layers["0"].down.weight, before)  # the task adapter trained ...
    for module in modules.values():  # ... the language adapters stayed frozen
        assert not any(p.requires_grad for p in module.adapter.parameters())


class Vocabulary:
    pad_token_id, mask_token_id = 0, 4

    def __len__(self) -> int:
        return 60


def test_generator_training_draws_single_language_batches_and_updates_the_generator(tmp_path):
    torch.manual_seed(0)
    backbone = BertForMaskedLM(BertConfig(**SIZES))
    model = MaskedLanguageModel(backbone, None, MeanLoss)
    rng = np.random.default_rng(0)
    corpora = {}
    for lang, size in (("en", 30), ("gn", 8), ("eu", 12)):
        blocks = [{"input_ids": [2, *rng.integers(5, 60, 10).tolist(), 3], "attention_mask": [1] * 12,
                   "special_tokens_mask": [1] + [0] * 10 + [1]} for _ in range(size + 2)]
        corpora[lang] = (blocks[:size], blocks[size:])
    vectors = {lang: (lang, uriel_vector(lang)) for lang in corpora}
    cfg = MadgConfig(languages=list(corpora), reduction_factor=4, language_dim=4, layer_dim=4,
                     train=Schedule(lr=1e-2, batch_size=4, max_steps=12, eval_every=6))
    base = {n: p.detach().clone() for n, p in backbone.named_parameters()}
    artifact, summary = train_generator(cfg, model, corpora, vectors, MLMCollator(Vocabulary()),
                                        fitter(tmp_path, 12), 0, {"base_hash": "h"})
    schedule_steps = summary["train/steps"]
    assert schedule_steps == 12 and sum(summary[f"batches/{lang}"] for lang in corpora) == 12
    assert all(summary[f"batches/{lang}"] > 0 for lang in corpora)
    assert {f"train/val/{lang}/loss" for lang in corpora} <= set(summary)
    assert all(torch.equal(p, base[n]) for n, p in backbone.named_parameters())  # the base stays frozen
    fresh = AdapterGenerator(32, 8, [0, 1], 4, 4, seed=0)
    assert not torch.allclose(fresh.W, artifact.generator.W)  # the generator trained
    assert artifact.meta["languages"] == {"en": "en", "gn": "gn", "eu": "eu"}
    assert active_adapters(backbone) == [] and not hasattr(model, "xlt_madg_generator")
