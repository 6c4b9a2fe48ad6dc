"""MAD-X and MAD-G experiments end to end on the smoke profile (offline, tiny models, bundled samples)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoConfig

from tests.helpers import compose_config, launch, read_json
from xlt.errors import ConfigError
from xlt.methods.adapters.bottleneck import active_adapters
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.run import run_experiment
from xlt.pipeline.stages import load_module
from xlt.tasks import build_task
from xlt.typology import closest_language

FAST = ["trainer.max_steps_per_phase=6", "lang_module.train.batch_size=8"]
AMERICASNLI = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]


def run(overrides: list[str], root: Path, run_dir: Path, monkeypatch, cache_dir) -> dict:
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    return run_experiment(compose_config(overrides, root), run_dir)


def test_madx_runs_in_the_zero_shot_recipe_unchanged(tmp_path, cache_dir, monkeypatch):
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", "lang_module=adapter", "task_module=adapter",
                 "data.targets=[gn,bzd]", *FAST]
    results = run(overrides, tmp_path / "root", tmp_path / "run", monkeypatch, cache_dir)
    assert set(results["languages"]) == {"gn", "bzd"}
    assert all(0 <= results["languages"][lang]["accuracy"] <= 1 for lang in ("gn", "bzd"))
    language = load_module("adapter", tmp_path / "run" / "artifacts" / "lang" / "bzd")
    task = load_module("adapter", tmp_path / "run" / "artifacts" / "task")
    assert language.adapter.shape.invertible and language.adapter.shape.bottleneck == 32  # rf 2 of hidden 64
    assert not task.adapter.shape.invertible and task.adapter.shape.bottleneck == 4  # rf 16
    layers = AutoConfig.from_pretrained(language.meta["base_model"]).num_hidden_layers
    for adapter in (language.adapter, task.adapter):  # MAD-X 2.0 (§4.4.1): no adapter in the last layer
        assert adapter.shape.layers == tuple(range(layers - 1)) and str(layers - 1) not in adapter.layers
    assert task.head and all(key.startswith("head.") for key in task.head)
    assert (tmp_path / "run" / "artifacts" / "task" / "adapter_config.json").is_file()
    again = run(overrides, tmp_path / "root", tmp_path / "again", monkeypatch, cache_dir)
    assert {stage["status"] for stage in again["stages"].values()} == {"cached"}
    assert again["languages"] == results["languages"]


def test_madg_transfer_to_seen_and_unseen_targets_and_its_variants(tmp_path, cache_dir, monkeypatch):
    base = ["+experiment=madg_americasnli", "+profile=smoke", "data.targets=[gn,bzd]", *FAST]
    results = run(base, tmp_path / "root", tmp_path / "madg", monkeypatch, cache_dir)
    assert set(results["languages"]) == {"gn", "bzd"} and "accuracy" in results["average"]
    assert results["typology"]["gn"] == {"uriel": "grn", "seen_by_generator": True}
    assert results["typology"]["bzd"] == {"uriel": "bzd", "seen_by_generator": False}  # unseen by the generator
    assert "gn" in results["generator_languages"] and "bzd" not in results["generator_languages"]
    assert results["stages"]["generator"]["status"] == "built"
    generated = load_module("madg", Path(results["artifacts"]["lang/bzd"]))
    assert generated.meta["method"] == "madg" and not generated.adapter.shape.bias
    assert results["protocol"]["name"] == "target" and results["protocol"]["inference"] == {"gn": "gn", "bzd": "bzd"}
    # MAD-G-en (English adapter at inference) reuses the generator and the task adapter
    english = run([*base, "recipe.protocol=source"], tmp_path / "root", tmp_path / "en", monkeypatch, cache_dir)
    assert english["stages"]["generator"]["status"] == "cached" and english["stages"]["task"]["status"] == "cached"
    assert set(english["languages"]) == {"gn", "bzd"}
    assert english["protocol"]["name"] == "source" and english["protocol"]["inference"] == {"gn": "en", "bzd": "en"}
    # TA-only (§3.4.2): a task adapter trained and evaluated without any language adapter, no generator
    ta_only = run([*base, "recipe.protocol=ta_only"], tmp_path / "root", tmp_path / "none", monkeypatch, cache_dir)
    assert set(ta_only["stages"]) == {"task", "eval/gn", "eval/bzd"} and set(ta_only["languages"]) == {"gn", "bzd"}
    assert ta_only["stages"]["task"]["status"] == "built" and ta_only["protocol"]["name"] == "ta_only"


def test_generated_adapter_for_any_language_loads_into_the_task_pipeline(tmp_path, cache_dir, monkeypatch):
    overrides = ["+experiment=madg_train", "+profile=smoke", "recipe.generate=[ain]", *FAST]
    results = run(overrides, tmp_path / "root", tmp_path / "run", monkeypatch, cache_dir)
    training = ["en", "aym", "gn", "nah", "quy", "eu", "fi", "tr", "mt"]
    assert set(results["languages"]) == set(training) and results["metric"] == "loss"
    assert all({"loss", "loss_base"} <= set(results["languages"][lang]) for lang in training)
    assert results["typology"]["ain"] == {"uriel": "ain", "seen_by_generator": False}
    assert results["generator"]["parameters/W"] == 2 * 64 * 32 * 2 * 32  # 2hm n_b d_l for the tiny model
    # Ainu's generated adapter (Ainu has no corpus anywhere here) goes into an NLI task model
    exp = Experiment(compose_config(["+experiment=madg_americasnli", "+profile=smoke"], tmp_path / "root"),
                     tmp_path / "x")
    family = build_task(exp.task_cfg, exp.tokenizer)
    model = family.build_model(exp.model_path, exp.model)
    module = load_module("madg", Path(results["generated"]["ain"]))
    module.check_base(exp.base_hash(model.body), "generated/ain")
    batch = family.collator()(family.preprocess(_nli_rows(), "t")[:2])
    before = model.logits(batch)
    handle = module.attach(model, with_head=False)
    assert len(active_adapters(model.backbone)) == 1 and not torch.allclose(model.logits(batch), before)
    handle.remove()


def _nli_rows():
    import datasets

    return datasets.Dataset.from_dict({"premise": ["a b c", "d e"], "hypothesis": ["a b", "e"],
                                       "label": ["entailment", "neutral"]})


def test_madg_ft_and_rand_ft_fine_tune_the_target_adapters(tmp_path, cache_dir, monkeypatch):
    base = ["+experiment=madg_ft", "+profile=smoke", "data.targets=[bzd]", "recipe.finetune.words=300", *FAST]
    generated = run([*base, "recipe.finetune.init=generated"], tmp_path / "root", tmp_path / "g", monkeypatch,
                    cache_dir)
    random = run([*base, "recipe.finetune.init=random"], tmp_path / "root", tmp_path / "r", monkeypatch, cache_dir)
    assert random["stages"]["task"]["status"] == "cached" and "lang/bzd" not in random["stages"]
    tuned = {name: load_module("madg", Path(r["artifacts"]["lang_ft/bzd"])) for name, r in
             (("generated", generated), ("random", random))}
    assert tuned["generated"].meta["words"] == tuned["random"].meta["words"] == 300
    assert tuned["generated"].meta["init"] == "generated" and tuned["random"].meta["init"] == "random"
    start = load_module("madg", Path(generated["artifacts"]["lang/bzd"])).adapter
    after = tuned["generated"].adapter
    assert after.shape == start.shape == tuned["random"].adapter.shape
    assert not torch.equal(after.layers["0"].down.weight, start.layers["0"].down.weight)  # it was fine-tuned
    assert (after.layers["0"].down.weight - start.layers["0"].down.weight).abs().max() < 0.1  # ... from there


def test_madx_fallback_uses_the_closest_pool_language(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config(["+experiment=madx_americasnli", "+profile=smoke", "recipe.language_module_pool=[en,gn,quy]"],
                         tmp_path)
    plan = plan_experiment(Experiment(cfg, tmp_path / "run"))
    labels = {stage.label: stage for stage in plan.stages}
    assert sorted(label for label in labels if label.startswith("lang/")) == ["lang/en", "lang/gn", "lang/quy"]
    for target in AMERICASNLI:
        expected = target if target in ("gn", "quy") else closest_language(target, ["en", "gn", "quy"])
        assert labels[f"eval/{target}"].inputs["lang"] is labels[f"lang/{expected}"]
    with pytest.raises(ConfigError, match="is not trained per language"):
        plan_experiment(Experiment(compose_config(["+experiment=ltsft_americasnli", "+profile=smoke",
                                                  "lang_module=madg"], tmp_path), tmp_path / "r"))
    with pytest.raises(ConfigError, match="needs lang_module=madg"):
        plan_experiment(Experiment(compose_config(["+experiment=madg_americasnli", "+profile=smoke",
                                                  "lang_module=adapter"], tmp_path), tmp_path / "r"))
    with pytest.raises(ConfigError, match="'zzq' has no URIEL vector"):
        plan_experiment(Experiment(compose_config(["+experiment=madg_americasnli", "+profile=smoke",
                                                  "data.targets=[zzq]"], tmp_path), tmp_path / "r"))


# ---------------------------------------------------------------------------- the experiments as configured
# (every experiment's smoke run and what it must report: tests/test_experiments.py)
@pytest.mark.slow
def test_the_words_sweep_shares_madg_trains_generator(smoke_runs, tmp_path, cache_dir):
    smoke_runs.run("madg_train").results()  # the every-experiment test's run, or launched here
    sweep = launch(["-m", "--config-dir", "sweeps", "--config-name", "madg_ft_words", "+profile=smoke",
                    "data.targets=[bzd]", f"paths.root={smoke_runs.root}", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                   cache_dir, timeout=1200)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*/results.json"))
    assert len(jobs) == 10
    generators = {read_json(job)["stages"]["generator"]["key"] for job in jobs}
    assert len(generators) == 1  # every job shares madg_train's generator
    assert {read_json(job)["stages"]["generator"]["status"] for job in jobs} == {"cached"}
