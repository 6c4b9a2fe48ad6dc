"""The world's causal LM (``pretrained_lm`` stage), its instruction data and chapter 7's finding on it (issue 15;
docs/fidelity.md): keys, bad configurations, determinism, gold labels through the real readers, the finding's
runs planned on a tiny world; slow: pretraining puts seen languages' held-out loss below unseen ones' and the
chapter 7 experiment runs end to end through ``run_experiment``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from xlt.data.world.world import LAYOUT, SIZE_PRESETS, write_world
from xlt.errors import ConfigError, DataError
from xlt.pipeline.stages.lm_pretraining import LmPretrainingConfig, lm_pretraining_stage

# a model small enough to build in seconds on the tiny world (60/20/20 corpus lines)
TINY_LM = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=300,
               max_position_embeddings=128, steps=4, batch_size=4, heldout_lines=5)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny world's data and its instruction data; placeholder model directories (enough to plan)."""
    from xlt.data.world.instruct import write_instruction_data

    root = tmp_path_factory.mktemp("world")
    write_world(root / "data", 0, SIZE_PRESETS["tiny"])
    write_instruction_data(root / "data", root / "instruct")
    for name in ("encoder", "lm"):
        (root / name).mkdir()
        (root / name / "config.json").write_text("{}")
    return root


def _build(world_dir: Path, store: Path, cfg: LmPretrainingConfig, seed: int | None = None):
    from xlt.pipeline.runner import Runner
    from xlt.pipeline.store import ArtifactStore

    stage = lm_pretraining_stage(world_dir, cfg, seed)
    return Runner(ArtifactStore(store), store.parent / f"{store.name}-runs").run([stage])[stage.label]


def test_key_follows_the_worlds_content_the_configuration_and_the_seed(world, tmp_path):
    stage = lm_pretraining_stage(world / "data")
    assert stage.kind == "pretrained_lm" and stage.label == "pretrain-lm/world-0"
    assert stage.key == lm_pretraining_stage(world / "data").key
    assert stage.key != lm_pretraining_stage(world / "data", seed=1).key
    assert stage.key != lm_pretraining_stage(world / "data", LmPretrainingConfig(steps=10)).key
    other = tmp_path / "other"
    write_world(other, 1, SIZE_PRESETS["tiny"])
    assert stage.key != lm_pretraining_stage(other, seed=0).key  # another world's content, the same seed


@pytest.mark.parametrize(("change", "key"), [({"hidden_size": 0}, "lm_pretraining.hidden_size"),
                                             ({"vocab_size": 10}, "lm_pretraining.vocab_size"),
                                             ({"lr": 0}, "lm_pretraining.lr"),
                                             ({"block_size": 1024}, "lm_pretraining.max_position_embeddings"),
                                             ({"hidden_size": 130}, "lm_pretraining.hidden_size")])
def test_bad_configurations_fail_in_one_line_naming_the_key(world, change, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as error:
        lm_pretraining_stage(world / "data", LmPretrainingConfig(**change))
    assert "\n" not in str(error.value)


def test_a_world_without_training_text_fails_in_one_line(world, tmp_path):
    with pytest.raises(DataError, match="heldout_lines"):  # the tiny world's corpora are shorter than 200 lines
        _build(world / "data", tmp_path / "store", LmPretrainingConfig(**{**TINY_LM, "heldout_lines": 200}))


def test_two_builds_of_one_seed_give_the_same_bytes_and_load_as_a_llama(world, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = LmPretrainingConfig(**TINY_LM)
    first = _build(world / "data", tmp_path / "a", cfg)
    second = _build(world / "data", tmp_path / "b", cfg)
    for name in ("tokenizer.json", "config.json", "model.safetensors"):
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name
    metrics = first.metrics
    assert metrics["steps"] == 4 and metrics["seen"] == ["qma", "qmb", "qfa", "qfb", "qia", "qib"]
    assert all(f"heldout/{lang}/loss" in metrics for lang in [*metrics["seen"], *metrics["unseen"]])
    model = AutoModelForCausalLM.from_pretrained(first.path)
    tokenizer = AutoTokenizer.from_pretrained(first.path)
    assert model.config.model_type == "llama" and not model.config.tie_word_embeddings
    assert tokenizer.bos_token == "<s>" and tokenizer.eos_token == "</s>" and tokenizer.pad_token is not None
    assert tokenizer("Gu husla.")["input_ids"][0] == tokenizer.bos_token_id


def _world_rows(data: Path, task: str, split: str) -> list[tuple[str, str]]:
    """(input text, gold label) read directly from the world's files (no xlt reader)."""
    path = data / LAYOUT[task].format(lang="qma", split=split)
    with open(path, encoding="utf-8", newline="") as handle:
        if task == "sa":
            return [(row["text"], row["label"]) for row in csv.DictReader(handle)]
        return [(f"{row['premise']}\n{row['hypothesis']}", row["label"])
                for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]


def test_instruction_data_carry_the_worlds_gold_labels_and_pass_the_real_readers(world, tmp_path):
    from datasets import Dataset

    from xlt.data.locations import DataLocation, load_location
    from xlt.data.world.instruct import TASKS, instruction_data_current, write_instruction_data
    from xlt.models.tiny import _train_tokenizer
    from xlt.tasks.instruction import InstructionConfig, InstructionFamily, MultipleChoiceConfig

    out = world / "instruct"
    records = load_location(DataLocation(path=str(out / "train.json")), "train")
    train = {task: _world_rows(world / "data", task, "train") for task in TASKS}
    assert len(records) == sum(map(len, train.values()))
    got = {task: [(r["input"], r["output"]) for r in records if r["instruction"] == spec["instruction"]]
           for task, spec in TASKS.items()}
    for task, rows in train.items():
        assert got[task] == [(text, f"The answer is: {label}") for text, label in rows]
    for split in ("dev", "test"):
        questions = load_location(DataLocation(path=str(out / f"mc/{split}.jsonl")), split)
        expected = [(f"{TASKS[task]['instruction']}\n\n{text}", TASKS[task]["subject"], label)
                    for task in TASKS for text, label in _world_rows(world / "data", task, split)]
        assert [(q["question"], q["subject"], q["choices"][q["answer"]]) for q in questions] == expected
    # the instruction family reads both (Alpaca format detected; MMLU format scored as the recipe does)
    tokenizer = _train_tokenizer("llama", 300, 512, (line for line in (world / "data/corpora/qma.txt").open()))
    mc = MultipleChoiceConfig(num_fewshot=0, choice_format="text", chat_format=True, max_seq_length=512)
    family = InstructionFamily(InstructionConfig(max_seq_length=512, multiple_choice=mc), tokenizer)
    examples = family.preprocess(Dataset.from_list(records.to_list()), "train")
    assert len(examples) == len(records)
    test = load_location(DataLocation(path=str(out / "mc/test.jsonl")), "test")
    assert len(family.preprocess_multiple_choice(test, "test")) == 3 * len(test)
    # deterministic: rewriting gives the same bytes, and the manifest ties the data to the world
    again = write_instruction_data(world / "data", tmp_path / "instruct")
    for name in ("train.json", "mc/dev.jsonl", "mc/test.jsonl", "instruct.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert instruction_data_current(world / "data", out)
    other = tmp_path / "other"
    write_world(other, 1, SIZE_PRESETS["tiny"])
    assert not instruction_data_current(other, out)


def _plan(overrides, world, tmp_path):
    from helpers import compose_config

    from xlt.pipeline.experiment import Experiment
    from xlt.pipeline.recipes import plan_experiment

    experiment = Experiment(compose_config([*overrides, "seed=0", f"paths.world={world}"], tmp_path), tmp_path / "run")
    return experiment, {stage.label: stage for stage in plan_experiment(experiment).stages}


def test_the_lm_findings_runs_plan_instruction_tuning_of_the_worlds_lm(world, tmp_path):
    from xlt.report.findings import FINDINGS

    entry = FINDINGS["spiel_ag_vs_lora_lm"]
    assert entry.chapter == 7 and entry.at_least and entry.world_lm and "Table 7.2" in entry.thesis
    assert set(entry.runs) == {"spiel_ag", "lora"} and not FINDINGS["spiel_ag_vs_lora"].world_lm
    plans = {run: _plan([*entry.base, *overrides], world, tmp_path) for run, overrides in entry.runs.items()}
    for run, (experiment, stages) in plans.items():
        assert set(stages) == {"task", "eval/qma", "eval_base/qma"}, run
        assert experiment.model.name_or_path == str(world / "lm") and experiment.model.architecture == "llama"
        assert experiment.model.num_parameters is None and experiment.model.lora_params_per_rank is None
        assert experiment.trainer.precision == "32-true" and experiment.task_module.rank == 2
        train = experiment.task_cfg["train"]
        assert train["lr"] == 1e-3 and train["max_steps"] == 600 and train["batch_size"] == 16
        assert experiment.data.source_location("train").path == str(world / "instruct/train.json")
        assert experiment.data.target_location("qma", "test").path == str(world / "instruct/mc/test.jsonl")
        mc = experiment.task_cfg["multiple_choice"]
        assert (mc["num_fewshot"], mc["choice_format"], mc["chat_format"]) == (0, "text", True)
    assert plans["lora"][0].task_module.alpha == 0.5  # Table 7.1's alpha/r = 16/64
    assert plans["spiel_ag"][0].task_module.weight_decay == 3.0  # Table 7.1's lr x lambda = 3e-3 per step
    assert plans["spiel_ag"][1]["eval_base/qma"].key == plans["lora"][1]["eval_base/qma"].key  # one base model
    assert plans["spiel_ag"][1]["task"].key != plans["lora"][1]["task"].key


@pytest.mark.slow
def test_pretraining_puts_seen_languages_below_unseen_ones(tmp_path):
    """A 2-layer LM, 300 steps on the small world: every seen language's held-out loss below every unseen one's
    mean (about 2 minutes on the shared machine)."""
    data = tmp_path / "data"
    write_world(data, 0, SIZE_PRESETS["small"])
    cfg = LmPretrainingConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=176,
                              vocab_size=1000, steps=300, batch_size=8)
    metrics = _build(data, tmp_path / "store", cfg).metrics
    seen = [metrics[f"heldout/{lang}/loss"] for lang in metrics["seen"]]
    unseen = [metrics[f"heldout/{lang}/loss"] for lang in metrics["unseen"]]
    assert max(seen) < sum(unseen) / len(unseen), metrics
    assert sum(seen) / len(seen) < min(unseen) + 0.5, metrics


@pytest.mark.slow
def test_the_chapter_7_experiment_runs_on_a_tiny_world(tmp_path, cache_dir, monkeypatch):
    """prepare_world builds the LM and the instruction data; both of the finding's runs go through the real
    recipe (a few steps), train the same number of parameters and score the MC test set."""
    from hydra import compose, initialize_config_dir

    from xlt.pipeline.run import run_experiment
    from xlt.pipeline.stages.pretraining import PretrainingConfig
    from xlt.pipeline.world import prepare_world
    from xlt.report.findings import FINDINGS

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    root = tmp_path / "world"
    encoder = PretrainingConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                vocab_size=300, max_position_embeddings=128, steps=2, heldout_lines=5)
    prepared = prepare_world(root, 0, "tiny", tmp_path / "artifacts", encoder, nmt=False, lm=True,
                             lm_pretraining=LmPretrainingConfig(**TINY_LM))
    assert (root / "lm").resolve() == prepared.lm.resolve() and prepared.instruct == root / "instruct"
    assert (root / "instruct/train.json").is_file()
    entry = FINDINGS["spiel_ag_vs_lora_lm"]
    results = {}
    for run, overrides in entry.runs.items():
        everything = [*entry.base, *overrides, "task.train.max_steps=3", "seed=0", f"paths.world={root}",
                      f"paths.artifacts={tmp_path / 'artifacts'}", f"paths.root={tmp_path}"]
        with initialize_config_dir(str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=everything)
        results[run] = run_experiment(cfg, tmp_path / f"run-{run}", overrides=everything)
    spiel, lora = results["spiel_ag"]["modules"]["task"], results["lora"]["modules"]["task"]
    assert spiel["k"] == lora["num_trainable"] > 0 and spiel["train/steps"] == lora["train/steps"] == 3
    for result in results.values():
        assert result["metric"] == "accuracy" and 0 <= result["languages"]["qma"]["accuracy"] <= 1
        assert 0 <= result["base"]["qma"]["accuracy"] <= 1
    a, b = entry.measure(results)
    assert 0 <= a <= 100 and 0 <= b <= 100
    assert json.loads((tmp_path / "run-lora/results.json").read_text())["experiment"] == "spiel_alpaca"


def test_instruction_tuning_under_the_encoders_world_profile_is_refused_in_one_line(world, tmp_path):
    """+world=synthetic loads the world's encoder (BERT-shaped): an instruction task would load it as a causal LM
    with a random output layer. Refused before anything runs, pointing at +world=synthetic_lm."""
    from helpers import compose_config

    from xlt.errors import ConfigError
    from xlt.pipeline.experiment import Experiment

    cfg = compose_config(["+experiment=spiel_alpaca", "+world=synthetic", "seed=0", f"paths.world={world}"], tmp_path)
    with pytest.raises(ConfigError, match=r"^model.architecture=bert: task.family=instruction tunes a causal LM, "
                                          r"not an encoder; on the synthetic world use \+world=synthetic_lm$"):
        Experiment(cfg, tmp_path / "run")
