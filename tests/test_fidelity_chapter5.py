"""Chapter 5's findings on the world (issue 15; xlt/report/findings/chapter5.py): they register, their runs compose
into the bistil recipe at the design's settings, the teacher's language SFTs are the chapter-4 findings' artifacts,
and the measures compute the right numbers from results.json contents."""

from __future__ import annotations

import math

import pytest
from helpers import compose_config
from omegaconf import OmegaConf

from xlt.report.findings import BUDGETS, FINDINGS

NAMES = ("bistil_tf_beats_st", "bistil_st_beats_scratch", "bistil_student_faster")


def test_chapter_5_findings_register():
    for name in NAMES:
        entry = FINDINGS[name]
        assert entry.chapter == 5 and not entry.at_least
        assert entry.base == ["+experiment=bistil_ud_dp", "+world=synthetic"]
    assert set(FINDINGS["bistil_tf_beats_st"].runs) == {"tf", "st"}
    assert set(FINDINGS["bistil_st_beats_scratch"].runs) == {"st", "scratch"}
    # the runs two findings share are the same overrides, so run_findings runs them once per seed
    assert FINDINGS["bistil_tf_beats_st"].runs["st"] == FINDINGS["bistil_st_beats_scratch"].runs["st"]
    assert FINDINGS["bistil_tf_beats_st"].runs["tf"] == FINDINGS["bistil_student_faster"].runs["tf"]


@pytest.mark.parametrize("run,variant", [("tf", "tf"), ("st", "st"), ("scratch", "scratch")])
def test_runs_compose_into_the_bistil_recipe_at_the_design(tmp_path, run, variant):
    from xlt.config import parse
    from xlt.pipeline.experiment import Experiment
    from xlt.pipeline.recipes.bistil import BiStilConfig

    world = tmp_path / "world"
    entry = FINDINGS["bistil_st_beats_scratch" if run == "scratch" else "bistil_tf_beats_st"]
    overrides = [*entry.base, *entry.runs[run], "seed=2", f"paths.world={world}"]
    cfg = compose_config([*overrides, *BUDGETS["design"].overrides(compose_config(overrides, tmp_path))], tmp_path)
    experiment = Experiment(cfg, tmp_path / "run")
    assert experiment.model.name_or_path == str(world / "encoder") and experiment.seed == 2
    assert experiment.task_cfg["name"] == "dp" and cfg.data.name == "world_dp"
    assert list(experiment.data.targets) == ["qmb", "qmc"] and experiment.data.source_lang == "qma"
    recipe = parse(BiStilConfig, OmegaConf.to_container(cfg.recipe, resolve=True), "recipe")  # validated
    assert recipe.variant == variant and recipe.lrf == 2
    # stage 1 = the two phases of the world's language SFTs (§5.4.2, the budget's), at ten times the thesis's rate
    assert recipe.distillation.train.max_steps == 2 * cfg.lang_module.train.max_steps == 1000
    assert math.isclose(recipe.distillation.train.lr, 1e-3) and recipe.distillation.train.eval_every == 100
    assert recipe.distillation.train.warmup_ratio == 0
    assert recipe.efficiency.enabled == (variant == "tf")  # Table 5.7 measured once, on BiStil-TF
    assert cfg.task_module.density == 0.08 and cfg.task.train.max_steps == 600  # the world's task budget


def test_the_teachers_language_sfts_are_the_chapter_4_findings_artifacts(tmp_path):
    """Stage 1 dresses the teacher in the language SFTs of qma and the target: under +world=synthetic they
    have the keys of the LT-SFT language modules the chapter-4 findings train (built once per seed)."""
    from xlt.pipeline.experiment import Experiment
    from xlt.pipeline.stages.language_module import language_module_stage

    world = tmp_path / "world"
    (world / "encoder").mkdir(parents=True)
    (world / "encoder" / "config.json").write_text('{"model_type": "bert", "num_hidden_layers": 4}')
    (world / "data" / "corpora").mkdir(parents=True)
    for lang in ("qma", "qmb", "qmc"):
        (world / "data" / "corpora" / f"{lang}.txt").write_text(f"{lang} one .\n{lang} two .\n")

    def keys(entry_name: str, run: str) -> dict[str, str]:
        entry = FINDINGS[entry_name]
        cfg = compose_config([*entry.base, *entry.runs[run], "seed=0", f"paths.world={world}"], tmp_path)
        experiment = Experiment(cfg, tmp_path / run)
        return {lang: language_module_stage(experiment, lang).key for lang in ("qma", "qmb", "qmc")}

    chapter4 = keys("la_helps", "zs_la")
    assert keys("bistil_tf_beats_st", "tf") == chapter4 == keys("bistil_st_beats_scratch", "scratch")


def _results(las: dict[str, float], metric: str = "las") -> dict:
    return {"metric": metric, "languages": {lang: {"las": value, "uas": value + 0.1} for lang, value in las.items()}}


def test_score_measures_average_las_over_the_two_targets():
    tf = _results({"qmb": 0.50, "qmc": 0.30})
    st = _results({"qmb": 0.40, "qmc": 0.30, "qla": 0.99})  # a target outside the design is not averaged
    scratch = _results({"qmb": 0.10, "qmc": 0.05})
    a, b = FINDINGS["bistil_tf_beats_st"].measure({"tf": tf, "st": st})
    assert math.isclose(a, 40.0) and math.isclose(b, 35.0)
    a, b = FINDINGS["bistil_st_beats_scratch"].measure({"st": st, "scratch": scratch})
    assert math.isclose(a, 35.0) and math.isclose(b, 7.5)


def test_speed_measure_is_the_students_cpu_throughput_in_percent_of_the_teachers():
    efficiency = {"measured": {"cpu_examples_per_second": 180.0, "flops_per_example": 1.0},
                  "reference": {"cpu_examples_per_second": 120.0, "flops_per_example": 2.0},
                  "relative": {"cpu_speedup": 1.5}}
    a, b = FINDINGS["bistil_student_faster"].measure({"tf": {**_results({"qmb": 0.5}), "efficiency": efficiency}})
    assert math.isclose(a, 150.0) and b == 100.0
