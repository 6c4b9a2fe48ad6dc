"""SpIEL under Lightning: the callback's hook order with gradient accumulation, and restoring the
best validation state restores the indices its values belong to."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from tests.spiel_helpers import spiel_mlp
from xlt.eval.metrics import MeanLoss
from xlt.methods.spiel.callbacks import SpielCallback
from xlt.methods.spiel.optim import SpielAdamW
from xlt.methods.spiel.selection import SpielAG, UpdateSchedule
from xlt.schedule import Schedule
from xlt.tasks.base import TaskModel
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig


class Regression(TaskModel):
    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return ((self.backbone(batch["x"]) - batch["y"]) ** 2).mean()

    def update_metric(self, metric: MeanLoss, batch: dict[str, torch.Tensor]) -> None:
        metric.update(self.loss(batch).detach(), int(batch["x"].shape[0]))


def examples(n: int, seed: int, sign: float = 1.0) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    teacher = torch.randn(12, 6, generator=torch.Generator().manual_seed(99))
    out = []
    for _ in range(n):
        x = torch.randn(12, generator=generator)
        out.append({"x": x, "y": sign * torch.tanh(x @ teacher)})
    return out


def collate(batch: list[dict]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([example[key] for example in batch]) for key in ("x", "y")}


def fitter(tmp_path: Path) -> Fitter:
    return Fitter(TrainerConfig(accelerator="cpu", progress_bar=False), LoggerConfig(csv=False), tmp_path, "t", 0)


class Recorder:
    def __init__(self):
        self.calls: list[tuple] = []

    def begin_micro_batch(self, step: int, first: bool) -> None:
        self.calls.append(("begin", step, first))

    def before_optimizer_step(self, step: int) -> None:
        self.calls.append(("before", step))

    def after_optimizer_step(self, step: int) -> None:
        self.calls.append(("after", step))

    def age_histogram(self) -> dict:
        return {}


def test_callback_hook_order_with_gradient_accumulation(tmp_path):
    model, modules = spiel_mlp()
    task = Regression(model, None, MeanLoss)
    recorder = Recorder()
    callback = SpielCallback(modules, lambda optimizer, total: recorder)
    result = fitter(tmp_path).fit(task, examples(40, 0), {}, collate, Schedule(lr=1e-2, batch_size=4, max_steps=3,
                                                                                accumulate=2), "train", [callback],
                                  optimizer=lambda schedule: SpielAdamW(modules.parameters(), lr=schedule.lr))
    assert result.steps == 3
    expected = []
    for step in (1, 2, 3):
        expected += [("begin", step, True), ("begin", step, False), ("before", step), ("after", step)]
    assert recorder.calls == expected


class FinalIndices(L.Callback):
    def __init__(self, modules):
        self.modules, self.indices = modules, {}

    def on_train_end(self, *args) -> None:
        self.indices = {name: layer.indices.clone() for name, layer in self.modules}


def test_best_validation_state_restores_matching_indices(tmp_path):
    torch.manual_seed(0)
    model, modules = spiel_mlp(density=0.2)
    task = Regression(model, None, MeanLoss)
    callback = SpielCallback(modules, lambda optimizer, total: SpielAG(
        modules, optimizer, UpdateSchedule(total, interval=4, window=2)))
    final = FinalIndices(modules)
    validation = {"held": examples(16, 1, sign=-1.0)}  # the opposite task: validation gets worse with training
    schedule = Schedule(lr=0.05, batch_size=4, max_steps=12, eval_every=2, select_best=True)
    result = fitter(tmp_path).fit(task, examples(48, 0), validation, collate, schedule, "train", [callback, final],
                                  optimizer=lambda schedule: SpielAdamW(modules.parameters(), lr=schedule.lr))
    assert [r.step for r in callback.selector.reports] == [2, 6, 10]
    assert result.best_step < 10
    # BestState restored the best values together with their indices (a trained buffer)
    assert any(not torch.equal(final.indices[name], layer.indices) for name, layer in modules)  # later updates
    with torch.no_grad():
        assert abs(task.loss(collate(validation["held"])).item() - result.metrics["val/loss"]) < 1e-6
