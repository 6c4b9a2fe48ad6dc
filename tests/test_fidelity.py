"""The findings command (issue 15, item 5): the registry, the verdict rule and the table; a tiny end-to-end
run of one finding through the real recipe on a tiny world (slow)."""

from __future__ import annotations

import math

import pytest

from xlt.report.findings import FINDINGS, Finding, Outcome, table


def _finding(at_least: bool = False, chance: float | None = None) -> Finding:
    return Finding("demo", 4, "a > b", "thesis 1 vs 2", {}, lambda r: (0.0, 0.0), ("A", "B"), at_least=at_least,
                   chance=chance)


def test_registry_holds_the_chapter_3_4_7_findings():
    names = set(FINDINGS.names())
    assert {"la_helps", "la_helps_unseen_most", "ltsft_beats_rand_sft", "ltsft_beats_bitfit", "sparse_beats_dense",
            "multi_source", "madg_beats_ta_only", "spiel_ag_vs_lora"} <= names
    assert {FINDINGS[name].chapter for name in names} >= {3, 4, 7}
    for name in names:  # every run is a list of overrides on the world profile
        entry = FINDINGS[name]
        profile = "+world=synthetic_lm" if entry.world_lm else "+world=synthetic"  # chapter 7's LM: its own profile
        assert profile in entry.base and entry.runs and entry.thesis


def test_verdict_needs_a_gap_larger_than_the_pooled_std():
    outcome = Outcome(_finding(), a=[60.0, 62.0, 64.0], b=[50.0, 52.0, 54.0])
    assert math.isclose(outcome.pooled_std, 2.0) and outcome.verdict == "holds"
    assert Outcome(_finding(), a=[60.0, 70.0, 80.0], b=[58.0, 68.0, 78.0]).verdict == "does not hold"
    assert Outcome(_finding(), a=[60.0], b=[50.0]).verdict == "n/a (1 seed)"
    # a >= b: holds unless b is ahead by more than the pooled std
    assert Outcome(_finding(at_least=True), a=[60.0, 61.0, 62.0], b=[60.5, 61.5, 62.5]).verdict == "holds"
    assert Outcome(_finding(at_least=True), a=[50.0, 51.0, 52.0], b=[60.0, 61.0, 62.0]).verdict == "does not hold"
    # two models that learned nothing do not "match": with a chance score, both near it decide nothing
    at_chance = _finding(at_least=True, chance=100 / 3)
    assert Outcome(at_chance, a=[100 / 3] * 3, b=[100 / 3] * 3).verdict == "uninformative (both at chance)"
    assert Outcome(at_chance, a=[33.0, 34.0, 35.0], b=[33.0, 33.5, 34.0]).verdict == "uninformative (both at chance)"
    assert Outcome(at_chance, a=[39.0, 40.0, 41.0], b=[33.0, 33.5, 34.0]).verdict == "holds"
    failed = Outcome(_finding(), error="ConfigError: boom")
    assert failed.verdict == "not measured"
    text = table([Outcome(_finding(), a=[60.0, 62.0, 64.0], b=[50.0, 52.0, 54.0]), failed], [0, 1, 2])
    assert "A: 62.0 ± 2.0" in text and "B: 52.0 ± 2.0" in text and "+10.0" in text and "| holds |" in text
    assert "not measured (ConfigError: boom)" in text


def test_parallel_seeds_merge_into_the_one_process_table():
    """``benchmarks/fidelity.py --jobs N``: each worker returns its seed's plain values; merged in seed order
    they give the table one process gives, and an error in any seed leaves the finding not measured."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fidelity.py"
    spec = importlib.util.spec_from_file_location("fidelity_script", script)
    fidelity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fidelity)
    per_seed = [[("la_helps", [60.0], [50.0], 30.0, None), ("multi_source", [1.0], [2.0], 5.0, None)],
                [("la_helps", [62.0], [52.0], 60.0, None), ("multi_source", [], [], 0.0, "DataError: boom")],
                [("la_helps", [64.0], [54.0], 90.0, None), ("multi_source", [3.0], [4.0], 5.0, None)]]
    la_helps, multi_source = fidelity._merge(["la_helps", "multi_source"], per_seed)
    assert la_helps.finding is FINDINGS["la_helps"] and la_helps.a == [60.0, 62.0, 64.0]
    assert la_helps.b == [50.0, 52.0, 54.0] and la_helps.seconds == 180.0 and la_helps.verdict == "holds"
    assert multi_source.verdict == "not measured" and multi_source.error == "DataError: boom"
    one_process = Outcome(FINDINGS["la_helps"], a=[60.0, 62.0, 64.0], b=[50.0, 52.0, 54.0], seconds=180.0)
    assert table([la_helps], [0, 1, 2]) == table([one_process], [0, 1, 2])
    with pytest.raises(SystemExit):
        fidelity.main(["--jobs", "0"])


@pytest.mark.slow
def test_a_finding_runs_through_the_real_recipe_on_a_tiny_world(tmp_path, cache_dir, monkeypatch):
    from xlt.pipeline.stages.pretraining import PretrainingConfig
    from xlt.pipeline.world import prepare_world
    from xlt.report.findings import run_findings

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    tiny = PretrainingConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                             vocab_size=300, max_position_embeddings=128, steps=5, heldout_lines=5)
    lines: list[str] = []
    outcomes = run_findings(
        ["la_helps"], [0], tmp_path, ["trainer.max_steps_per_phase=2", "lang_module.mlm.max_seq_length=32",
                                      "trainer.mlm_max_seq_length=32"],
        log=lines.append, prepare=lambda root, seed: prepare_world(root, seed, "tiny", tmp_path / "artifacts", tiny,
                                                                 nmt=False))
    (outcome,) = outcomes
    assert outcome.error is None, lines
    assert len(outcome.a) == len(outcome.b) == 1 and all(0 <= v <= 100 for v in [*outcome.a, *outcome.b])
    assert (tmp_path / "runs/seed0/la_helps-zs_la/results.json").is_file()
    assert any("la_helps/zs in" in line for line in lines)  # the second run reuses the first's stages


def test_every_run_of_every_finding_composes_into_an_experiment(tmp_path):
    """Each run's overrides compose with the world profile and parse (bad keys or values fail here)."""
    from helpers import compose_config
    from omegaconf import OmegaConf

    from xlt.pipeline.experiment import Experiment

    world = tmp_path / "world"
    for name, entry in FINDINGS.items():
        for run, overrides in entry.runs.items():
            cfg = compose_config([*entry.base, *overrides, "seed=1", f"paths.world={world}"], tmp_path)
            experiment = Experiment(cfg, tmp_path / "run")
            assert experiment.model.name_or_path == str(world / ("lm" if entry.world_lm else "encoder")), (name, run)
            assert experiment.data.targets and experiment.seed == 1
            if entry.chapter == 3:
                corpus = OmegaConf.to_container(cfg, resolve=True)["lang_module"]["corpus"]
                assert corpus["path"] == str(world / "data/corpora/{lang}.txt") and corpus["hub"] is None


def test_overrides_may_follow_the_finding_names():
    """``--findings a b key=value``: argparse hands the overrides to ``--findings``; they go to the runs."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fidelity.py"
    spec = importlib.util.spec_from_file_location("fidelity_cli", script)
    fidelity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fidelity)
    args = fidelity.parse_args(["--seeds", "0", "--findings", "la_helps", "multi_source", "task.train.max_steps=5",
                                "lang_module.train.max_steps=3"])
    assert args.findings == ["la_helps", "multi_source"]
    assert args.overrides == ["task.train.max_steps=5", "lang_module.train.max_steps=3"]
    assert fidelity.parse_args(["x=1"]).findings is None


def test_the_design_budget_changes_no_run_and_the_hour_budget_cuts_every_cap(tmp_path):
    """``--budget design`` composes each run's configuration without a budget (so its artifacts keep their
    keys), but for BiStil's stage 1, which the world profile cannot set (the recipe's default is the thesis's
    200,000 steps) and the budget sets to twice the language modules' cap (§5.4.2); ``--budget hour`` cuts the
    three caps to a quarter of the design's and touches nothing else."""
    from helpers import compose_config
    from omegaconf import OmegaConf

    from xlt.report.findings import BUDGETS

    design, hour = BUDGETS["design"], BUDGETS["hour"]
    assert (hour.language_steps * 4, hour.task_steps * 4) == (design.language_steps, design.task_steps)
    assert design.distillation_steps == 1000 and hour.distillation_steps == 250
    seen_distillation = False
    for name, entry in FINDINGS.items():
        for run, overrides in entry.runs.items():
            plain = compose_config([*entry.base, *overrides, "seed=1"], tmp_path)
            as_designed = OmegaConf.to_container(
                compose_config([*entry.base, *overrides, "seed=1", *design.overrides(plain)], tmp_path))
            if "distillation" in as_designed["recipe"]:
                assert as_designed["recipe"]["distillation"]["train"]["max_steps"] == 1000
                as_designed["recipe"]["distillation"]["train"]["max_steps"] = plain.recipe.distillation.train.max_steps
            assert as_designed == OmegaConf.to_container(plain), (name, run)
            capped = OmegaConf.to_container(compose_config(
                [*entry.base, *overrides, "seed=1", *hour.overrides(plain)], tmp_path))
            if not entry.world_lm:  # the world encoder's runs: a language-module and a task cap
                assert capped["lang_module"]["train"]["max_steps"] == hour.language_steps, (name, run)
            assert capped["task"]["train"]["max_steps"] == hour.task_steps, (name, run)
            if "distillation" in capped["recipe"]:
                seen_distillation = True
                assert capped["recipe"]["distillation"]["train"]["max_steps"] == hour.distillation_steps
                capped["recipe"]["distillation"]["train"]["max_steps"] = plain.recipe.distillation.train.max_steps
            if not entry.world_lm:
                capped["lang_module"]["train"]["max_steps"] = plain.lang_module.train.max_steps
            capped["task"]["train"]["max_steps"] = plain.task.train.max_steps
            assert capped == OmegaConf.to_container(plain), (name, run)  # nothing else moved
    assert seen_distillation  # chapter 5's runs carry stage 1


def test_the_findings_command_measures_chapter_4_first_and_not_the_uninformative_lm_finding():
    from xlt.report.findings import default_findings

    names = default_findings()
    assert FINDINGS[names[0]].chapter == 4 and "spiel_ag_vs_lora_lm" not in names
    assert set(names) == {name for name in FINDINGS.names() if name != "spiel_ag_vs_lora_lm"}
