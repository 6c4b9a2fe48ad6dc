"""Chapter 6's findings on the world (issue 15, item 5; xlt/report/findings/chapter6.py): registered,
composed and planned through the holistic recipe on a tiny world (no training), sharing chapter 4's language
modules, and measured from results.json dictionaries as the findings command does."""

from __future__ import annotations

import math

import pytest
from helpers import compose_config

from xlt.report.findings import FINDINGS, Outcome
from xlt.report.findings.chapter6 import TARGETS

CH6 = ("few_shot_helps", "upsampling_helps")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny world and a placeholder encoder directory: enough to compose and plan, not to train."""
    from xlt.data.world.world import SIZE_PRESETS, write_world

    root = tmp_path_factory.mktemp("world")
    write_world(root / "data", 0, SIZE_PRESETS["tiny"])
    (root / "encoder").mkdir()
    (root / "encoder" / "config.json").write_text("{}")
    (root / "nmt").mkdir()  # the world's translation model (placeholder: planning reads no weights)
    (root / "nmt" / "config.json").write_text("{}")
    return root


def _plan(overrides, world, tmp_path):
    from xlt.pipeline.experiment import Experiment
    from xlt.pipeline.recipes import plan_experiment

    experiment = Experiment(compose_config([*overrides, "seed=0", f"paths.world={world}"], tmp_path), tmp_path / "run")
    return experiment, {stage.label: stage for stage in plan_experiment(experiment).stages}


def test_chapter_6_findings_are_registered_on_the_holistic_recipe():
    for name in CH6:
        entry = FINDINGS[name]
        assert entry.chapter == 6 and entry.thesis and "Table 6.3" in entry.thesis
        assert entry.base == ["+experiment=holistic_nusax", "+world=synthetic"]
    assert set(FINDINGS["few_shot_helps"].runs) == {"fs", "zs"}
    assert set(FINDINGS["upsampling_helps"].runs) == {"fs", "fs_upsample"}
    # the FS run is the same run in both findings (run once per seed by run_findings)
    assert FINDINGS["few_shot_helps"].runs["fs"] == FINDINGS["upsampling_helps"].runs["fs"]
    assert TARGETS == ["qmc", "qmd", "qla", "qfc", "qic"]


def test_runs_plan_fs_single_with_upsampled_shots_from_each_targets_dev_split(world, tmp_path):
    """FS: one task module per target on the source + K = 100 shots of that target (upsampled 10 times, from
    its dev split, with its language module); FS - UPSAMPLE the same shots once; ZS one task module."""
    runs = {**FINDINGS["few_shot_helps"].runs, **FINDINGS["upsampling_helps"].runs}
    base = FINDINGS["few_shot_helps"].base
    planned = {run: _plan([*base, *overrides], world, tmp_path) for run, overrides in runs.items()}
    plans = {run: stages for run, (_, stages) in planned.items()}
    assert {label for label in plans["zs"] if label.startswith("task")} == {"task"}
    for run, upsampling in (("fs", 10), ("fs_upsample", 1)):
        assert {label for label in plans[run] if label.startswith("task")} == {f"task/{t}" for t in TARGETS}
        for target in TARGETS:
            stage = plans[run][f"task/{target}"]
            sources = {source.get("name", source["lang"]): source for source in stage.spec["sources"]}
            assert set(sources) == {"qma", f"{target}_shots"}
            assert sources[f"{target}_shots"]["upsampling"] == upsampling and sources["qma"]["upsampling"] == 1
            assert sources[f"{target}_shots"]["validation"] == []  # FS validates on the source only
            assert set(stage.inputs) >= {"lang/qma", f"lang/{target}"}
            shots = stage.inputs[f"data/{target}_shots/train/0"]
            assert shots.spec["k"] == 100 and shots.spec["policy"] == "random" and shots.spec["seed"] == 0
            (pool,) = planned[run][0].data.target_locations(target, "shots")
            assert pool.path == str(world / f"data/sa/{target}/dev.csv") and shots.spec["shots"][0]["path"] == "dev.csv"
    assert plans["fs"]["task/qmc"].key != plans["fs_upsample"]["task/qmc"].key
    assert plans["fs"]["eval/qmc"].inputs["task"] is plans["fs"]["task/qmc"]


def test_holistic_runs_train_chapter_4s_language_modules(world, tmp_path):
    """The few-shot findings' language modules are the chapter 4 findings' artifacts: the same stage keys and
    the same budget (the world profile scales K by one reference size, whatever model the experiment names)."""
    targets = f"data.targets=[{','.join(TARGETS)}]"
    chapter4, pos = _plan(["+experiment=ltsft_ud_pos", "+world=synthetic", targets], world, tmp_path)
    for overrides in FINDINGS["few_shot_helps"].runs.values():
        chapter6, holistic = _plan([*FINDINGS["few_shot_helps"].base, *overrides], world, tmp_path)
        langs = {label for label in holistic if label.startswith("lang/")}
        assert langs == {f"lang/{lang}" for lang in ["qma", *TARGETS]}
        assert {label: holistic[label].key for label in langs} == {label: pos[label].key for label in langs}
        # K of an absolute budget (lang_module.num_trainable) is scaled by model.num_parameters, not in the key
        assert chapter6.model.num_parameters == chapter4.model.num_parameters
        assert chapter6.lang_module == chapter4.lang_module


def _results(scores: dict[str, float], metric: str = "macro_f1") -> dict:
    return {"metric": metric, "languages": {lang: {metric: value, "accuracy": 0.0} for lang, value in scores.items()}}


def test_measures_average_the_primary_metric_over_the_five_targets():
    fs = _results({"qmc": 0.80, "qmd": 0.70, "qla": 0.60, "qfc": 0.50, "qic": 0.40, "qmb": 0.99})
    zs = _results({"qmc": 0.70, "qmd": 0.60, "qla": 0.50, "qfc": 0.40, "qic": 0.30})
    no_upsampling = _results({"qmc": 0.75, "qmd": 0.65, "qla": 0.55, "qfc": 0.45, "qic": 0.35})
    a, b = FINDINGS["few_shot_helps"].measure({"fs": fs, "zs": zs})
    assert math.isclose(a, 60.0) and math.isclose(b, 50.0)  # qmb (not a target of the design) left out
    a, b = FINDINGS["upsampling_helps"].measure({"fs": fs, "fs_upsample": no_upsampling})
    assert math.isclose(a, 60.0) and math.isclose(b, 55.0)
    outcome = Outcome(FINDINGS["upsampling_helps"], a=[60.0, 61.0, 62.0], b=[55.0, 56.0, 57.0])
    assert outcome.verdict == "holds"
    assert Outcome(FINDINGS["few_shot_helps"], a=[50.0, 51.0, 52.0], b=[50.0, 51.0, 52.5]).verdict == "does not hold"
    with pytest.raises(KeyError):  # a target missing from the results is an error, not a smaller average
        FINDINGS["few_shot_helps"].measure({"fs": _results({"qmc": 0.5}), "zs": zs})


def _reachable(stages: dict) -> dict:
    """Every stage the planned ones depend on, by label (translation and NMT stages are inputs only)."""
    found, todo = {}, list(stages.values())
    while todo:
        stage = todo.pop()
        if stage.label not in found:
            found[stage.label] = stage
            todo.extend(stage.inputs.values())
    return found


def test_translate_train_findings_are_registered_on_table_6_2():
    for name, runs in (("translate_train_helps", {"ttrain_all", "zs"}),
                       ("shots_add_to_translations", {"fs_ttrain_all", "ttrain_all"})):
        entry = FINDINGS[name]
        assert entry.chapter == 6 and "Table 6.2" in entry.thesis and set(entry.runs) == runs
        assert entry.base == ["+experiment=holistic_nusax", "+world=synthetic"]
    assert FINDINGS["shots_add_to_translations"].at_least and not FINDINGS["translate_train_helps"].at_least
    # one TTRAIN-ALL run and one ZS run per seed, shared with the other chapter 6 findings
    ttrain_all = FINDINGS["translate_train_helps"].runs["ttrain_all"]
    assert ttrain_all == FINDINGS["shots_add_to_translations"].runs["ttrain_all"]
    assert FINDINGS["translate_train_helps"].runs["zs"] == FINDINGS["few_shot_helps"].runs["zs"]


def test_ttrain_all_translates_every_target_adapting_the_model_to_unsupported_ones(world, tmp_path):
    """TTRAIN-ALL: one task module on the source and every target's translated training set, each with its
    language's module; the supported targets (qmc qfc qic) translated by the world's model as it is, the
    unsupported ones (qmd qla) by the model adapted to them on their qma-X pairs first (§6.3.3).
    FS + TTRAIN-ALL adds every target's shots to the same mixture."""
    runs = FINDINGS["shots_add_to_translations"].runs
    base = FINDINGS["shots_add_to_translations"].base
    _, ttrain = _plan([*base, *runs["ttrain_all"]], world, tmp_path)
    ttrain = _reachable(ttrain)
    adapted = {label for label in ttrain if label.startswith("nmt/")}
    assert adapted == {"nmt/qma-qmd", "nmt/qma-qla"}
    for target in TARGETS:
        translation = ttrain[f"mt/{target}/train"]
        assert ("model" in translation.inputs) == (target in ("qmd", "qla"))
        if "model" in translation.inputs:
            assert translation.inputs["model"] is ttrain[f"nmt/qma-{target}"]
    task = ttrain["task"]
    assert {f"mt/{target}/train" for target in TARGETS} <= {stage.label for stage in task.inputs.values()}
    assert all(task.inputs[f"data/{target}_translated/train/0"] is ttrain[f"mt/{target}/train"] for target in TARGETS)
    assert set(task.inputs) >= {"lang/qma", *(f"lang/{target}" for target in TARGETS)}
    _, combined = _plan([*base, *runs["fs_ttrain_all"]], world, tmp_path)
    sources = {source.get("name", source["lang"]) for source in combined["task"].spec["sources"]}
    assert {f"{target}_shots" for target in TARGETS} <= sources
    assert combined["task"].key != task.key
