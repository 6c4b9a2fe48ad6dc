"""The contracts every registered PEFT method keeps (issue 11, "tests as contracts"), on tiny models.

One matrix over ``xlt.methods.METHODS``, discovered, not listed: a method registered later is in it
at once, and fails :func:`test_every_registered_method_has_a_contract_case` until it has a case here
(how to train it in two steps on a tiny model, and its budget formula). Per method:

(a) exact budget: the saved artifact holds exactly the configured number of trained entries
    (K for LT-SFT / rand-SFT / SpIEL, every bias for BitFit, every maskable entry for full
    fine-tuning, the shape formula of adapters, LoRA and (IA)^3);
(b) save/load round trip: the module saved and read back by the registry's loader
    (``METHODS.get(name).load``) gives the same outputs as the module in memory;
(c) attach-then-remove restores the bytes: every parameter and buffer of the model is bit-identical
    afterwards (and the outputs, so no hook is left behind);
(d) a base-hash mismatch raises ArtifactError, both for a hash that matches nothing and for a model
    with other base weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pytest
import torch
from safetensors import safe_open
from torch import nn

from xlt.data.locations import DataLocation, load_location
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ArtifactError
from xlt.methods import METHODS, ModuleArtifact, TrainRequest, parse_module_config
from xlt.models.loading import ModelConfig, base_weights_hash, load_tokenizer
from xlt.schedule import Schedule
from xlt.tasks import build_task
from xlt.tasks.base import TaskFamily, TaskModel

# Registered methods with no artifact at all, so no contract applies to them (each with its reason).
EXCLUDED: dict[str, str] = {
    "none": "method none trains, stores and attaches nothing (TA-only zero-shot, §3.4.2): no artifact",
}
STEPS = 2  # optimiser steps per training phase


# ----------------------------------------------------------------------------- tiny set-ups
@dataclass
class Setup:
    """A tiny base model and task: fresh task models on the pristine base weights, training examples
    and a probe batch whose outputs the contracts compare."""

    path: str
    family: TaskFamily
    train: list[dict[str, Any]]
    probe: dict[str, torch.Tensor]
    outputs: Callable[[TaskModel, dict[str, torch.Tensor]], torch.Tensor]
    model_cfg: ModelConfig = field(init=False)

    def __post_init__(self) -> None:
        self.model_cfg = ModelConfig(name_or_path=self.path)

    def model(self) -> TaskModel:
        """A fresh task model (its head seeded, so two fresh models are identical), in eval mode."""
        torch.manual_seed(0)
        return self.family.build_model(self.path, self.model_cfg).eval()

    def output(self, model: TaskModel) -> torch.Tensor:
        with torch.no_grad():
            return self.outputs(model, self.probe)


NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"],
       "max_seq_length": 48}
INSTRUCT = {"name": "instruct", "family": "instruction", "max_seq_length": 96}


def nli_setup(path: str) -> Setup:
    family = build_task(NLI, load_tokenizer(path))
    location = DataLocation(path=str(SAMPLES_DIR / "multinli/multinli_1.0_train.jsonl"), max_examples=24,
                            columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"})
    examples = list(family.preprocess(load_location(location, "train"), "train"))
    return Setup(path, family, examples[:16], family.collator()(examples[16:]),
                 lambda model, batch: model.logits(batch))


def instruct_setup(path: str) -> Setup:
    family = build_task(INSTRUCT, load_tokenizer(path))
    with open(SAMPLES_DIR / "instruction/flan_v2_resampled_50k.jsonl") as handle:
        rows = [json.loads(line) for _, line in zip(range(40), handle)]
    examples = list(family.preprocess(datasets.Dataset.from_list(rows), "flan"))
    assert len(examples) >= 6, "too few short flan samples for the contracts"
    probe = family.collator()(examples[4:6])
    return Setup(path, family, examples[:4], probe,
                 lambda model, batch: model.backbone(input_ids=batch["input_ids"],
                                                     attention_mask=batch["attention_mask"]).logits)


# ----------------------------------------------------------------------------- trained modules
@dataclass
class Trained:
    """A module of one method, with what its contracts need."""

    method: str
    setup: Setup
    module: ModuleArtifact
    expected_budget: int  # from the config and the model's shapes (the method's formula)
    with_head: bool  # whether attach() puts the module's task head in too
    base_hash: str  # the base weights it was trained on
    directory: Path  # where it was saved


@dataclass
class Workspace:
    tmp: Path
    paths: dict[str, str]
    setups: dict[tuple[str, str], Setup] = field(default_factory=dict)

    def setup(self, kind: str, model: str) -> Setup:
        if (kind, model) not in self.setups:
            builder = {"nli": nli_setup, "instruct": instruct_setup}[kind]
            self.setups[kind, model] = builder(self.paths[model])
        return self.setups[kind, model]

    def fitter(self, label: str) -> Any:
        from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

        return Fitter(TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=STEPS),
                      LoggerConfig(csv=False), self.tmp / "logs", label, seed=0)

    def train(self, method: str, setup: Setup, config: dict[str, Any]) -> tuple[TaskModel, ModuleArtifact,
                                                                                  dict[str, Any], str]:
        """Train ``method`` as a task module through the registry (its config parsed and validated as the
        pipeline parses it): (the training model, the module, the summary, the base hash)."""
        cfg = parse_module_config({"method": method, **config}, "task_module")
        model = setup.model()
        base_hash = base_weights_hash(model.body)
        meta = {"base_model": setup.path, "base_hash": base_hash, "kind": "task", "task": setup.family.name,
                "data": "contracts"}
        schedule = Schedule(lr=1e-3, batch_size=2, max_steps=STEPS, select_best=False)
        request = TrainRequest(model, setup.train, {}, setup.family.collator(), schedule, self.fitter(method),
                               seed=0, reference_params=None, meta=meta)
        module, summary = METHODS.get(method).train(cfg, request)
        return model, module, summary, base_hash


def body_linears(body: nn.Module, exclude: str = "pooler") -> dict[str, nn.Linear]:
    return {name: m for name, m in body.named_modules() if isinstance(m, nn.Linear) and exclude not in name}


def lora_parameters(body: nn.Module, rank: int) -> int:
    """LoRA's count on every linear layer of the transformer blocks: r (d_in + d_out) each (§7.4.4)."""
    return sum(rank * (m.in_features + m.out_features) for m in body_linears(body).values())


CaseBuilder = Callable[[Workspace, str], Trained]
CASES: dict[str, CaseBuilder] = {}


def case(*methods: str) -> Callable[[CaseBuilder], CaseBuilder]:
    def register(builder: CaseBuilder) -> CaseBuilder:
        for method in methods:
            CASES[method] = builder
        return builder

    return register


def save(ws: Workspace, method: str, module: ModuleArtifact) -> Path:
    directory = ws.tmp / "artifacts" / method
    directory.mkdir(parents=True)
    module.save(directory)
    return directory


@case("ltsft", "rand_sft", "bitfit", "full")
def sparse_case(ws: Workspace, method: str) -> Trained:
    """The sparse family on the NLI classifier (XLM-R and BERT, the latter with a pooler that stays out)."""
    setup = ws.setup("nli", "xlmr" if method in ("ltsft", "full") else "bert")
    config = {"ltsft": {"num_trainable": 3000}, "rand_sft": {"density": 0.01}, "bitfit": {},
              "full": {"freeze_layer_norm": False}}[method]  # full: as conf/task_module/full.yaml
    model, module, summary, base_hash = ws.train(method, setup, config)
    body = setup.model().body
    if method == "ltsft":
        expected = 3000
    elif method == "rand_sft":
        expected = round(0.01 * sum(p.numel() for p in body.parameters()))  # density x body parameters
    elif method == "bitfit":  # the bias of every linear layer (LayerNorm frozen, pooler out: §4.4.1)
        expected = sum(m.bias.numel() for m in body_linears(body).values() if m.bias is not None)
    else:  # every body entry, LayerNorm included, but the pooler's
        expected = sum(p.numel() for name, p in body.named_parameters() if "pooler" not in name)
    assert summary["k"] == expected
    return Trained(method, setup, module, expected, True, base_hash, save(ws, method, module))


@case("adapter")
def adapter_case(ws: Workspace, method: str) -> Trained:
    """A MAD-X 2.0 task adapter (conf/task_module/adapter.yaml) with its head on the BERT NLI classifier."""
    setup = ws.setup("nli", "bert")
    model, module, _, base_hash = ws.train(method, setup, {"reduction_factor": 16, "leave_out": [-1]})
    config = setup.model().body.config
    h, m = config.hidden_size, config.hidden_size // 16
    layers = config.num_hidden_layers - 1  # no adapter in the last layer
    expected = layers * (2 * h * m + m + h)  # eq. 2.8: down (h x m + m) and up (m x h + h) per layer
    return Trained(method, setup, module, expected, True, base_hash, save(ws, method, module))


@case("madg")
def madg_case(ws: Workspace, method: str) -> Trained:
    """MAD-G's modules are generated, not trained: the adapter a generator (xlt.methods.madg.artifact)
    generates for a language, attached without a head to the XLM-R NLI classifier, as the task
    pipeline attaches language adapters."""
    from xlt.methods.madg.artifact import GeneratorArtifact, build_generator
    from xlt.methods.madg.config import MadgConfig

    setup = ws.setup("nli", "xlmr")
    model = setup.model()
    base_hash = base_weights_hash(model.body)
    cfg = MadgConfig(languages=["en", "qu"], reduction_factor=4, language_dim=4, init_std=0.1)
    cfg.validate("lang_module")
    generator = build_generator(cfg, model, seed=0)
    artifact = GeneratorArtifact(generator, {"base_model": setup.path, "base_hash": base_hash})
    module = artifact.generate("quy")
    # the generator round-trips too: the reloaded generator generates the same adapter
    artifact.save(ws.tmp / "generator")
    regenerated = GeneratorArtifact.load(ws.tmp / "generator").generate("quy")
    for (name, param), (_, again) in zip(module.adapter.named_parameters(), regenerated.adapter.named_parameters()):
        assert torch.equal(param, again), name
    h = model.body.config.hidden_size
    expected = model.body.config.num_hidden_layers * 2 * h * (h // 4)  # 2hm per layer, no biases (§3.3.1)
    return Trained(method, setup, module, expected, False, base_hash, save(ws, method, module))


@case("spiel_ag", "spiel_ma")
def spiel_case(ws: Workspace, method: str) -> Trained:
    """SpIEL on the tiny Llama with the instruction family, with one drop/grow update in its two steps:
    SpIEL-AG at a LoRA-rank-2-equivalent budget, SpIEL-MA at a density of the model's parameters."""
    setup = ws.setup("instruct", "llama")
    budget = {"rank": 2, "density": None} if method == "spiel_ag" else {"rank": None, "density": 0.01}
    model, module, summary, base_hash = ws.train(method, setup, {**budget, "interval": 2, "window": 1})
    assert summary["updates"] == 1  # the budget holds after a reselection
    backbone = setup.model().backbone
    if method == "spiel_ag":
        expected = lora_parameters(backbone.model, 2)  # r x sum(d_in + d_out) over the targets (§7.4.4)
    else:
        expected = round(0.01 * sum(p.numel() for p in backbone.parameters()))
    return Trained(method, setup, module, expected, True, base_hash, save(ws, method, module))


@case("lora", "ia3")
def peft_case(ws: Workspace, method: str) -> Trained:
    """LoRA (rank 2, every linear layer of the blocks) and (IA)^3 (peft's Llama defaults) on the tiny
    Llama with the instruction family."""
    setup = ws.setup("instruct", "llama")
    config = {"rank": 2, "dropout": 0.0} if method == "lora" else {}
    model, module, _, base_hash = ws.train(method, setup, config)
    blocks = setup.model().backbone.model
    if method == "lora":
        expected = lora_parameters(blocks, 2)
    else:  # a vector per target: k_proj, v_proj scale their outputs, the feed-forward down_proj its input
        linears = body_linears(blocks)
        expected = sum(m.out_features for name, m in linears.items() if name.endswith(("k_proj", "v_proj")))
        expected += sum(m.in_features for name, m in linears.items() if name.endswith("down_proj"))
    return Trained(method, setup, module, expected, True, base_hash, save(ws, method, module))


# ----------------------------------------------------------------------------- the matrix
COVERED = sorted(set(METHODS.names()) - set(EXCLUDED))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_xlmr_path, tiny_bert_path, llama_path) -> Callable[[str], Trained]:
    ws = Workspace(tmp_path_factory.mktemp("contracts"),
                   {"xlmr": tiny_xlmr_path, "bert": tiny_bert_path, "llama": llama_path})
    done: dict[str, Trained] = {}

    def get(method: str) -> Trained:
        if method not in CASES:
            pytest.fail(f"method {method!r} is registered but has no contract case: add one to CASES in "
                        f"{Path(__file__).name} (how to train it on a tiny model, and its budget formula)")
        if method not in done:
            done[method] = CASES[method](ws, method)
        return done[method]

    return get


def load(t: Trained) -> ModuleArtifact:
    loader = METHODS.get(t.method).load
    assert loader is not None, f"{t.method}: no artifact loader registered"
    return loader(t.directory)


def ready(module: ModuleArtifact, base_hash: str) -> ModuleArtifact:
    module.check_base(base_hash, "contract")  # the pipeline checks the base once before attaching
    return module


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, by name (copies)."""
    return {**{f"param:{n}": p.detach().clone() for n, p in model.named_parameters(remove_duplicate=False)},
            **{f"buffer:{n}": b.detach().clone() for n, b in model.named_buffers(remove_duplicate=False)}}


def artifact_budget(t: Trained, module: ModuleArtifact) -> int:
    """The number of trained entries the saved artifact holds (read from what the loader gives back, or
    from the files themselves)."""
    from xlt.methods.adapters.artifact import AdapterModule
    from xlt.methods.core.sft import SFTModule
    from xlt.methods.peft.procedure import PeftModule

    if isinstance(module, SFTModule):
        for name, delta in module.sft.diffs.items():  # K distinct entries, not K writes
            assert torch.unique(delta.flat_indices()).numel() == delta.num_entries, name
        return module.sft.num_entries
    if isinstance(module, AdapterModule):  # the adapter's tensors, not its task head's
        with safe_open(str(t.directory / "adapter.safetensors"), "pt") as handle:
            return sum(_numel(handle.get_slice(key).get_shape()) for key in handle.keys() if key.startswith("adapter."))
    if isinstance(module, PeftModule):
        with safe_open(str(t.directory / "adapter" / "adapter_model.safetensors"), "pt") as handle:
            return sum(_numel(handle.get_slice(key).get_shape()) for key in handle.keys())
    raise AssertionError(f"{t.method}: artifact_budget does not know {type(module).__name__}: add it")


def _numel(shape: list[int]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def test_every_registered_method_has_a_contract_case():
    """The matrix is the registry: every method is covered or excluded with a reason, nothing stale."""
    registered = set(METHODS.names())
    assert set(EXCLUDED) <= registered, f"stale exclusions: {set(EXCLUDED) - registered}"
    assert all(reason.strip() for reason in EXCLUDED.values())
    assert set(CASES) <= registered, f"cases of unregistered methods: {set(CASES) - registered}"
    assert set(COVERED) == registered - set(EXCLUDED) == set(CASES), \
        f"registered methods without a contract case: {sorted(registered - set(EXCLUDED) - set(CASES))}"
    for name in EXCLUDED:  # an excluded method has nothing to train or load
        spec = METHODS.get(name)
        assert spec.procedure is None and spec.loader is None, name


@pytest.mark.parametrize("method", COVERED)
def test_exact_budget(method, trained):
    t = trained(method)
    assert artifact_budget(t, load(t)) == t.expected_budget


@pytest.mark.parametrize("method", COVERED)
def test_save_load_round_trip(method, trained):
    t = trained(method)
    base = t.setup.model()
    reference = t.setup.output(base)
    outputs = []
    for module in (t.module, load(t)):
        model = t.setup.model()
        handle = ready(module, t.base_hash).attach(model, with_head=t.with_head)
        outputs.append(t.setup.output(model))
        handle.remove()
    in_memory, loaded = outputs
    assert not torch.equal(in_memory, reference), "the module changes nothing: the round trip would be vacuous"
    assert torch.equal(in_memory, loaded)


@pytest.mark.parametrize("method", COVERED)
def test_attach_then_remove_restores_the_bytes(method, trained):
    t = trained(method)
    for module in (t.module, load(t)):
        model = t.setup.model()
        before, output = state(model), t.setup.output(model)
        handle = ready(module, t.base_hash).attach(model, with_head=t.with_head)
        assert not torch.equal(t.setup.output(model), output)
        handle.remove()
        after = state(model)
        assert after.keys() == before.keys()
        changed = [name for name, tensor in before.items()
                   if tensor.dtype != after[name].dtype or not torch.equal(tensor, after[name])]
        assert not changed, f"{method}: not restored: {changed[:5]}"
        assert torch.equal(t.setup.output(model), output)  # and no hook is left behind


@pytest.mark.parametrize("method", COVERED)
def test_base_hash_mismatch_raises(method, trained):
    t = trained(method)
    other = t.setup.model()  # the same architecture with other base weights
    with torch.no_grad():
        next(iter(other.body.parameters())).add_(1.0)
    other_hash = base_weights_hash(other.body)
    assert other_hash != t.base_hash
    from xlt.methods.core.sft import SFTModule

    for module in (t.module, load(t)):
        module.check_base(t.base_hash, "contract")  # its own base passes
        with pytest.raises(ArtifactError):
            module.check_base("0" * 64, "contract")
        with pytest.raises(ArtifactError):
            module.check_base(other_hash, "contract")
        if isinstance(module, SFTModule):  # applying the SFT to the other model's body is refused, untouched
            before = state(other)
            with pytest.raises(ArtifactError):
                module.sft.apply(other.body, with_abs=False, base_hash=other_hash)
            after = state(other)
            assert all(torch.equal(tensor, after[name]) for name, tensor in before.items())
