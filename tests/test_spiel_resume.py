"""A SpIEL phase interrupted anywhere (inside a selection window, right after an update or a
validation) and resumed from its checkpoint ends exactly like the uninterrupted phase: same
indices, values, grown_at and update reports (xlt.training.resume, SpielCallback's state, the
indices as a trained buffer); a finished phase reused from its done.pt restores the indices."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.spiel_helpers import TinyMLP
from tests.test_resume import KeepCheckpoints
from tests.test_spiel_lightning import Regression, collate, examples
from xlt.errors import ArtifactError
from xlt.eval.metrics import MeanLoss
from xlt.methods import TrainRequest
from xlt.methods.spiel.callbacks import SELECTION_RECORD, SpielCallback
from xlt.methods.spiel.config import SpielConfig
from xlt.methods.spiel.optim import SparseSM3, SpielAdamW
from xlt.methods.spiel.procedure import train_spiel
from xlt.methods.spiel.selection import UpdateReport
from xlt.schedule import Schedule
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig
from xlt.training.resume import CHECKPOINT, PHASE_DONE

TRAIN, VALIDATION = examples(40, 0), {"held": examples(8, 1)}


class Capturing(Fitter):
    """Records the phase's SpielCallback; optionally keeps every checkpoint, or refuses to train."""

    def __init__(self, tmp_path: Path, work_dir: Path | None, keep: Path | None = None, train: bool = True):
        cfg = TrainerConfig(accelerator="cpu", progress_bar=False, checkpoint_every_n_steps=1,
                            checkpoint_every_minutes=None)
        super().__init__(cfg, LoggerConfig(csv=False), tmp_path / "logs", "t", 3, work_dir=work_dir)
        self.keep = KeepCheckpoints(work_dir / "train", keep) if keep else None
        self.spiel: SpielCallback | None = None
        self.allow_training = train

    def fit(self, model, train, validation, collate, schedule, phase, callbacks=(), optimizer=None):
        self.spiel = next(c for c in callbacks if isinstance(c, SpielCallback))
        self.result = super().fit(model, train, validation, collate, schedule, phase, callbacks, optimizer)
        return self.result

    def _trainer(self, phase, callbacks, **kwargs):
        if not self.allow_training:
            raise AssertionError("a finished phase must not train again")
        return super()._trainer(phase, [*callbacks, *([self.keep] if self.keep else [])], **kwargs)


def run(method: str, fitter: Capturing, accumulate: int, seed: int = 0):
    """One SpIEL phase of 14 steps: updates at steps 3, 8, 13 (windows 1-3, 6-8, 11-13; MA ignores
    the windows), validation every 4 steps with best-state selection. ``seed`` draws the initial
    random indices: a resumed attempt must get every index from the checkpoint."""
    task = Regression(TinyMLP(seed=0), None, MeanLoss)
    schedule = Schedule(lr=0.05 if method == "spiel_ag" else 0.2, batch_size=4, max_steps=14, eval_every=4,
                        accumulate=accumulate, select_best=True)
    cfg = SpielConfig(method=method, rank=None, num_trainable=60, interval=5, window=3, replace_rate=0.5)
    module, summary = train_spiel(cfg, TrainRequest(task, TRAIN, VALIDATION, collate, schedule, fitter, seed=seed,
                                                    reference_params=None))
    return module.sft, summary


def assert_same(reference, other, where) -> None:
    (sft, summary, callback), (sft2, summary2, callback2) = reference, other
    assert summary2 == summary, where
    assert sft2.meta["grown_at"] == sft.meta["grown_at"] and len(sft.meta["grown_at"]) > 1, where
    assert set(sft2.diffs) == set(sft.diffs)
    for name, delta in sft.diffs.items():
        assert torch.equal(delta.indices, sft2.diffs[name].indices), (where, name)
        assert torch.equal(delta.values, sft2.diffs[name].values), (where, name)
    if callback2 is not None:
        assert callback2.selector.reports == callback.selector.reports, where
        for name, grown_at in callback.selector.grown_at.items():
            assert torch.equal(grown_at, callback2.selector.grown_at[name]), (where, name)


@pytest.mark.parametrize("method,accumulate,resume_at", [
    ("spiel_ag", 1, [2, 4, 7, 8, 12]),  # inside windows (2, 7, 12), after a validation (4), after an update (8)
    ("spiel_ag", 2, [2, 7]),  # gradient accumulation: windows span micro-batches; epoch = 5 steps
    ("spiel_ma", 1, [4, 7, 9]),
])
def test_resumed_spiel_phase_equals_uninterrupted(tmp_path, method, accumulate, resume_at):
    plain = Capturing(tmp_path, None)
    sft, summary = run(method, plain, accumulate)
    reference = (sft, summary, plain.spiel)
    assert [r.step for r in plain.spiel.selector.reports] == [3, 8, 13]
    assert summary["replaced"] > 0 and summary["train/steps"] == 14
    assert plain.result.best_step > 8  # the compared state is a late one (after two updates)

    # checkpoints at every step change nothing; keep each of them
    work = tmp_path / "work"
    keeping = Capturing(tmp_path, work, keep=tmp_path / "kept")
    sft2, summary2 = run(method, keeping, accumulate)
    assert_same(reference, (sft2, summary2, keeping.spiel), "checkpointed")
    assert set(resume_at) <= set(keeping.keep.steps)
    if method == "spiel_ag":  # a checkpoint inside a window holds the window's statistics
        inside = torch.load(tmp_path / "kept" / "7" / CHECKPOINT, weights_only=False)
        windows = inside["callbacks"]["SpielCallback"]["selector"]["windows"]
        assert windows and all(w["steps"] == 2 and w["grad_sq_sum"].abs().sum() > 0 for w in windows.values())
        assert any(key.endswith(".indices") for key in inside["state_dict"])

    for step in resume_at:  # a new process after a kill: fresh model with other random indices
        again = tmp_path / f"resume{step}"
        shutil.copytree(tmp_path / "kept" / str(step), again / "train")
        resuming = Capturing(tmp_path, again)
        resumed = run(method, resuming, accumulate, seed=7)
        assert_same(reference, (*resumed, resuming.spiel), f"resumed at {step}")
        if method == "spiel_ma":  # SM3 reads the very buffer the checkpoint was restored into
            optimizer = resuming.spiel.selector.optimizer
            assert isinstance(optimizer, SparseSM3)
            assert all(optimizer.layout[layer.values][0] is layer.indices for _, layer in resuming.spiel.modules)

    # what the checkpoint carries matters: without the indices it is refused; without the selector's
    # state (AG: the open window's statistics) the resumed phase would end elsewhere
    step = 7  # inside the window of the update at step 8
    checkpoint = torch.load(tmp_path / "kept" / str(step) / CHECKPOINT, weights_only=False)
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "kept" / str(step), broken / "train")
    torch.save({**checkpoint, "state_dict": {k: v for k, v in checkpoint["state_dict"].items()
                                             if not k.endswith(".indices")}}, broken / "train" / CHECKPOINT)
    with pytest.raises(ArtifactError, match="holds other trainable parameters"):
        run(method, Capturing(tmp_path, broken), accumulate, seed=7)
    if method == "spiel_ag":
        shutil.rmtree(broken)
        shutil.copytree(tmp_path / "kept" / str(step), broken / "train")
        torch.save({**checkpoint, "callbacks": {k: v for k, v in checkpoint["callbacks"].items()
                                                if k != "SpielCallback"}}, broken / "train" / CHECKPOINT)
        forgetful = Capturing(tmp_path, broken)
        sft3, _ = run(method, forgetful, accumulate, seed=7)
        assert forgetful.spiel.selector.reports[0] == UpdateReport(8)  # no window statistics: nothing replaced
        assert any(not torch.equal(sft3.diffs[n].indices, d.indices) for n, d in sft.diffs.items())

    # a later attempt of a finished phase: nothing trains, done.pt restores values AND indices
    assert (work / "train" / PHASE_DONE).exists() and (work / "train" / SELECTION_RECORD).exists()
    reusing = Capturing(tmp_path, work, train=False)
    assert_same(reference, (*run(method, reusing, accumulate, seed=7), None), "done.pt")
    assert reusing.spiel.selector is None


def test_done_record_without_indices_is_refused(tmp_path):
    """A done.pt written before indices were trained state (values only) is not silently reused."""
    work = tmp_path / "work"
    run("spiel_ma", Capturing(tmp_path, work), 1)
    record = torch.load(work / "train" / PHASE_DONE, weights_only=True)
    record["state"] = {k: v for k, v in record["state"].items() if not k.endswith(".indices")}
    torch.save(record, work / "train" / PHASE_DONE)
    with pytest.raises(ArtifactError, match=r"holds no '.*\.indices', which this model trains"):
        run("spiel_ma", Capturing(tmp_path, work, train=False), 1)


@pytest.mark.parametrize("optimizer_class", [SpielAdamW, SparseSM3])
def test_optimizer_state_stays_float32_for_bfloat16_values(optimizer_class):
    """torch casts loaded state to the parameter's dtype; SpIEL's optimisers keep float32 state."""
    values = torch.nn.Parameter(torch.zeros(5, dtype=torch.bfloat16))
    indices = torch.tensor([0, 3, 4, 9, 11])

    def make():
        if optimizer_class is SparseSM3:
            return SparseSM3([(values, indices, (3, 4))], lr=0.1)
        return SpielAdamW([values], lr=0.1)

    optimizer = make()
    for grad in (torch.tensor([1e-3, 1.0, 3.3, -7.1, 0.123]), torch.tensor([0.5, -2.0, 1e-4, 0.7, 9.9])):
        values.grad = grad.to(torch.bfloat16)
        optimizer.step()
    saved = optimizer.state_dict()
    expected = {k: v.clone() for k, v in optimizer.state[values].items()}
    restored = make()
    restored.load_state_dict(saved)
    assert expected and all(v.dtype == torch.float32 for v in expected.values())
    for key, value in expected.items():
        assert restored.state[values][key].dtype == torch.float32
        assert torch.equal(restored.state[values][key], value), key
    assert any(not torch.equal(v.to(torch.bfloat16).float(), v) for v in expected.values())  # rounding would show
