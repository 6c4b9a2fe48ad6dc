"""The transfer protocols of ``recipe.protocol`` (issue 10, item 2): the thesis's two TA-only settings are
two named protocols - chapter 3's ``ta_only`` (§3.4.2: no language module in training or inference) and
chapter 4's ``ta_only_at_inference`` (§4.4.1: the task module trained on the source language module, as
always in §4.4.3, evaluated without one) - and results.json says which ran."""

from __future__ import annotations

import pytest

from tests.helpers import compose_config
from xlt.errors import ConfigError
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.run import run_experiment

LANGUAGE_STAGE_KINDS = {"language_module", "adapter_generator"}


def plan(overrides: list[str], tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    return plan_experiment(Experiment(compose_config([*overrides, "+profile=smoke"], tmp_path), tmp_path / "run"))


def stages(plan_) -> dict:
    return {stage.label: stage for stage in plan_.stages}


@pytest.mark.parametrize("experiment", ["ltsft_americasnli", "ltsft_ud_dp_multisource", "madx_ud_pos",
                                        "madg_ud_pos", "madg_ud_pos_multisource"])
def test_ta_only_plans_no_language_module_anywhere(experiment, tmp_path, monkeypatch, cache_dir):
    labels = stages(plan([f"+experiment={experiment}", "recipe.protocol=ta_only"], tmp_path, monkeypatch, cache_dir))
    assert not [s for s in labels.values() if s.kind in LANGUAGE_STAGE_KINDS]  # MAD-G: no generator either
    assert labels["task"].inputs == {}  # the task module trains on the base model alone
    evaluations = [s for s in labels.values() if s.kind == "evaluation"]
    assert evaluations and all(set(s.inputs) == {"task"} for s in evaluations)


@pytest.mark.parametrize("experiment", ["ltsft_americasnli", "madx_americasnli", "madg_ud_pos"])
def test_ta_only_at_inference_is_the_target_task_module_evaluated_alone(experiment, tmp_path, monkeypatch,
                                                                         cache_dir):
    target = stages(plan([f"+experiment={experiment}"], tmp_path, monkeypatch, cache_dir))
    alone = stages(plan([f"+experiment={experiment}", "recipe.protocol=ta_only_at_inference"], tmp_path, monkeypatch,
                        cache_dir))
    assert alone["task"].key == target["task"].key  # trained on base + the source module: the same artifact
    assert set(alone["task"].inputs) == set(target["task"].inputs) == {"lang/en"}
    evaluations = [s for s in alone.values() if s.kind == "evaluation"]
    assert evaluations and all(set(s.inputs) == {"task"} for s in evaluations)
    assert "lang/gn" not in alone and "lang/mt" not in alone  # no target language module is even built


@pytest.mark.parametrize("experiment", ["ltsft_americasnli", "madg_ud_pos"])
def test_source_protocol_evaluates_every_target_with_the_source_module(experiment, tmp_path, monkeypatch,
                                                                        cache_dir):
    labels = stages(plan([f"+experiment={experiment}", "recipe.protocol=source"], tmp_path, monkeypatch, cache_dir))
    evaluations = [s for s in labels.values() if s.kind == "evaluation"]
    assert evaluations and all(s.inputs["lang"] is labels["lang/en"] for s in evaluations)


def test_chapter_3_ta_only_is_one_task_artifact_for_madg_and_madx(tmp_path, monkeypatch, cache_dir):
    madg = stages(plan(["+experiment=madg_ud_pos", "recipe.protocol=ta_only"], tmp_path, monkeypatch, cache_dir))
    madx = stages(plan(["+experiment=madx_ud_pos", "recipe.protocol=ta_only"], tmp_path, monkeypatch, cache_dir))
    assert madg["task"].key == madx["task"].key


@pytest.mark.parametrize("recipe", ["ltsft_americasnli", "madg_ud_pos"])
def test_a_bad_protocol_and_the_old_keys_fail_in_one_line(recipe, tmp_path, monkeypatch, cache_dir):
    with pytest.raises(ConfigError, match=r"recipe\.protocol='none': expected one of target, source, ta_only, "
                                          r"ta_only_at_inference"):
        plan([f"+experiment={recipe}", "recipe.protocol=none"], tmp_path, monkeypatch, cache_dir)
    with pytest.raises(ConfigError, match=r"recipe: unknown key 'inference_language_module'.*protocol"):
        plan([f"+experiment={recipe}", "+recipe.inference_language_module=none"], tmp_path, monkeypatch, cache_dir)
    if recipe.startswith("madg"):
        with pytest.raises(ConfigError, match=r"recipe\.finetune: .* only with recipe\.protocol=target, not ta_only"):
            plan(["+experiment=madg_ft", "recipe.protocol=ta_only"], tmp_path, monkeypatch, cache_dir)


def test_results_record_the_protocol_that_ran(tmp_path, monkeypatch, cache_dir):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    base = ["+experiment=ltsft_americasnli", "+profile=smoke", "task_module=bitfit", "data.targets=[gn]",
            "trainer.max_steps_per_phase=4"]

    def run(extra: list[str], name: str) -> dict:
        if "lang_module=none" not in extra:
            extra = [*extra, "lang_module.train.batch_size=8"]
        return run_experiment(compose_config([*base, *extra], tmp_path / "root"), tmp_path / name)

    ta_only = run(["recipe.protocol=ta_only"], "ta_only")
    assert not [label for label in ta_only["stages"] if label.startswith("lang/")]
    assert ta_only["protocol"]["name"] == ta_only["protocol"]["configured"] == "ta_only"
    assert ta_only["protocol"]["training"] == {"en": None}
    assert ta_only["protocol"]["inference"] == {"gn": None}
    assert "no language module in training or inference" in ta_only["protocol"]["description"]
    target = run([], "target")
    assert target["protocol"]["name"] == "target" and target["protocol"]["training"] == {"en": "en"}
    assert target["protocol"]["inference"] == {"gn": "gn"}
    assert target["stages"]["task"]["key"] != ta_only["stages"]["task"]["key"]
    alone = run(["recipe.protocol=ta_only_at_inference"], "alone")
    assert alone["stages"]["task"] == {**target["stages"]["task"], "status": "cached",
                                       "seconds": alone["stages"]["task"]["seconds"]}
    assert alone["protocol"]["training"] == {"en": "en"} and alone["protocol"]["inference"] == {"gn": None}
    assert alone["stages"]["eval/gn"]["status"] == "built"  # a different composition: evaluated anew
    # no language module at all (lang_module=none) is what ran, whatever the protocol says
    bare = run(["lang_module=none"], "bare")
    assert bare["protocol"]["name"] == "ta_only" and bare["protocol"]["configured"] == "target"
    assert bare["stages"]["task"]["key"] == ta_only["stages"]["task"]["key"]  # the same task module
