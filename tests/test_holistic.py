"""Chapter 6's holistic-transfer recipe as a plan (no training): which sources each task module trains on,
with which language modules, upsampling and validation; translate-test inputs; stage sharing (thesis §6.4.3)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.helpers import compose_config
from xlt.data.mixture import MixtureBatchSampler
from xlt.errors import ConfigError
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.recipes.holistic import CONFIGURATIONS
from xlt.pipeline.runner import Stage, topological

NLI_TARGETS = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
NLLB_LACKS = {"bzd", "cni", "hch", "nah", "oto", "shp", "tar"}  # Table 6.1's daggers
SA_TARGETS = ["ace", "ban", "bjn", "bug", "jav", "mad", "min", "nij", "sun", "bbc"]


def experiment(tmp_path: Path, cache_dir: Path, *overrides: str, name: str = "holistic_americasnli") -> Experiment:
    cfg = compose_config([f"+experiment={name}", "+profile=smoke", f"paths.cache={cache_dir}", *overrides],
                         tmp_path / "root")
    return Experiment(cfg, tmp_path / "run")


def plan(tmp_path: Path, cache_dir: Path, configuration: str, *overrides: str,
         name: str = "holistic_americasnli") -> dict[str, Stage]:
    exp = experiment(tmp_path, cache_dir, f"recipe.configuration={configuration}", *overrides, name=name)
    return {stage.label: stage for stage in topological(plan_experiment(exp).stages)}


def sources(stage: Stage) -> dict[str, dict]:
    return {entry.get("name", entry["lang"]): entry for entry in stage.spec["sources"]}


def module_inputs(stage: Stage) -> set[str]:
    return {name.split("/", 1)[1] for name in stage.inputs if name.startswith("lang/")}


def data_inputs(stage: Stage) -> dict[str, str]:
    return {name: dep.label for name, dep in stage.inputs.items() if name.startswith("data/")}


def test_every_configuration_is_one_choice_with_a_thesis_row():
    assert set(CONFIGURATIONS) == {"zs", "zs_la", "fs_single", "fs_all", "fs_la", "fs_upsample", "ttrain_single",
                                   "ttrain_all", "ttrain_all_la", "fs_ttrain_all", "ttest"}
    assert {c.row for c in CONFIGURATIONS.values()} >= {"ZS", "FS-SINGLE", "TTRAIN-ALL", "FS + TTRAIN-ALL", "TTEST"}


def test_ttrain_single_trains_each_target_on_its_translated_data_only(tmp_path, cache_dir):
    stages = plan(tmp_path, cache_dir, "ttrain_single")
    for target in NLI_TARGETS:
        task = stages[f"task/{target}"]
        assert list(sources(task)) == [f"{target}_translated"]  # no source data, no other target
        entry = sources(task)[f"{target}_translated"]
        assert entry["lang"] == target and entry["upsampling"] == 1 and entry["language_module"]
        assert len(entry["validation"]) == 1  # validated on its translated validation split
        assert module_inputs(task) == {target}
        assert set(data_inputs(task).values()) == {f"mt/{target}/train", f"mt/{target}/validation"}
        assert stages[f"eval/{target}"].inputs["task"] is task
        assert stages[f"eval/{target}"].inputs["lang"] is stages[f"lang/{target}"]
    assert "task" not in stages and "lang/en" not in stages  # the source's module is not needed
    # translation: NLLB itself for the languages it supports, NLLB adapted to the others (§6.3.3)
    for target in NLI_TARGETS:
        model = stages[f"mt/{target}/train"].inputs.get("model")
        assert (model.label if model else None) == (f"nmt/en-{target}".replace("en-", "es-")
                                                    if target in NLLB_LACKS else None)
    assert {label for label in stages if label.startswith("nmt/")} == {f"nmt/es-{t}" for t in NLLB_LACKS}
    assert stages["mt/aym/train"].spec["src"] == "eng_Latn" and stages["mt/aym/train"].spec["tgt"] == "ayr_Latn"
    assert stages["mt/bzd/train"].spec["tgt"] == "bzd_Latn"
    assert stages["mt/aym/train"].spec["fields"] == ["premise", "hypothesis"]  # each field on its own


def test_ttrain_all_and_fs_ttrain_all_hold_exactly_their_sources(tmp_path, cache_dir):
    stages = plan(tmp_path, cache_dir, "ttrain_all")
    task = stages["task"]
    assert list(sources(task)) == ["en", *(f"{t}_translated" for t in NLI_TARGETS)]
    assert all(entry["upsampling"] == 1 for entry in sources(task).values())  # translated data: never upsampled
    assert all(entry["validation"] for entry in sources(task).values())  # source + translated validation
    assert module_inputs(task) == {"en", *NLI_TARGETS}
    # the translated data of X trains with X's module (the task stage maps sources to languages)
    assert all(sources(task)[f"{t}_translated"]["lang"] == t for t in NLI_TARGETS)

    both = plan(tmp_path, cache_dir, "fs_ttrain_all")
    task = both["task"]
    names = list(sources(task))
    assert names == ["en", *(f"{t}_translated" for t in NLI_TARGETS), *(f"{t}_shots" for t in NLI_TARGETS)]
    for target in NLI_TARGETS:
        shots = sources(task)[f"{target}_shots"]
        assert shots["lang"] == target and shots["upsampling"] == 10 and shots["validation"] == []
        assert both[f"shots/{target}"].spec["k"] == 100
    assert module_inputs(task) == {"en", *NLI_TARGETS}
    # one translation per (target, split), shared with TTRAIN-ALL: the same stage keys
    assert {label: s.key for label, s in both.items() if label.startswith(("mt/", "nmt/"))} == \
        {label: s.key for label, s in stages.items() if label.startswith(("mt/", "nmt/"))}


def test_few_shot_configurations(tmp_path, cache_dir):
    single = plan(tmp_path, cache_dir, "fs_single")
    for target in NLI_TARGETS:
        task = single[f"task/{target}"]
        assert list(sources(task)) == ["en", f"{target}_shots"]  # one task module per target
        assert sources(task)["en"]["validation"] and not sources(task)[f"{target}_shots"]["validation"]
        assert module_inputs(task) == {"en", target}
    upsample = plan(tmp_path, cache_dir, "fs_upsample")
    assert sources(single["task/aym"])["aym_shots"]["upsampling"] == 10
    assert sources(upsample["task/aym"])["aym_shots"]["upsampling"] == 1
    assert single["shots/aym"].key == upsample["shots/aym"].key  # the same shots
    every = plan(tmp_path, cache_dir, "fs_all")
    assert list(sources(every["task"])) == ["en", *(f"{t}_shots" for t in NLI_TARGETS)]
    # checkpoints of FS runs are selected on the source's validation data only (§6.4.3)
    for stages, label in ((single, "task/aym"), (upsample, "task/aym"), (every, "task")):
        assert [name for name, entry in sources(stages[label]).items() if entry["validation"]] == ["en"]
    no_la = plan(tmp_path, cache_dir, "fs_la")
    assert not any(label.startswith("lang/") for label in no_la)
    assert all(not module_inputs(no_la[f"task/{t}"]) and not sources(no_la[f"task/{t}"])[f"{t}_shots"][
        "language_module"] for t in NLI_TARGETS)
    assert all("lang" not in no_la[f"eval/{t}"].inputs for t in NLI_TARGETS)
    # K = 0 is ZS (Appendix D.3): the same artifacts
    zero = plan(tmp_path, cache_dir, "fs_single", "recipe.shots.k=0")
    zs = plan(tmp_path, cache_dir, "zs")
    assert {label: s.key for label, s in zero.items()} == {label: s.key for label, s in zs.items()}


def test_upsampling_multiplies_the_shot_batches(tmp_path, cache_dir):
    """§6.3.2: with upsampling 10 each epoch holds every shot batch ten times; FS - UPSAMPLE once."""
    counts = {}
    for configuration in ("fs_single", "fs_upsample"):
        task = plan(tmp_path, cache_dir, configuration)["task/aym"]
        factors = [entry["upsampling"] for entry in task.spec["sources"]]
        sampler = MixtureBatchSampler([600, 30], 32, factors, seed=0)
        sampler.set_epoch(0)
        batches = [batch for batch in sampler]
        counts[configuration] = sum(1 for batch in batches if batch[0][1] == 1)  # the shots source's batches
        assert len(batches) == math.ceil(600 / 32) + counts[configuration]
    assert counts == {"fs_single": 10, "fs_upsample": 1}


def test_ttest_evaluates_the_zs_task_module_on_translated_test_sets(tmp_path, cache_dir):
    ttest = plan(tmp_path, cache_dir, "ttest")
    zs = plan(tmp_path, cache_dir, "zs")
    assert ttest["task"].key == zs["task"].key  # the ZS task module itself
    for target in NLI_TARGETS:
        evaluation = ttest[f"eval/{target}"]
        assert evaluation.inputs["lang"] is ttest["lang/en"]  # the source's language module
        test = evaluation.inputs["test"]
        assert test.label == f"mt/{target}/test" and test.spec["tgt"] == "eng_Latn"
        assert evaluation.spec["test"] == {"produced_by": "translation", "file": "test.jsonl", "format": "jsonl"}
        model = test.inputs.get("model")
        if target in NLLB_LACKS:  # adapted in the target -> source direction
            assert model.label == f"nmt/{target}-es" and model.spec["task"]["source_code"] == f"{target}_Latn"
        else:
            assert model is None
        assert evaluation.key != zs[f"eval/{target}"].key
    assert not any(label.startswith(("lang/", "mt/")) and not label.startswith(("lang/en", "mt/"))
                   for label in ttest)


def test_experiments_hold_the_thesis_hyperparameters(tmp_path):
    """§6.4.2 (and the acceptance's `--cfg job`): NLLB 3.3B, XLM-R base, language modules of at least 100 epochs
    and 100k steps (batch 8, lr 5e-5, 256-token sequences), the tasks' schedules."""
    for name, task in (("holistic_americasnli", {"max_epochs": 5, "batch_size": 32, "lr": 2e-5, "eval_every": 625}),
                       ("holistic_nusax", {"max_epochs": 10, "batch_size": 16, "lr": 2e-5, "eval_every": 250})):
        cfg = compose_config([f"+experiment={name}"], tmp_path)
        assert cfg.nmt.name_or_path == "facebook/nllb-200-3.3B"
        assert cfg.model.name_or_path == "FacebookAI/xlm-roberta-base"
        lang = cfg.lang_module.train
        assert (lang.max_epochs, lang.max_steps, lang.min_steps) == (100, None, 100_000)  # at least both
        assert (lang.batch_size, lang.lr, cfg.lang_module.mlm.max_seq_length) == (8, 5e-5, 256)
        assert {key: cfg.task.train[key] for key in task} == task
        assert cfg.recipe.shots.upsampling == 10 and cfg.nmt.adaptation.train.max_epochs == 5
    nusax = compose_config(["+experiment=holistic_nusax"], tmp_path)
    assert nusax.task_module.phase1.max_epochs == 3  # LT-SFT's dense phase (§6.4.2)
    sizes = {size: compose_config(["+experiment=holistic_nusax", f"nmt={size}"], tmp_path).nmt.name_or_path
             for size in ("nllb_600m", "nllb_1_3b")}
    assert sizes == {"nllb_600m": "facebook/nllb-200-distilled-600M", "nllb_1_3b": "facebook/nllb-200-distilled-1.3B"}


def test_zs_shares_chapter_4s_artifacts(tmp_path, cache_dir):
    """With chapter 4's language-module schedule (the lesser of 100 epochs and 100k steps, at least 30k), ZS is
    chapter 4's experiment: the same artifacts."""
    holistic = plan(tmp_path, cache_dir, "zs", "lang_module.train.max_steps=100000",
                    "lang_module.train.min_steps=30000")
    exp = experiment(tmp_path, cache_dir, "task_module.density=0.08", "task_module.num_trainable=null",
                     name="ltsft_americasnli")
    chapter4 = {stage.label: stage.key for stage in topological(plan_experiment(exp).stages)}
    assert {label: stage.key for label, stage in holistic.items()} == chapter4
    la = plan(tmp_path, cache_dir, "zs_la")
    assert not any(label.startswith("lang/") for label in la) and la["task"].key != holistic["task"].key


def test_nusax_trims_smsa_and_translates_the_trimmed_data(tmp_path, cache_dir):
    stages = plan(tmp_path, cache_dir, "fs_ttrain_all", name="holistic_nusax")
    task = stages["task"]
    assert set(data_inputs(task).values()) >= {"trim/ind/train", "trim/ind/validation"}
    assert stages["mt/ace/train"].inputs["data/0"] is stages["trim/ind/train"]  # the trimmed SMSA is translated
    assert stages["mt/ace/train"].spec["src"] == "ind_Latn"
    assert stages["mt/mad/train"].inputs["model"].label == "nmt/ind-mad"
    assert stages["nmt/ind-mad"].spec["task"]["new_code_init"] == "copy:ind_Latn"
    assert "lang/nij" not in stages  # Ngaju has no language module ...
    assert not sources(task)["nij_translated"]["language_module"]  # ... so its data train without one
    assert sources(task)["ace_translated"]["language_module"] and "ace" in module_inputs(task)
    assert len(stages["shots/ace"].spec["shots"]) == 2  # train + validation (§6.4.3)


@pytest.mark.parametrize(("configuration", "overrides", "message"), [
    pytest.param("fs", [], r"recipe.configuration='fs': expected one of zs, zs_la", id="unknown-configuration"),
    pytest.param("fs_single", ["recipe.shots.policy=best"], r"recipe.shots.policy='best'", id="unknown-shot-policy"),
    pytest.param("fs_single", ["recipe.shots.upsampling=0"], r"recipe.shots.upsampling=0", id="zero-upsampling"),
    pytest.param("ttrain_all", ["nmt.backend=marian"], r"nmt.backend='marian'", id="unknown-nmt-backend"),
    pytest.param("ttrain_all", ["~data.parallel"], r"data.parallel.train: NLLB lacks 'bzd'",
                 id="language-nllb-lacks-without-parallel-data"),
    pytest.param("fs_all", ["~data.target.shots"], r"data.target.shots: no labelled split of target 'aym'",
                 id="shots-without-a-labelled-target-split"),
    pytest.param("ttrain_all", ["nmt.adaptation.init=copy"], r"nmt.adaptation.init='copy'",
                 id="copy-init-without-a-code"),
])
def test_configuration_errors(tmp_path, cache_dir, configuration, overrides, message):
    with pytest.raises(ConfigError, match=message):
        plan(tmp_path, cache_dir, configuration, *overrides)
