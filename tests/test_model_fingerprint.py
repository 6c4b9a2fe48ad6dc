"""A local model is keyed by its files, not its path (issue 10, item 3): a checkpoint overwritten at the same
path rebuilds its stages; the content hashes are cached (a 13 GB checkpoint is not re-read on every run);
and a base-weights mismatch says how to resolve it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import xlt.models.loading as loading
from tests.helpers import compose_config
from tests.test_adapters import random_adapter
from tests.test_sft import SHAPES, _random_sft
from xlt.errors import ArtifactError, ConfigError
from xlt.methods.adapters.artifact import AdapterModule
from xlt.models.loading import ModelConfig, local_model_fingerprint
from xlt.pipeline.run import run_experiment


def fake_checkpoint(directory: Path, weights: bytes = b"weights-0") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(weights)
    (directory / "config.json").write_text('{"model_type": "bert"}')
    (directory / "tokenizer.json").write_text('{"vocab": {}}')
    return directory


@pytest.fixture(autouse=True)
def fresh_process_memo(monkeypatch):
    monkeypatch.setattr(loading, "_FINGERPRINTS", {})


def test_the_fingerprint_follows_the_files_that_make_the_model(tmp_path):
    model = fake_checkpoint(tmp_path / "model")
    first = local_model_fingerprint(model, tmp_path / "cache")
    (model / "README.md").write_text("notes")  # not read by from_pretrained
    (model / ".lock").write_text("")
    assert local_model_fingerprint(model, tmp_path / "cache") == first
    copy = shutil.copytree(model, tmp_path / "elsewhere")  # content, not path
    assert local_model_fingerprint(copy, tmp_path / "cache") == first
    (model / "tokenizer.json").write_text('{"vocab": {"a": 0}}')  # a tokenizer file changed
    second = local_model_fingerprint(model, tmp_path / "cache")
    assert second != first
    # new weights of the same size, mtime set back: the ctime still shows the rewrite
    stat = (model / "model.safetensors").stat()
    (model / "model.safetensors").write_bytes(b"weights-1")
    os.utime(model / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (model / "model.safetensors").stat().st_size == stat.st_size
    assert local_model_fingerprint(model, tmp_path / "cache") not in (first, second)


def test_a_rebuild_of_the_same_weights_keeps_its_fingerprint(tmp_path):
    """A model that xlt built (the world's encoder, a student) carries its build's records (stage.json: when and
    how long; metrics.json: losses, CPU seconds). Two builds of byte-identical weights differ only there, and must
    key what is built on them alike."""
    first = fake_checkpoint(tmp_path / "first")
    (first / "stage.json").write_text('{"built_at": 1, "seconds": 10.0}')
    (first / "metrics.json").write_text('{"train_cpu_seconds": 301.9}')
    second = fake_checkpoint(tmp_path / "second")
    (second / "stage.json").write_text('{"built_at": 2, "seconds": 12.5}')
    (second / "metrics.json").write_text('{"train_cpu_seconds": 307.5}')
    assert local_model_fingerprint(first, tmp_path / "cache") == local_model_fingerprint(second, tmp_path / "cache")
    fake_checkpoint(second, b"weights-1")  # other weights: another model, whatever its records say
    assert local_model_fingerprint(first, tmp_path / "cache") != local_model_fingerprint(second, tmp_path / "cache")


def test_content_hashes_are_reused_from_the_sidecar_while_the_files_are_unchanged(tmp_path, monkeypatch):
    model = fake_checkpoint(tmp_path / "model")
    first = local_model_fingerprint(model, tmp_path / "cache")
    sidecars = list((tmp_path / "cache" / "model-fingerprints").glob("*.json"))
    assert len(sidecars) == 1 and set(json.loads(sidecars[0].read_text())["files"]) == {
        "model.safetensors", "config.json", "tokenizer.json"}
    read: list[str] = []
    real_hash = loading._content_hash
    monkeypatch.setattr(loading, "_content_hash", lambda path: read.append(path.name) or real_hash(path))
    monkeypatch.setattr(loading, "_FINGERPRINTS", {})  # a new process: only the sidecar remains
    assert local_model_fingerprint(model, tmp_path / "cache") == first and read == []
    (model / "config.json").write_text('{"model_type": "bert", "hidden_size": 8}')
    assert local_model_fingerprint(model, tmp_path / "cache") != first
    assert read == ["config.json"]  # only the changed file is read again, not the weights


def test_identity_of_hub_local_and_tiny_models(tmp_path):
    model = fake_checkpoint(tmp_path / "model")
    assert ModelConfig(name_or_path="FacebookAI/xlm-roberta-base", revision="abc").identity(tmp_path) == {
        "name_or_path": "FacebookAI/xlm-roberta-base", "revision": "abc"}
    assert ModelConfig(name_or_path=str(model)).identity(tmp_path) == {
        "local_files": local_model_fingerprint(model, tmp_path)}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="model.name_or_path=.*empty.*without model files"):
        ModelConfig(name_or_path=str(tmp_path / "empty")).identity(tmp_path)


def test_a_base_mismatch_says_which_artifact_which_model_and_what_to_do():
    sft = _random_sft(SHAPES, 2, 0)
    sft.meta["base_model"] = "/models/xlmr"
    adapter = AdapterModule(random_adapter(), None, {"base_hash": "abc", "base_model": "/models/xlmr"})
    for module in (sft, adapter):
        with pytest.raises(ArtifactError) as error:
            module.check_base("def", "artifacts/language_module/1234")
        message = str(error.value)
        assert "\n" not in message and "artifacts/language_module/1234" in message and "/models/xlmr" in message
        assert "model.revision" in message and "delete artifacts/language_module/1234" in message


def test_an_overwritten_local_checkpoint_rebuilds_its_stages(tmp_path, tiny_xlmr_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    model = Path(shutil.copytree(tiny_xlmr_path, tmp_path / "model"))
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", f"model.name_or_path={model}",
                 "data.targets=[gn]", "trainer.max_steps_per_phase=4", "lang_module.train.batch_size=8"]

    def run(name: str) -> dict:
        return run_experiment(compose_config(overrides, tmp_path / "root"), tmp_path / name)

    def language_module_metrics(results: dict) -> dict:
        return json.loads((Path(results["artifacts"]["lang/en"]) / "metrics.json").read_text())

    first = run("first")
    assert {stage["status"] for stage in first["stages"].values()} == {"built"}
    again = run("again")
    assert {stage["status"] for stage in again["stages"].values()} == {"cached"}
    assert again["languages"] == first["languages"]
    from transformers import AutoModelForMaskedLM

    weights = AutoModelForMaskedLM.from_pretrained(model)
    with torch.no_grad():
        for param in weights.parameters():
            param.add_(torch.randn(param.shape, generator=torch.Generator().manual_seed(1)) * 0.05)
    weights.save_pretrained(model)  # the same path, other weights
    changed = run("changed")
    assert {stage["status"] for stage in changed["stages"].values()} == {"built"}
    assert all(changed["stages"][label]["key"] != first["stages"][label]["key"] for label in first["stages"])
    assert language_module_metrics(changed) != language_module_metrics(first)
