"""Released composable-sft modules instead of training (§5.4.2; issue 13 item 9): ``lang_module.pretrained`` /
``task_module.pretrained`` name a module by hub id or local path per language; the module stage imports it
(checked against the base body, never unpickling code), and BiStil trims it with the student's vocabulary.
The hub cannot be reached here: modules are local files written in the reference format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import compose_config
from tests.test_sft import _reference_encoding
from xlt.errors import ArtifactError, ConfigError
from xlt.methods.core.sft import SparseFineTuning
from xlt.models.loading import base_weights_hash, load_encoder
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.runner import Runner

SMOKE = ["+experiment=ltsft_americasnli", "+profile=smoke", "trainer.max_steps_per_phase=2", "data.targets=[gn]"]


def experiment(tmp_path: Path, *overrides: str, smoke: list[str] = SMOKE) -> Experiment:
    return Experiment(compose_config([*smoke, *overrides], tmp_path), tmp_path / "run")


def write_module(directory: Path, diffs: dict[str, torch.Tensor], abs_tensors: dict[str, torch.Tensor] | None = None
                 ) -> Path:
    """A composable-sft module as the authors' library saves it (``pytorch_diff.bin``)."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({"diffs": {name: _reference_encoding(dense) for name, dense in diffs.items()},
                "abs": abs_tensors or {}}, directory / "pytorch_diff.bin")
    return directory


def language_diffs(body: torch.nn.Module) -> dict[str, torch.Tensor]:
    params = dict(body.named_parameters())
    query = torch.zeros_like(params["encoder.layer.0.attention.self.query.weight"])
    query[1, 2], query[3, 0] = 0.5, -0.25
    embeddings = torch.zeros_like(params["embeddings.word_embeddings.weight"])
    embeddings[7, 1], embeddings[11, 3] = 1.0, 2.0
    return {"encoder.layer.0.attention.self.query.weight": query, "embeddings.word_embeddings.weight": embeddings}


def test_a_language_module_is_imported_instead_of_trained(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = experiment(tmp_path)
    body = load_encoder(exp.model_path, exp.model)
    diffs = language_diffs(body)
    module = write_module(tmp_path / "xlmr-lang-sft-gn-small", {f"roberta.{n}": d for n, d in diffs.items()} | {
        "lm_head.dense.weight": torch.eye(body.config.hidden_size)})  # the MLM head's diffs: dropped
    # the corpus is not needed for an imported module
    exp = experiment(tmp_path, f"+lang_module.pretrained.gn={module}", "+data.languages.gn.corpus.path=/nonexistent")
    [stage] = [s for s in plan_experiment(exp).stages if s.label == "lang/gn"]
    assert stage.spec["corpus"] is None and "local" in stage.spec["module"]["pretrained"]["gn"]
    result = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([stage])["lang/gn"]
    assert result.metrics["imported"] == 1 and result.metrics["k"] == 4
    sft = SparseFineTuning.load(result.path / "sft.safetensors")
    assert set(sft.diffs) == set(diffs) and not sft.abs
    assert all(torch.equal(sft.diffs[name].to_dense(), dense) for name, dense in diffs.items())
    assert sft.meta["base_hash"] == base_weights_hash(body) and sft.meta["kind"] == "language"
    assert sft.meta["imported_from"] == str(module) and sft.meta["dropped_head_diffs"] == ["lm_head.dense.weight"]
    # the trained module of another language keeps its key: pretrained enters keys only where it is set
    trained = experiment(tmp_path)
    [en] = [s for s in plan_experiment(trained).stages if s.label == "lang/en"]
    assert "pretrained" not in en.spec["module"]
    # a module replaced in place gets a new key
    write_module(module, {f"roberta.{n}": 2 * d for n, d in diffs.items()})
    [again] = [s for s in plan_experiment(experiment(tmp_path, f"+lang_module.pretrained.gn={module}")).stages
               if s.label == "lang/gn"]
    assert again.key != stage.key


def test_a_task_module_is_imported_with_its_head(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = experiment(tmp_path, "lang_module=none")
    body = load_encoder(exp.model_path, exp.model)
    hidden = body.config.hidden_size
    head = {"classifier.dense.weight": torch.randn(hidden, hidden), "classifier.dense.bias": torch.randn(hidden),
            "classifier.out_proj.weight": torch.randn(3, hidden), "classifier.out_proj.bias": torch.randn(3)}
    diffs = language_diffs(body)
    module = write_module(tmp_path / "xlmr-task-sft-nli", {f"roberta.{n}": d for n, d in diffs.items()}, head)
    exp = experiment(tmp_path, "lang_module=none", f"+task_module.pretrained.en={module}")
    [task] = [s for s in plan_experiment(exp).stages if s.label == "task"]
    result = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([task])["task"]
    sft = SparseFineTuning.load(result.path / "sft.safetensors")
    assert result.metrics["imported"] == 1 and sft.meta["kind"] == "task"
    assert {name: tensor.shape for name, tensor in sft.abs.items()} == {
        "head.dense.weight": (hidden, hidden), "head.dense.bias": (hidden,), "head.out_proj.weight": (3, hidden),
        "head.out_proj.bias": (3,)}
    assert torch.equal(sft.abs["head.out_proj.weight"], head["classifier.out_proj.weight"])
    # a module of another task (a token-classification head) is refused, naming the key
    write_module(module, {f"roberta.{n}": d for n, d in diffs.items()},
                 {"classifier.weight": torch.randn(7, hidden), "classifier.bias": torch.randn(7)})
    exp = experiment(tmp_path, "lang_module=none", f"+task_module.pretrained.en={module}")
    [task] = [s for s in plan_experiment(exp).stages if s.label == "task"]
    with pytest.raises(ArtifactError, match=r"task_module.pretrained.en=.*head tensor 'classifier.weight'"):
        Runner(exp.store, tmp_path / "run2", announce=lambda _: None).run([task])


def test_a_module_of_another_model_or_a_bad_reference_is_refused(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = experiment(tmp_path)
    module = write_module(tmp_path / "mbert-lang-sft-gn-small", {"bert.encoder.layer.0.output.dense.weight":
                                                                 torch.ones(768, 3072)})
    exp = experiment(tmp_path, f"+lang_module.pretrained.gn={module}")
    [stage] = [s for s in plan_experiment(exp).stages if s.label == "lang/gn"]
    with pytest.raises(ArtifactError, match="the base body's parameter"):
        Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([stage])
    with pytest.raises(ConfigError, match=r"lang_module.pretrained.gn='/nonexistent/module': not a composable-sft"):
        experiment(tmp_path, "+lang_module.pretrained.gn=/nonexistent/module")
    # a hub id is fetched when the stage builds: offline, one line naming the key
    exp = experiment(tmp_path, "+lang_module.pretrained.gn=cambridgeltl/xlmr-lang-sft-gn-small")
    [stage] = [s for s in plan_experiment(exp).stages if s.label == "lang/gn"]
    with pytest.raises(ArtifactError, match=r"lang_module.pretrained.gn='cambridgeltl/xlmr-lang-sft-gn-small': "
                                            r"cannot fetch pytorch_diff.bin"):
        Runner(exp.store, tmp_path / "run3", announce=lambda _: None).run([stage])


def test_bistil_trims_released_language_modules_for_its_teacher(tmp_path, cache_dir, monkeypatch):
    """Stage 1's teacher wears the released modules, trimmed with the student's vocabulary (§5.3.2)."""
    from xlt.methods.core.trim import trim_sft
    from xlt.models.vocabulary import VocabularyReduction
    from xlt.pipeline.stages.distillation import trimmed_teacher_modules

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    bistil = ["+experiment=bistil_americasnli", "+profile=smoke", "trainer.max_steps_per_phase=2", "data.targets=[gn]"]
    exp = experiment(tmp_path, smoke=bistil)
    body = load_encoder(exp.model_path, exp.model)
    modules = {lang: write_module(tmp_path / lang, {f"roberta.{n}": d for n, d in language_diffs(body).items()})
               for lang in ("en", "gn")}
    exp = experiment(tmp_path, *(f"+lang_module.pretrained.{lang}={path}" for lang, path in modules.items()),
                     smoke=bistil)
    stages = {s.label: s for s in plan_experiment(exp).stages}
    assert stages["student/gn"].inputs["lang/gn"] is stages["lang/gn"]
    results = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run(
        [stages["lang/en"], stages["lang/gn"], stages["student_init/gn"]])
    reduction = VocabularyReduction.load(results["student_init/gn"].path / "vocabulary.json")
    untrimmed = base_weights_hash(body)
    trimmed = trimmed_teacher_modules(exp, {"gn": results["lang/gn"].path}, untrimmed, reduction, "trimmed-hash")
    imported = SparseFineTuning.load(results["lang/gn"].path / "sft.safetensors")
    expected = trim_sft(imported, reduction, base_hash="trimmed-hash")
    got = trimmed["gn"].sft
    assert got.meta["base_hash"] == "trimmed-hash" and got.meta["untrimmed_base_hash"] == untrimmed
    name = "embeddings.word_embeddings.weight"
    assert got.diffs[name].shape == (reduction.new_size, body.config.hidden_size)
    assert torch.equal(got.diffs[name].to_dense(), expected.diffs[name].to_dense())
    kept = [old for old in (7, 11) if reduction.new_id(old) is not None]
    assert int((got.diffs[name].to_dense() != 0).sum()) == len(kept)
