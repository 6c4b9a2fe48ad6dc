"""Chapter 3's POS/DP/NER experiments (MAD-G, MAD-X; §3.4, Tables 3.2-3.4, A.3-A.6) on the smoke profile
(offline, tiny models, bundled samples), and their thesis settings as composed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers import compose_config, launch, read_json
from xlt.errors import ConfigError
from xlt.methods.adapters.bottleneck import active_adapters
from xlt.pipeline.data_config import parse_data_config
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.run import run_experiment
from xlt.pipeline.stages import load_module
from xlt.training.callbacks import LanguageSwitch
from xlt.typology import closest_language

FAST = ["trainer.max_steps_per_phase=6", "lang_module.train.batch_size=8"]
UD_TARGETS = ["af", "ajp", "akk", "apu", "aqz", "ar", "bam", "be", "bg", "bho", "br", "bxr", "ca", "ckt", "cs", "cu",
              "cy", "da", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "fro", "ga", "gd", "gl", "got",
              "gsw", "gun", "gv", "he", "hi", "hr", "hsb", "hu", "hy", "id", "is", "it", "ja", "kfm", "kk", "kmr",
              "ko", "koi", "kpv", "krl", "la", "lt", "lv", "lzh", "mdf", "mr", "mt", "myu", "myv", "nl", "no", "nyq",
              "olo", "orv", "pcm", "pl", "pt", "ro", "ru", "sa", "sk", "sl", "sme", "sms", "soj", "sq", "sr", "sv",
              "ta", "te", "th", "tl", "tr", "ug", "uk", "ur", "vi", "wbp", "wo", "yo", "yue", "zh"]  # Table A.2
MADG_SEEN = ["bxr", "kpv", "mt", "myv", "sme", "ug"]  # Table 3.1: not in mBERT, in MAD-G training
SOURCES = ["en", "cs", "ja", "ar", "es", "fa", "la", "et", "hi", "ko", "lv", "el", "tr", "zh", "eu", "id", "ga", "hy",
           "vi", "hu"]
MASAKHANER = ["hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor"]
FT_TARGETS = ["bam", "bho", "cu", "fo", "gd", "got", "gv", "hsb", "koi", "mdf", "olo", "sa", "wo", "yue"]
METRICS = {"pos": {"accuracy"}, "dp": {"uas", "las"}, "ner": {"f1"}}


def cfg(name: str, root: Path, *overrides: str) -> dict:
    return OmegaConf.to_container(compose_config([f"+experiment={name}", *overrides], root), resolve=True)


def run(overrides: list[str], root: Path, run_dir: Path, monkeypatch, cache_dir) -> dict:
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    return run_experiment(compose_config(overrides, root), run_dir)


def test_thesis_settings_of_the_chapter_3_task_experiments(tmp_path):
    experiments = {"madg_ud_pos": "pos", "madg_ud_dp": "dp", "madg_ud_pos_multisource": "pos",
                   "madg_ud_dp_multisource": "dp", "madg_masakhaner": "ner", "madx_ud_pos": "pos", "madx_ud_dp": "dp",
                   "madx_ud_pos_multisource": "pos", "madx_ud_dp_multisource": "dp", "madg_ft_ud": "pos"}
    for name, task in experiments.items():
        c = cfg(name, tmp_path)
        assert c["name"] == name and c["task"]["name"] == task
        assert c["model"]["name_or_path"] == "google-bert/bert-base-multilingual-cased"
        # task adapter m = 48 on mBERT's 768 (§3.4.3): reduction factor 16, no invertible part
        assert c["task_module"]["method"] == "adapter" and 768 // c["task_module"]["reduction_factor"] == 48
        assert not c["task_module"]["invertible"]
        train = c["task"]["train"]  # 15,000 steps of batch 8, lr 5e-5 (linear decay), the final state
        assert (train["max_steps"], train["max_epochs"], train["batch_size"], train["lr"]) == (15000, None, 8, 5e-5)
        assert train["select_best"] is False and train["warmup_ratio"] == 0.0
        if name.startswith("madg"):
            assert c["lang_module"]["method"] == "madg" and c["recipe"]["name"] == "madg"
            assert 768 // c["lang_module"]["reduction_factor"] == 384 and c["lang_module"]["language_dim"] == 32
        else:  # MAD-X: language adapters rf 2 + invertible, 100k steps of batch 64 x 256 tokens per language
            assert c["lang_module"]["method"] == "adapter" and c["lang_module"]["invertible"]
            assert 768 // c["lang_module"]["reduction_factor"] == 384
            lang_train = c["lang_module"]["train"]
            assert (lang_train["max_steps"], lang_train["batch_size"], lang_train["max_epochs"]) == (100000, 64, None)
            assert c["lang_module"]["mlm"]["max_seq_length"] == 256
            assert c["recipe"]["language_module_pool"] == [*SOURCES, *MADG_SEEN]  # §3.4.2
        data = c["data"]
        if task == "ner":
            assert data["targets"] == MASAKHANER and data["source"]["lang"] == "en"
            assert c["task"]["label_map"] == {"B-MISC": "O", "I-MISC": "O", "B-DATE": "O", "I-DATE": "O"}
            continue
        if name == "madg_ft_ud":
            assert data["targets"] == FT_TARGETS and list(data["sources"]) == SOURCES
            ft = c["recipe"]["finetune"]
            assert (ft["train"]["max_epochs"], ft["train"]["batch_size"], ft["train"]["lr"]) == (200, 4, 5e-5)
            continue
        assert data["targets"] == UD_TARGETS and len(UD_TARGETS) == 95  # 56 + 6 + 33 (Table 3.1)
        if name.endswith("multisource"):  # 20 languages x 600 sentences = 12,000
            assert list(data["sources"]) == SOURCES and data["source_defaults"]["max_train_examples"] == 600
        else:  # 12,000 of EWT's sentences
            assert list(data["sources"]) == ["en"] and data["source_defaults"]["max_train_examples"] == 12000
    sweep = OmegaConf.load(Path(__file__).parents[1] / "sweeps" / "madg_ft_ud_words.yaml")
    params = sweep.hydra.sweeper.params
    assert params["recipe.finetune.words"] == "1000,3000,10000,30000,100000"
    assert params["recipe.finetune.init"] == "generated,random" and params["task"] == "pos,dp"


def test_sample_targets_keep_the_targets_that_have_samples():
    node = {"name": "x", "source": {"lang": "en", "train": {"path": "t"}}, "targets": ["ar", "bam", "zh"],
            "sample_targets": ["bam", "ar", "mt"]}
    assert parse_data_config({**node, "use_samples": True}).targets == ["ar", "bam"]
    assert parse_data_config(node).targets == ["ar", "bam", "zh"]  # real data: every target
    with pytest.raises(ConfigError, match="none has bundled samples"):
        parse_data_config({**node, "use_samples": True, "targets": ["zh"]})


def test_madx_ud_pool_and_closest_language_fallback(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    for name in ("madx_ud_pos", "madx_ud_dp_multisource"):
        exp = Experiment(compose_config([f"+experiment={name}", "+profile=smoke"], tmp_path), tmp_path / name)
        plan = plan_experiment(exp)
        labels = {stage.label: stage for stage in plan.stages}
        pool = [*SOURCES, *MADG_SEEN]
        for target in exp.data.targets:  # ar, mt, myv have adapters; fo, bam get their closest pool language's
            expected = target if target in pool else closest_language(target, pool)
            assert labels[f"eval/{target}"].inputs["lang"] is labels[f"lang/{expected}"]
        assert {"fo", "bam"} <= set(exp.data.targets) and "lang/fo" not in labels and "lang/bam" not in labels
        task = labels["task"]
        expected_sources = SOURCES if name.endswith("multisource") else ["en"]
        assert sorted(task.inputs) == sorted(f"lang/{lang}" for lang in expected_sources)
        assert all(label.split("/")[1] in pool for label in labels if label.startswith("lang/"))


def test_madg_ud_pos_and_masakhaner_have_a_metric_for_every_target(tmp_path, cache_dir, monkeypatch):
    """The issue's acceptance: MAD-G POS and NER smoke runs, every target scored, unseen ones included."""
    pos = run(["+experiment=madg_ud_pos", "+profile=smoke", *FAST], tmp_path / "root", tmp_path / "pos", monkeypatch,
              cache_dir)
    assert pos["experiment"] == "madg_ud_pos" and pos["sources"] == ["en"]
    assert set(pos["languages"]) == {"ar", "mt", "myv", "fo", "bam"}  # data.sample_targets of the 95
    assert all(0.0 <= values["accuracy"] <= 1.0 for values in pos["languages"].values())
    seen = {lang for lang, info in pos["typology"].items() if info["seen_by_generator"]}
    assert seen == {"mt"}  # the smoke generator's languages: en, aym, gn, nah, quy, eu, fi, tr, mt
    ner = run(["+experiment=madg_masakhaner", "+profile=smoke", *FAST], tmp_path / "root", tmp_path / "ner",
              monkeypatch, cache_dir)
    assert ner["stages"]["generator"]["status"] == "cached"  # one generator for every task
    assert set(ner["languages"]) == set(MASAKHANER)
    assert all({"f1", "precision", "recall"} <= set(values) for values in ner["languages"].values())
    assert not any(info["seen_by_generator"] for info in ner["typology"].values())
    for lang in MASAKHANER:  # each target evaluated with its own generated adapter
        generated = load_module("madg", Path(ner["artifacts"][f"lang/{lang}"]))
        assert generated.meta["lang"] == lang and generated.meta["method"] == "madg"


def test_multisource_madg_trains_each_batch_with_its_generated_adapter(tmp_path, cache_dir, monkeypatch):
    """§3.3.3: each batch's own source language's *generated* adapter, below the task adapter (a spy on
    LanguageSwitch records what is attached at every training batch)."""
    seen: list[tuple[str, list]] = []
    original = LanguageSwitch.on_train_batch_start

    def spy(self, trainer, pl_module, batch, batch_idx):
        original(self, trainer, pl_module, batch, batch_idx)
        if trainer.training and set(self.modules) == {"en", "cs", "ja"}:  # the task stage's (not the generator's)
            seen.append((self.active, list(active_adapters(pl_module.backbone))))

    monkeypatch.setattr(LanguageSwitch, "on_train_batch_start", spy)
    drop = [f"~data.sources.{lang}" for lang in SOURCES if lang not in ("en", "cs", "ja")]
    results = run(["+experiment=madg_ud_pos_multisource", "+profile=smoke", *drop, "data.targets=[mt,bam]",
                   "trainer.max_steps_per_phase=12", "lang_module.train.batch_size=8"], tmp_path / "root",
                  tmp_path / "run", monkeypatch, cache_dir)
    assert results["sources"] == ["en", "cs", "ja"] and set(results["languages"]) == {"mt", "bam"}
    generated = {lang: load_module("madg", Path(results["artifacts"][f"lang/{lang}"])).adapter
                 for lang in ("en", "cs", "ja")}
    assert len(seen) == 12 and len({lang for lang, _ in seen}) >= 2
    for lang, active in seen:
        assert len(active) == 2 and active[0].level < active[1].level  # language adapter below the task adapter
        expected = generated[lang].state_dict()
        assert all(torch.equal(value, expected[key]) for key, value in active[0].state_dict().items())
        for other in set(generated) - {lang}:  # ... and not another language's
            assert not torch.equal(active[0].layers["0"].down.weight, generated[other].layers["0"].down.weight)
    task_dir = Path(results["artifacts"]["task"])
    metrics = json.loads((task_dir / "metrics.json").read_text())
    counts = {lang: sum(1 for seen_lang, _ in seen if seen_lang == lang) for lang in ("en", "cs", "ja")}
    assert {lang: metrics[f"batches/{lang}"] for lang in counts} == counts  # the stage's own per-language log
    trained_on = load_module("adapter", task_dir).meta["trained_on"]
    assert set(trained_on) == {"en", "cs", "ja"}


def test_madg_train_reports_what_its_generated_adapters_say(tmp_path, cache_dir, monkeypatch):
    """seen_by_generator compares URIEL codes, as the generated artifacts do (Wikipedia's ay is the smoke
    generator's aym; ain is unseen); a generator-only run trains no task: results.json says mlm, not nli."""
    results = run(["+experiment=madg_train", "+profile=smoke", "recipe.generate=[ay,ain]", "recipe.evaluate=false",
                   *FAST], tmp_path / "root", tmp_path / "run", monkeypatch, cache_dir)
    assert results["typology"]["ay"] == {"uriel": "aym", "seen_by_generator": True}
    assert results["typology"]["ain"] == {"uriel": "ain", "seen_by_generator": False}
    assert results["typology"]["mt"] == {"uriel": "mlt", "seen_by_generator": True}
    for lang, info in results["typology"].items():
        artifact = Path(results["artifacts"][f"lang/{lang}"])
        assert load_module("madg", artifact).meta["seen_by_generator"] is info["seen_by_generator"], lang
        assert json.loads((artifact / "metrics.json").read_text())["seen_by_generator"] == info["seen_by_generator"]
    assert results["task"] == "mlm" == read_json(tmp_path / "run" / "results.json")["task"]


# ---------------------------------------------------------------------------- slow: the experiments as configured
# (every experiment's smoke run, and what chapter 3's must report: tests/test_experiments.py)
@pytest.mark.slow
def test_madg_ft_ud_sweep_smoke(smoke_runs, tmp_path, cache_dir):
    result = launch(["-m", "--config-dir", "sweeps", "--config-name", "madg_ft_ud_words", "+profile=smoke",
                     "recipe.finetune.words=300", "data.targets=[fo]", f"paths.root={smoke_runs.root}",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}"], cache_dir, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [read_json(job) for job in sorted((tmp_path / "sweep").glob("[0-9]*/results.json"))]
    assert len(jobs) == 4  # task x init
    assert {job["task"] for job in jobs} == {"pos", "dp"} and all("fo" in job["languages"] for job in jobs)
    assert len({job["stages"]["generator"]["key"] for job in jobs}) == 1
