"""Every experiment composes, validates and plans (without training); bad input fails in one line."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers import REPO, compose_config, experiments, launch
from xlt.errors import ConfigError, DataError
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment


@pytest.mark.parametrize("experiment", experiments())
@pytest.mark.parametrize("profile", [[], ["+profile=smoke"]])
def test_every_experiment_composes_validates_and_plans(experiment, profile, tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config([f"+experiment={experiment}", *profile], tmp_path)
    exp = Experiment(cfg, tmp_path / "run")
    if profile:  # every bundled sample exists and planning succeeds
        plan = plan_experiment(exp)
        assert plan.stages
    else:
        assert exp.model.name_or_path  # the real config names a real model


def test_ltsft_americasnli_has_the_thesis_hyperparameters(tmp_path):
    cfg = OmegaConf.to_container(compose_config(["+experiment=ltsft_americasnli"], tmp_path), resolve=True)
    assert cfg["model"]["name_or_path"] == "FacebookAI/xlm-roberta-base"
    assert cfg["lang_module"]["num_trainable"] == 7667712 and cfg["lang_module"]["l1_lambda"] == 0.1
    assert cfg["lang_module"]["mlm"]["untie_output_embeddings"] and cfg["lang_module"]["freeze_layer_norm"]
    assert cfg["task_module"]["num_trainable"] == 14155776
    train = cfg["task"]["train"]
    assert (train["max_epochs"], train["batch_size"], train["lr"], train["eval_every"]) == (5, 32, 2e-5, 625)
    assert cfg["data"]["targets"] == ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]


def test_cfg_job_shows_the_real_experiment(cache_dir):
    result = launch(["+experiment=ltsft_americasnli", "--cfg", "job"], cache_dir)
    assert result.returncode == 0, result.stderr
    for text in ("FacebookAI/xlm-roberta-base", "num_trainable: 7667712", "num_trainable: 14155776",
                 "lr: 2.0e-05", "batch_size: 32", "eval_every: 625", "max_epochs: 5"):
        assert text in result.stdout, text


def test_unknown_key_in_config_is_one_line_error(tmp_path):
    cfg = compose_config(["+experiment=ltsft_americasnli", "+task_module.densty=0.1"], tmp_path)
    with pytest.raises(ConfigError, match=r"task_module: unknown key 'densty'"):
        Experiment(cfg, tmp_path)


def test_bad_task_config_fails_before_training(tmp_path):
    cfg = compose_config(["+experiment=ltsft_americasnli", "+task.train.lr_typo=1"], tmp_path)
    with pytest.raises(ConfigError, match=r"task\.train: unknown key 'lr_typo'"):
        Experiment(cfg, tmp_path)


def test_unknown_override_and_bad_value_fail_cleanly(cache_dir, tmp_path):
    result = launch(["+experiment=ltsft_americasnli", "task_module.densty=0.1", f"paths.root={tmp_path}"], cache_dir)
    assert result.returncode != 0 and "densty" in result.stderr
    result = launch(["+experiment=ltsft_americasnli", "+profile=smoke", "task_module.method=magic",
                     f"paths.root={tmp_path}"], cache_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: task_module.method='magic': unknown")


def test_missing_data_file_names_the_path(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config(["+experiment=ltsft_americasnli", "+profile=smoke",
                          "data.source.train.sample.path=/nonexistent/mnli.jsonl"], tmp_path)
    with pytest.raises(DataError, match="/nonexistent/mnli.jsonl"):
        plan_experiment(Experiment(cfg, tmp_path))
    cfg = compose_config(["+experiment=ltsft_americasnli"], tmp_path)  # real config, corpora not downloaded
    with pytest.raises(DataError, match=r"corpora/aym\.txt"):
        plan_experiment(Experiment(cfg, tmp_path))


def test_sweep_files_compose(cache_dir):
    from pathlib import Path

    for sweep in sorted((Path(__file__).resolve().parents[1] / "sweeps").glob("*.yaml")):
        result = launch(["--config-dir", "sweeps", "--config-name", sweep.stem, "--cfg", "hydra"], cache_dir)
        assert result.returncode == 0, (sweep, result.stderr)
        assert "sweeper:" in result.stdout and "params:" in result.stdout


def test_high_resource_languages_hold_out_1pct_and_validate_every_5000_steps(tmp_path):
    """§4.4.2: language modules validate on 5% every 1,000 steps; high-resource languages 1% every 5,000."""
    from xlt.pipeline.stages.language_module import language_module_stage, language_training

    exp = Experiment(compose_config(["+experiment=ltsft_ud_pos"], tmp_path), tmp_path / "run")
    assert exp.data.high_resource == ["en", "ar", "ja", "zh"]
    for lang, fraction, every in (("en", 0.01, 5000), ("ja", 0.01, 5000), ("mt", 0.05, 1000), ("bxr", 0.05, 1000)):
        mlm, schedule = language_training(exp, lang)
        assert (mlm.heldout_fraction, schedule.eval_every) == (fraction, every), lang
    assert exp.lang_module.train.eval_every == 1000  # the shared schedule itself is left alone
    # the distinction is part of the stage's identity: another high-resource list, another artifact
    key = language_module_stage(exp, "mt").key
    other = Experiment(compose_config(["+experiment=ltsft_ud_pos", "data.high_resource=[en,mt]"], tmp_path),
                       tmp_path / "run2")
    assert language_module_stage(other, "mt").key != key
    assert language_module_stage(other, "bxr").key == language_module_stage(exp, "bxr").key


def test_every_experiment_requests_cluster_resources_for_its_size(tmp_path):
    """Each experiment sets its own SLURM request (issue 4): a GPU, and for LLMs a large host; smoke: CPU only."""
    conf = REPO / "conf" / "experiment"
    for experiment in experiments():
        assert "\ncluster:" in (conf / f"{experiment}.yaml").read_text(), experiment
        cluster = compose_config([f"+experiment={experiment}"], tmp_path).cluster
        assert cluster.gpus_per_node == 1 and cluster.timeout_min >= 60, experiment
        if experiment.startswith("spiel_"):
            assert cluster.mem_gb >= 128 and cluster.cpus_per_task >= 16, experiment
        smoke = compose_config([f"+experiment={experiment}", "+profile=smoke"], tmp_path).cluster
        assert smoke.gpus_per_node is None and smoke.mem_gb <= 4, experiment
    long_running = compose_config(["+experiment=ltsft_ud_dp_multisource"], tmp_path).cluster
    assert long_running.max_num_timeout > compose_config(["+experiment=madg_ud_pos"], tmp_path).cluster.max_num_timeout


@pytest.mark.parametrize("override", ["trainer.devices=2", "trainer.strategy=ddp", "trainer.devices=[0,1]",
                                      "trainer.strategy=fsdp"])
def test_multi_device_training_is_accepted(override, tmp_path):
    """Several devices per job (issue 16): one process per device, stages owned by rank 0."""
    Experiment(compose_config(["+experiment=ltsft_americasnli", override], tmp_path), tmp_path / "run")


@pytest.mark.parametrize("override, key", [("trainer.strategy=ddp_spawn", r"trainer\.strategy='ddp_spawn'"),
                                           ("trainer.strategy=deepspeed", r"trainer\.strategy='deepspeed'"),
                                           ("trainer.devices=0", r"trainer\.devices=0")])
def test_unsupported_multi_device_settings_are_refused_in_one_line(override, key, tmp_path):
    with pytest.raises(ConfigError, match=key):
        Experiment(compose_config(["+experiment=ltsft_americasnli", override], tmp_path), tmp_path / "run")


def test_the_real_model_size_that_scales_an_absolute_budget_is_in_the_module_keys(tmp_path, cache_dir, monkeypatch):
    """model.num_parameters scales an absolute K (num_trainable) on a stand-in model: two values train
    different modules, so they must not share an artifact (a cache hit for changed inputs)."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))

    def keys(*overrides: str) -> dict[str, str]:
        cfg = compose_config(["+experiment=ltsft_americasnli", "+profile=smoke", "data.targets=[gn]", *overrides],
                             tmp_path)
        return {s.label: s.key for s in plan_experiment(Experiment(cfg, tmp_path / "run")).stages}

    mbert_sized, xlmr_sized = keys("model.num_parameters=177262848"), keys("model.num_parameters=277453056")
    assert mbert_sized["lang/gn"] != xlmr_sized["lang/gn"] and mbert_sized["task"] != xlmr_sized["task"]
    assert keys("model.num_parameters=177262848") == mbert_sized
