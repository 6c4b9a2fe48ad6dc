"""Chapter 6 end to end, offline (smoke profile): FS + TTRAIN-ALL through ``launch.py`` (NLLB adapted to a
language it lacks, translation, upsampled shots, multi-source task training, evaluation), and the Figure 6.1
sweep in smoke form with its report (thesis §6.3-6.4)."""

from __future__ import annotations

import pytest

from tests.helpers import launch, read_json


@pytest.mark.slow
def test_smoke_fs_ttrain_all_end_to_end(tmp_path, cache_dir):
    """aym (NLLB has it) and bzd (it does not: NLLB adapted on Spanish-Bribri pairs first)."""
    result = launch(["+experiment=holistic_americasnli", "+profile=smoke", "recipe.configuration=fs_ttrain_all",
                     "data.targets=[aym,bzd]", "trainer.max_steps_per_phase=4", "recipe.shots.k=20",
                     f"paths.root={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}"], cache_dir, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]
    results = read_json(tmp_path / "run" / "results.json")
    assert set(results["languages"]) == {"aym", "bzd"}
    assert all(0.0 <= results["languages"][lang]["accuracy"] <= 1.0 for lang in ("aym", "bzd"))
    assert "accuracy" in results["average"] and results["configuration"]["row"] == "FS + TTRAIN-ALL"
    sources = results["task_modules"]["task"]["sources"]
    assert list(sources) == ["en", "aym_translated", "bzd_translated", "aym_shots", "bzd_shots"]
    assert {key: (s["lang"], s["upsampling"], s["language_module"], s["validated"]) for key, s in sources.items()} == {
        "en": ("en", 1, "en", True),
        "aym_translated": ("aym", 1, "aym", True), "bzd_translated": ("bzd", 1, "bzd", True),  # never upsampled
        "aym_shots": ("aym", 10, "aym", False), "bzd_shots": ("bzd", 10, "bzd", False)}  # not validated on
    assert sources["aym_shots"]["examples"] == 20
    assert sources["en"]["examples"] == sources["aym_translated"]["examples"] == 594  # every labelled source row
    assert results["shots"]["bzd"]["taken"] == 20 and not results["shots"]["bzd"]["clipped"]
    adaptation = results["nmt_adaptation"]["nmt/es-bzd"]
    assert adaptation["code"] == "bzd_Latn" and adaptation["direction"] == "spa_Latn->bzd_Latn"
    assert "val/chrf" in adaptation
    translation = results["translation"]
    assert translation["mt/bzd/train"]["model"] == "nmt/es-bzd" and translation["mt/aym/train"]["records"] == 600
    assert translation["mt/aym/validation"]["tgt"] == "ayr_Latn"
    assert results["inference"]["language_module"] == {"aym": "aym", "bzd": "bzd"}
    corpus = results["corpus_words"]  # Figure 6.2's x axis, from the language-module stages
    assert set(corpus) == {"en", "aym", "bzd"} and all(isinstance(w, int) and w > 0 for w in corpus.values())


@pytest.mark.slow
def test_smoke_figure_6_1_sweep_and_report(tmp_path, cache_dir):
    """The Figure 6.1 sweep file in smoke form (K in {0, 20} x 2 seeds, one target, FS – LA: no language
    modules to train): four jobs, then the report's table and PNG with human labels."""
    sweep = launch(["-m", "--config-dir", "sweeps", "--config-name", "holistic_figure_6_1_americasnli",
                    "+profile=smoke", "lang_module=ltsft", "task_module=ltsft", "hydra.sweeper.zip=[]",
                    "recipe.configuration=fs_la",
                    "data.targets=[aym]", "recipe.shots.k=0,20", "seed=1,2", "trainer.max_steps_per_phase=4",
                    f"paths.root={tmp_path}", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cache_dir, timeout=3000)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*/results.json"))
    assert len(jobs) == 4
    report = (tmp_path / "sweep" / "report" / "report.md").read_text()
    assert "## Holistic transfer on AmericasNLI (`holistic_americasnli`): NLI, accuracy (%)" in report
    assert "| shots per language (K) | aym | avg | seeds |" in report
    png = tmp_path / "sweep" / "report" / "holistic_americasnli_recipe.shots.k.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "sweep" / "report" / "holistic_americasnli.csv").exists()
