"""Chapter 7's experiments end to end on the smoke profile (tiny Llama, bundled instruction data):
SpIEL/LoRA/(IA)^3/full/quantised training through Lightning, artifacts, evaluation, composition and
the merged-model export."""

from __future__ import annotations

import io
import json
from pathlib import Path

import datasets
import pytest
import torch
from rich.console import Console

from tests.helpers import compose_config
from xlt.data.synthetic import SAMPLES_DIR
from xlt.methods.core.sft import SparseFineTuning
from xlt.models.loading import base_weights_hash
from xlt.pipeline.run import run_experiment
from xlt.tasks.instruction import InstructionFamily

FAST = ["trainer.max_steps_per_phase=26", "task.multiple_choice.num_fewshot=0", "recipe.evaluate_base=false"]


def run(overrides: list[str], tmp_path: Path, cache_dir: Path, monkeypatch) -> dict:
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config(overrides, tmp_path / "root")
    return run_experiment(cfg, tmp_path / "run", console=Console(file=io.StringIO()))


def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(run_dir / "logs" / "task" / "train" / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def test_spiel_ag_pipeline_updates_saves_evaluates_and_exports(tmp_path, cache_dir, monkeypatch):
    results = run(["+experiment=spiel_flan", "+profile=smoke", *FAST, "task_module.interval=10",
                   "task_module.window=3", "task.train.lr=1e-2", "task_module.weight_decay=0",
                   "recipe.export_merged=true"], tmp_path, cache_dir, monkeypatch)
    module = results["modules"]["task"]
    assert module["train/steps"] == 26 and module["updates"] == 3  # updates after steps 3, 13, 23
    assert 0 < module["replaced"] and 0.0 <= results["languages"]["mmlu"]["accuracy"] <= 1.0
    sft = SparseFineTuning.load(Path(results["artifacts"]["task"]) / "sft.safetensors")
    assert sft.num_entries == module["k"] == sft.meta["k"]
    assert set(sft.meta["grown_at"]) <= {"0", "3", "13", "23"} and "3" in sft.meta["grown_at"]
    assert all(name.endswith("_proj.weight") and d.indices.dtype == torch.int32 for name, d in sft.diffs.items())
    assert all(torch.unique(d.indices).numel() == d.indices.numel() for d in sft.diffs.values())
    assert sum(int((d.values != 0).sum()) for d in sft.diffs.values()) > 0.5 * sft.num_entries
    assert [float(r["train/spiel_replaced"]) for r in metrics_rows(tmp_path / "run") if r.get("train/spiel_replaced")]
    # the exported merged model is base + the SFT, and it fits the training data better than the base
    from transformers import AutoModelForCausalLM, AutoTokenizer

    exported = AutoModelForCausalLM.from_pretrained(results["export"])
    assert exported.dtype == torch.bfloat16  # the experiment's (Llama-2) dtype; PEFT values stay float32
    base = AutoModelForCausalLM.from_pretrained(sft.meta["base_model"], dtype=torch.bfloat16)
    family = InstructionFamily({"name": "instruct"}, AutoTokenizer.from_pretrained(sft.meta["base_model"]))
    rows = [json.loads(line) for line in (SAMPLES_DIR / "instruction/flan_v2_resampled_50k.jsonl").open()][:64]
    batch = family.collator()(family.preprocess(datasets.Dataset.from_list(rows), "flan"))
    with torch.no_grad():
        assert exported(**batch).loss < base(**batch).loss - 0.1
    sft.apply(base.model, base_hash=base_weights_hash(base.model))  # the base it was trained on
    with torch.no_grad():
        assert torch.equal(exported(batch["input_ids"]).logits, base(batch["input_ids"]).logits)


@pytest.mark.parametrize("method", ["spiel_ma", "lora"])
def test_spiel_ma_and_lora_pipelines(method, tmp_path, cache_dir, monkeypatch):
    results = run(["+experiment=spiel_flan", "+profile=smoke", *FAST, f"task_module={method}"],
                  tmp_path, cache_dir, monkeypatch)
    module_dir = Path(results["artifacts"]["task"])
    if method == "lora":
        config = json.loads((module_dir / "adapter" / "adapter_config.json").read_text())
        assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (64, 16, 0.1)
        assert {name.rsplit(".", 1)[-1] for name in config["target_modules"]} == {
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}  # not lm_head
    else:
        assert results["modules"]["task"]["updates"] == 2  # steps 5 and 25
        assert SparseFineTuning.load(module_dir / "sft.safetensors").meta["method"] == "spiel_ma"
    assert 0.0 <= results["average"]["accuracy"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ia3", "full", "qspiel_ag", "qspiel_ma", "qlora"])
def test_other_method_pipelines(method, tmp_path, cache_dir, monkeypatch):
    results = run(["+experiment=spiel_flan", "+profile=smoke", *FAST, f"task_module={method}"],
                  tmp_path, cache_dir, monkeypatch)
    summary = results["modules"]["task"]
    assert summary["phase2/steps" if method == "full" else "train/steps"] == 26
    assert 0.0 <= results["average"]["accuracy"] <= 1.0
    if method.startswith("qspiel"):
        sft = SparseFineTuning.load(Path(results["artifacts"]["task"]) / "sft.safetensors")
        assert sft.meta["quantize"] == "nf4" and all(d.values.dtype == torch.bfloat16 for d in sft.diffs.values())


@pytest.mark.slow
def test_composition_experiment_trains_both_modules_and_evaluates_their_sum(tmp_path, cache_dir, monkeypatch):
    results = run(["+experiment=spiel_composition", "+profile=smoke", *FAST, "task_module=lora",
                   "task.train.lr=1e-2", "model.dtype=float32", "recipe.export_merged=true"],
                  tmp_path, cache_dir, monkeypatch)
    assert set(results["modules"]) == {"tulu_v2", "gpt4_alpaca"}
    assert results["harness"].startswith("skipped")
    from transformers import AutoModelForCausalLM

    from xlt.methods.peft.wrappers import lora_update

    exported = AutoModelForCausalLM.from_pretrained(results["export"])
    base = AutoModelForCausalLM.from_pretrained(json.loads(
        (Path(results["artifacts"]["task/tulu_v2"]) / "module.json").read_text())["base_model"])
    updates = [lora_update(Path(results["artifacts"][f"task/{n}"]) / "adapter") for n in ("tulu_v2", "gpt4_alpaca")]
    assert all(max(float(d.abs().max()) for d in update.values()) > 1e-3 for update in updates)
    merged = dict(exported.named_parameters())
    for name, param in base.named_parameters():
        expected = param.detach().clone()
        for update in updates:
            for key, delta in update.items():
                if name == key.split("base_model.model.", 1)[-1] + ".weight":
                    expected += delta
        assert torch.allclose(merged[name], expected, atol=1e-6), name


# every experiment's smoke run (spiel_flan, spiel_alpaca, spiel_tulu, spiel_composition as configured):
# tests/test_experiments.py
