"""LoRA and (IA)3 task modules on a task with a new head train that head beside the adapter, save it
(``head.safetensors``) and put it back at evaluation: before, the head stayed at its random initialisation
in training and was drawn anew for evaluation (chance-level test scores, silently)."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import compose_config
from xlt.methods.peft.procedure import HEAD_FILE, load_peft_module
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.run import run_experiment
from xlt.tasks import build_task


@pytest.mark.parametrize("method", ["lora"])  # (IA)3 needs task_module.targets on BERT bodies
def test_a_peft_task_module_trains_saves_and_restores_its_head(method, tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    overrides = ["task=nli", "data=americasnli", "+profile=smoke", f"task_module={method}", "recipe.protocol=ta_only",
                 "data.targets=[gn]", "trainer.max_steps_per_phase=4"]
    cfg = compose_config(overrides, tmp_path)
    results = run_experiment(cfg, tmp_path / "run", overrides=overrides)
    task_dir = tmp_path / "run" / "artifacts" / "task"
    assert (task_dir / HEAD_FILE).is_file(), sorted(p.name for p in task_dir.iterdir())
    module = load_peft_module(task_dir.resolve())
    assert module.head and results["languages"]["gn"]["accuracy"] >= 0

    exp = Experiment(cfg, tmp_path / "check")
    family = build_task(exp.task_cfg, exp.tokenizer)
    torch.manual_seed(exp.seed)  # the task stage's head initialisation
    initial = family.build_model(exp.model_path, exp.model)
    init_head = {n: p.detach().clone() for n, p in initial.named_parameters() if n.startswith("head.")}
    assert any(not torch.equal(init_head[n], t) for n, t in module.head.items()), "the head did not train"

    torch.manual_seed(exp.seed + 1)  # an evaluation's fresh model draws another head
    model = family.build_model(exp.model_path, exp.model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    handle = module.attach(model, with_head=True)
    for name, param in model.named_parameters():
        if name.startswith("head."):
            assert torch.equal(param.detach(), module.head[name])
    handle.remove()
    assert all(torch.equal(before[n], p.detach()) for n, p in model.named_parameters())
