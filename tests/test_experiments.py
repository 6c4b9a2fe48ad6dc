"""Every experiment of ``conf/experiment/`` end to end on the smoke profile, by glob (as
lightning-hydra-template's tests/test_sweeps.py): ``python launch.py +experiment=NAME +profile=smoke``
exits with 0 and results.json scores every target language and their average. A new experiment file is
covered without an edit here.

The runs share one artifact store per session (``smoke_runs``, tests/conftest.py), so the stages that
experiments share (language modules, the MAD-G generator, the instruction-tuned modules that
spiel_composition composes) are built once, and tests that need an experiment's run (the sweeps of
tests/test_task_pipelines.py and tests/test_adapter_pipeline.py) reuse it. What the thesis says about
particular experiments is checked in ``CHECKS`` below, by name pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatch
from typing import Any

import pytest

from tests.helpers import compose_config, experiments
from tests.test_madg_tasks import MADG_SEEN, SOURCES
from tests.test_madg_tasks import METRICS as UD_METRICS
from tests.test_task_pipelines import EXPERIMENTS as CHAPTER_4
from tests.test_task_pipelines import check_results
from xlt.eval.metrics import average
from xlt.pipeline.experiment import Experiment
from xlt.typology import closest_language

AMERICASNLI = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
UD_SAMPLE_TARGETS = {"ar", "mt", "myv", "fo", "bam"}  # chapter 3's data.sample_targets
# the smoke generator's training languages (lang_module.sample_languages of madg_train)
MADG_SAMPLE_LANGUAGES = {"en", "aym", "gn", "nah", "quy", "eu", "fi", "tr", "mt"}


def expected_languages(exp: Experiment) -> list[str]:
    """What results.json must score: the targets, or (madg_train) the generator's training languages,
    whose held-out MLM loss it reports with and without their generated adapters."""
    if exp.recipe_cfg["name"] == "madg_train":
        return exp.lang_module.training_languages(exp.data.use_samples)
    return list(exp.data.targets)


# ---------------------------------------------------------------------------- per-experiment checks
def chapter_4(results: dict[str, Any], experiment: str) -> None:
    """LT-SFT zero-shot transfer (§4.3.2): the task's metrics for every target, a language SFT per source
    and target (Ngaju has none, Table 6.1), trained with a K > 0."""
    check_results(results, experiment)
    lang_stages = {label for label in results["stages"] if label.startswith("lang/")}
    expected = set(results["sources"]) | set(results["languages"])
    expected -= {"nij"}
    assert lang_stages == {f"lang/{lang}" for lang in expected}
    assert results["modules"]["lang_module"]["trained_k"] > 0


def americasnli_adapters(results: dict[str, Any], experiment: str) -> None:
    """MAD-X / MAD-G on AmericasNLI (Table 3.2): accuracy for all ten targets; six are unseen by MAD-G."""
    assert set(results["languages"]) == set(AMERICASNLI)
    assert all("accuracy" in results["languages"][lang] for lang in AMERICASNLI)
    if experiment.startswith("madg"):
        unseen = [lang for lang, info in results["typology"].items() if not info["seen_by_generator"]]
        assert sorted(unseen) == ["bzd", "cni", "hch", "oto", "shp", "tar"]


def chapter_3_ud(results: dict[str, Any], experiment: str) -> None:
    """MAD-G / MAD-X POS and DP (Tables 3.3, 3.4, A.3-A.6): the sample targets scored, the sources of
    the one- or multi-source setting, and MAD-X's closest-pool fallback for Faroese."""
    task = "pos" if "pos" in experiment else "dp"
    assert set(results["languages"]) == UD_SAMPLE_TARGETS
    assert all(UD_METRICS[task] <= set(values) for values in results["languages"].values())
    assert results["sources"] == (SOURCES if experiment.endswith("multisource") else ["en"])
    if experiment.startswith("madx"):
        assert results["language_modules"]["fo"] == closest_language("fo", [*SOURCES, *MADG_SEEN])


def madg_train(results: dict[str, Any], experiment: str) -> None:
    assert set(results["languages"]) == MADG_SAMPLE_LANGUAGES


def instruction_tuning(results: dict[str, Any], experiment: str) -> None:
    """Chapter 7: the base model and the tuned one on the built-in MMLU evaluator; the harness needs the
    real benchmarks, so it is skipped on bundled samples."""
    assert set(results["base"]) == set(results["languages"]) == {"mmlu"}
    assert results["harness"].startswith("skipped")


CHECKS: list[tuple[str, Callable[[dict[str, Any], str], None]]] = [
    ("ltsft_*", chapter_4),
    ("madx_americasnli", americasnli_adapters),
    ("madg_americasnli", americasnli_adapters),
    ("madg_ft", americasnli_adapters),
    ("mad[gx]_ud_*", chapter_3_ud),
    ("madg_train", madg_train),
    ("spiel_*", instruction_tuning),
]


def test_every_check_names_an_experiment():
    """A renamed experiment must not drop its checks silently."""
    names = experiments()
    for pattern, _ in CHECKS:
        assert any(fnmatch(name, pattern) for name in names), pattern
    assert set(CHAPTER_4) <= {name for name in names if fnmatch(name, "ltsft_*")}


# ---------------------------------------------------------------------------- the glob
@pytest.mark.slow
@pytest.mark.parametrize("experiment", experiments())
def test_every_experiment_smoke_runs(experiment, smoke_runs, tmp_path, cache_dir, monkeypatch):
    results = smoke_runs.run(experiment).results()
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = Experiment(compose_config([f"+experiment={experiment}", "+profile=smoke"], tmp_path), tmp_path / "run")
    assert results["experiment"] == experiment
    assert set(results["languages"]) == set(expected_languages(exp))
    assert results["average"]
    assert results["average"] == pytest.approx(average(list(results["languages"].values())))
    for pattern, check in CHECKS:
        if fnmatch(experiment, pattern):
            check(results, experiment)
