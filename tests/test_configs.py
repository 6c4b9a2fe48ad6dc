"""Every experiment composes, validates and plans (without training); bad input fails in one line."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers import compose_config, experiments, launch
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
