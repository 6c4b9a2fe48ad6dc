"""The chapter-4 experiments and sweeps end to end on the smoke profile (offline, tiny models,
bundled samples): results.json holds the task's metric keys for every target and the average.

The default suite runs every new task family once without language modules (one process, a Hydra
multirun) and one reduced multi-source run with language modules; the sweeps are marked slow and share
the artifact store of the every-experiment smoke runs (tests/test_experiments.py, which checks the
complete experiments with :func:`check_results`), as jobs of a real project would.
"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers import compose_config, launch, read_json
from xlt.methods.core.sft import SparseFineTuning
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment

METRICS = {"pos": {"accuracy"}, "dp": {"uas", "las"}, "ner": {"f1", "precision", "recall"}, "nli": {"accuracy"},
           "qa": {"f1", "exact_match"}, "sa": {"macro_f1"}}
EXPERIMENTS = {  # experiment -> (task, number of targets)
    "ltsft_americasnli": ("nli", 10), "ltsft_ud_pos": ("pos", 16), "ltsft_ud_dp": ("dp", 16),
    "ltsft_masakhaner": ("ner", 9), "ltsft_ud_dp_multisource": ("dp", 16), "ltsft_americasnli_multisource": ("nli", 10),
    "ltsft_xquad_multisource": ("qa", 5), "ltsft_nusax": ("sa", 10),
}


def check_results(results: dict, experiment: str, targets: list[str] | None = None) -> None:
    task, count = EXPERIMENTS[experiment]
    assert results["experiment"] == experiment and results["task"] == task
    languages = results["languages"]
    assert len(languages) == count if targets is None else set(languages) == set(targets)
    for lang, values in languages.items():
        assert METRICS[task] <= set(values), (lang, values)
        assert all(0.0 <= values[m] <= 1.0 for m in METRICS[task])
    for metric in METRICS[task]:
        mean = sum(v[metric] for v in languages.values()) / len(languages)
        assert results["average"][metric] == pytest.approx(mean)
    assert results["metric"] in METRICS[task]
    assert results["modules"]["task_module"]["method"] and results["modules"]["lang_module"]["method"]


def test_every_task_family_runs_end_to_end_without_language_modules(tmp_path, cache_dir):
    experiments = ["ltsft_ud_pos", "ltsft_ud_dp", "ltsft_masakhaner", "ltsft_xquad_multisource", "ltsft_nusax",
                   "ltsft_americasnli_multisource"]
    result = launch(["-m", f"+experiment={','.join(experiments)}", "+profile=smoke", "lang_module=none",
                     f"paths.root={tmp_path / 'root'}", f"hydra.sweep.dir={tmp_path / 'runs'}"], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    for job, experiment in enumerate(experiments):
        results = read_json(tmp_path / "runs" / str(job) / "results.json")
        check_results(results, experiment)
        assert results["modules"]["lang_module"]["method"] == "none"
        assert not any(label.startswith("lang/") for label in results["stages"])
    # NER learned something even in 2 x 40 steps (the tags are lexical), and the QA spans are decoded
    assert read_json(tmp_path / "runs" / "2" / "results.json")["average"]["f1"] > 0.0
    assert read_json(tmp_path / "runs" / "3" / "results.json")["average"]["f1"] > 0.0


def test_multisource_with_language_modules_end_to_end(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    drop = [f"~data.sources.{lang}" for lang in ("eu", "et", "fr", "el", "hi", "ko", "fa", "tr", "vi")]
    result = launch(["+experiment=ltsft_ud_dp_multisource", "+profile=smoke", *drop, "data.targets=[mt,bxr]",
                     f"paths.root={tmp_path / 'root'}", f"hydra.run.dir={run_dir}"], cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    results = read_json(run_dir / "results.json")
    check_results(results, "ltsft_ud_dp_multisource", ["mt", "bxr"])
    assert results["sources"] == ["en", "cs"]
    assert {label for label in results["stages"] if label.startswith("lang/")} == {"lang/en", "lang/cs", "lang/mt",
                                                                                   "lang/bxr"}
    sft = SparseFineTuning.load(run_dir / "artifacts" / "task" / "sft.safetensors")
    assert set(sft.meta["trained_on"]) == {"en", "cs"}  # both source language modules took part
    header = (run_dir / "logs" / "task" / "phase2" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val/en/las", "val/cs/las", "val/las"} <= set(header)  # per-language validation, mean selects


def test_thesis_settings_of_the_new_experiments(tmp_path):
    def cfg(name):
        return OmegaConf.to_container(compose_config([f"+experiment={name}"], tmp_path), resolve=True)

    pos = cfg("ltsft_ud_pos")
    assert pos["model"]["name_or_path"] == "google-bert/bert-base-multilingual-cased"
    assert pos["data"]["targets"] == ["ar", "bm", "bxr", "yue", "zh", "myv", "fo", "ja", "olo", "mt", "gv", "sme",
                                      "kpv", "sa", "hsb", "ug"]
    train = pos["task"]["train"]
    assert (train["max_epochs"], train["batch_size"], train["lr"], train["eval_every"]) == (10, 8, 5e-5, 250)
    assert pos["task_module"]["phase1"] == {"max_epochs": 3} and pos["task_module"]["num_trainable"] == 14155776
    assert pos["lang_module"]["num_trainable"] == 7667712 and pos["lang_module"]["l1_lambda"] == 0.1
    dp = cfg("ltsft_ud_dp_multisource")
    assert list(dp["data"]["sources"]) == ["en", "eu", "cs", "et", "fr", "el", "hi", "ko", "fa", "tr", "vi"]
    assert dp["data"]["source_defaults"]["max_train_examples"] == 15000 and dp["task"]["decode"] == "greedy"
    ner = cfg("ltsft_masakhaner")
    assert ner["data"]["targets"] == ["hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor"]
    assert ner["task"]["label_map"] == {"B-MISC": "O", "I-MISC": "O", "B-DATE": "O", "I-DATE": "O"}
    nli = cfg("ltsft_americasnli_multisource")
    assert sorted(nli["data"]["sources"]) == sorted(["en", "ar", "bg", "de", "el", "es", "fr", "hi", "ru", "sw",
                                                     "th", "tr", "ur", "vi", "zh"])
    qa = cfg("ltsft_xquad_multisource")
    assert qa["data"]["targets"] == ["el", "ro", "ru", "th", "tr"]
    assert (qa["task"]["train"]["max_epochs"], qa["task"]["train"]["batch_size"], qa["task"]["train"]["lr"]) == (
        5, 12, 3e-5)
    assert list(qa["data"]["sources"]) == ["en", "ar", "de", "es", "hi", "vi", "zh"]


@pytest.mark.parametrize("experiment", ["ltsft_ud_pos", "ltsft_ud_dp_multisource"])
@pytest.mark.parametrize("variant", ["task_module=rand_sft", "task_module=bitfit", "task_module=full",
                                     "lang_module=bitfit", "lang_module=rand_sft", "lang_module=none"])
def test_baselines_and_variants_plan(experiment, variant, tmp_path, cache_dir, monkeypatch):
    """BitFit, rand-SFT, full fine-tuning and TA-only (§4.4.1) are choices of the same experiments."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = Experiment(compose_config([f"+experiment={experiment}", "+profile=smoke", variant], tmp_path), tmp_path)
    plan = plan_experiment(exp)
    group, method = variant.split("=")
    assert getattr(exp, group).method == method  # the config option is named after the method
    task = next(stage for stage in plan.stages if stage.kind == "task_module")
    assert bool(task.inputs) == (method != "none")  # TA-only trains without source language modules
    if experiment.endswith("multisource") and method != "none":
        assert len(task.inputs) == 11


# ---------------------------------------------------------------------------- slow: the sweeps
@pytest.fixture(scope="module")
def shared_root(smoke_runs):
    """The every-experiment smoke runs' artifact store: the sweeps reuse what those runs built."""
    return smoke_runs.root


@pytest.mark.slow
def test_figure_4_2_sweep_smoke(shared_root, cache_dir, tmp_path):
    """LT-SFT and rand-SFT at the six equivalent reduction factors: 12 jobs sharing the language SFTs."""
    result = launch(["-m", "--config-dir", "sweeps", "--config-name", "ltsft_ud_pos_task_density", "+profile=smoke",
                     f"paths.root={shared_root}", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cache_dir, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*"), key=lambda p: int(p.name))
    assert len(jobs) == 12
    seen = set()
    for job in jobs:
        results = read_json(job / "results.json")
        check_results(results, "ltsft_ud_pos")
        task = results["modules"]["task_module"]
        seen.add((task["method"], task["num_trainable"]))
        assert (job / ".hydra" / "overrides.yaml").exists()
        if job.name != "0":
            assert all(results["stages"][f"lang/{lang}"]["status"] == "cached" for lang in results["languages"])
    assert {method for method, _ in seen} == {"ltsft", "rand_sft"} and len(seen) == 12
    ks = sorted({read_json(j / "results.json")["modules"]["task_module"]["trained_k"] for j in jobs})
    assert len(ks) == 6 and ks[-1] == pytest.approx(32 * ks[0], rel=0.01)  # K ratio of reduction factors 32..1
    # the multirun's report: the table and Figure 4.2's line plot (one line per method)
    report = tmp_path / "sweep" / "report"
    assert "ltsft" in (report / "report.md").read_text() and (report / "ltsft_ud_pos.csv").exists()
    assert [p.read_bytes()[:4] for p in report.glob("*task_module.num_trainable*.png")] == [b"\x89PNG"]


@pytest.mark.slow
def test_figure_4_3_sweep_smoke(shared_root, cache_dir, tmp_path):
    """Language x task density (here a 2 x 2 corner of the 6 x 6 grid): densities reach the artifacts."""
    result = launch(["-m", "--config-dir", "sweeps", "--config-name", "ltsft_ud_dp_density_grid", "+profile=smoke",
                     "lang_module.density=0.05,1.0", "task_module.density=0.05,1.0", f"paths.root={shared_root}",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}"], cache_dir, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    grid = {}
    for job in (tmp_path / "sweep").glob("[0-9]*"):
        results = read_json(job / "results.json")
        check_results(results, "ltsft_ud_dp", ["bxr", "yue", "myv", "mt", "hsb"])
        modules = results["modules"]
        grid[(modules["lang_module"]["density"], modules["task_module"]["density"])] = modules
    assert set(grid) == {(0.05, 0.05), (0.05, 1.0), (1.0, 0.05), (1.0, 1.0)}
    low, high = grid[(0.05, 0.05)], grid[(1.0, 1.0)]
    assert low["task_module"]["trained_density"] == pytest.approx(0.05, rel=0.01)
    assert high["task_module"]["trained_density"] > 0.9 and high["lang_module"]["trained_density"] > 0.5
    # the multirun's report: the table and Figure 4.3's contour plot
    report = tmp_path / "sweep" / "report"
    assert (report / "report.md").exists() and (report / "ltsft_ud_dp.csv").exists()
    png = report / "ltsft_ud_dp_lang_module.density_x_task_module.density.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
