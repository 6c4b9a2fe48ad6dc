"""The base model is a stage input: a stage can produce a model (a BiStil student, an adapted NMT model)
that later stages build on, with its own tokenizer, base-weights hash and artifact keys."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import compose_config
from xlt.errors import ArtifactError
from xlt.methods.core.sft import SparseFineTuning
from xlt.models.loading import base_weights_hash, load_encoder
from xlt.pipeline.base_model import MODEL_INPUT, produced_model
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Runner, Stage
from xlt.pipeline.stages import attach_module
from xlt.pipeline.stages.evaluation import evaluation_stage
from xlt.pipeline.stages.language_module import language_module_stage
from xlt.pipeline.stages.task_module import task_module_stage
from xlt.tasks import build_task

SMOKE = ["+experiment=ltsft_americasnli", "+profile=smoke", "trainer.max_steps_per_phase=2", "data.targets=[gn]"]


def scaled_copy(exp: Experiment, scale: float) -> Stage:
    """A stage writing a copy of the base model with scaled weights (a stand-in for a student)."""

    def build(ctx) -> dict:
        from transformers import AutoModelForMaskedLM

        model = AutoModelForMaskedLM.from_pretrained(exp.model_path)
        with torch.no_grad():
            for param in model.parameters():
                param.mul_(scale)
        model.save_pretrained(ctx.out_dir)
        exp.tokenizer.save_pretrained(ctx.out_dir)
        return {"scale": scale}

    return Stage("student", "student", {"scale": scale, **exp.base_model.spec}, build)


def test_stages_build_on_a_model_that_a_stage_produced(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = Experiment(compose_config(SMOKE, tmp_path), tmp_path / "run")
    student = produced_model(scaled_copy(exp, 0.5), exp.model, {"scale": 0.5})
    lang = language_module_stage(exp, "en", student)
    task = task_module_stage(exp, lang, student)
    evaluation = evaluation_stage(exp, "gn", task, None, student)
    for stage in (lang, task, evaluation):
        assert stage.inputs[MODEL_INPUT] is student.stage  # the produced model is an input of its users
    assert language_module_stage(exp, "en").key != lang.key  # the configured model's stages: other keys
    other = produced_model(scaled_copy(exp, 0.25), exp.model, {"scale": 0.25})
    assert language_module_stage(exp, "en", other).key != lang.key

    results = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([evaluation])
    student_dir = str(results["student"].path)
    sft = SparseFineTuning.load(results["task"].path / "sft.safetensors")
    student_hash = base_weights_hash(load_encoder(student_dir, exp.model))
    configured_hash = base_weights_hash(load_encoder(exp.model_path, exp.model))
    assert sft.meta["base_model"] == student_dir and sft.meta["base_hash"] == student_hash != configured_hash
    assert 0 <= results["eval/gn"].metrics["accuracy"] <= 1
    # one base hash per model, not one per process: the student's task module refuses the configured model
    model = build_task(exp.task_cfg, exp.tokenizer).build_model(exp.model_path, exp.model)
    with pytest.raises(ArtifactError, match="trained against base weights"):
        attach_module(exp, exp.task_module.method, results["task"].path, model, True)
