"""Resuming a training phase from its checkpoint gives exactly the uninterrupted result
(xlt.training.resume): the checkpoint's content, the sampler position, RNG states, finished
phases, LT-SFT's phase-1 outcome, preemption signals and Lightning's SLURM requeue (off)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from xlt.data.locations import DataLocation, load_location
from xlt.data.sampling import EpochBatchSampler
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ArtifactError
from xlt.methods import TrainRequest
from xlt.methods.sparse.config import SparseModuleConfig
from xlt.methods.sparse.procedure import train_sparse
from xlt.models.loading import ModelConfig, load_tokenizer
from xlt.schedule import Schedule
from xlt.tasks import build_task
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig
from xlt.training.resume import CHECKPOINT, CHECKPOINT_INFO, cluster_plugins

NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"],
       "train": {"lr": 1e-3, "batch_size": 8, "max_epochs": 1}}


@pytest.fixture(scope="module")
def nli(tiny_xlmr_path):
    family = build_task(NLI, load_tokenizer(tiny_xlmr_path))
    location = DataLocation(path=str(SAMPLES_DIR / "multinli/multinli_1.0_train.jsonl"), max_examples=40,
                            columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"})
    examples = family.preprocess(load_location(location, "train"), "train")
    return family, examples, tiny_xlmr_path


def _model(nli, seed=0):
    family, _, path = nli
    torch.manual_seed(seed)
    model = family.build_model(path, ModelConfig(name_or_path=path))
    model.train()  # dropout on: resuming must also restore the RNG
    return model


def _fitter(log_dir, work_dir, every=1, **kwargs):
    cfg = TrainerConfig(accelerator="cpu", progress_bar=False, checkpoint_every_n_steps=every,
                        checkpoint_every_minutes=None, **kwargs)
    return Fitter(cfg, LoggerConfig(csv=False), log_dir, "test", seed=3, work_dir=work_dir)


def _params(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


class KeepCheckpoints(L.Callback):
    """Copies each new checkpoint of the phase (written at the previous step or validation)."""

    def __init__(self, phase_dir: Path, keep_dir: Path):
        self.phase_dir, self.keep_dir, self.steps = phase_dir, keep_dir, []

    def _copy(self) -> None:
        info = self.phase_dir / CHECKPOINT_INFO
        if info.exists():
            step = json.loads(info.read_text())["step"]
            if step not in self.steps:
                self.steps.append(step)
                target = self.keep_dir / str(step)
                target.mkdir(parents=True)
                shutil.copy(self.phase_dir / CHECKPOINT, target / CHECKPOINT)
                shutil.copy(info, target / CHECKPOINT_INFO)

    def on_train_batch_start(self, *args) -> None:
        self._copy()

    def on_train_end(self, *args) -> None:
        self._copy()


@pytest.mark.parametrize("accumulate,steps,resume_at", [
    (1, 12, [3, 4, 5, 9]),  # mid-epoch; right after a validation (every 4); epoch end (5 batches); second epoch
    (2, 8, [2, 3, 4, 7]),  # with gradient accumulation: epoch = 3 steps, the 3rd a single batch
])
def test_resumed_phase_equals_uninterrupted(nli, tmp_path, caplog, accumulate, steps, resume_at):
    family, examples, _ = nli
    schedule = Schedule(lr=1e-3, batch_size=8, max_steps=steps, eval_every=4, accumulate=accumulate)
    data = (examples, {"en": examples[:16]}, family.collator(), schedule, "phase")

    plain = _model(nli)
    reference = _fitter(tmp_path / "logs", None).fit(plain, *data)
    expected = _params(plain)

    # the same phase with checkpoints at every step: identical result; keep every checkpoint
    model = _model(nli)
    keep = KeepCheckpoints(tmp_path / "work" / "phase", tmp_path / "kept")
    result = _fitter(tmp_path / "logs", tmp_path / "work").fit(model, *data, callbacks=[keep])
    assert result == reference
    assert all(torch.equal(expected[n], p) for n, p in model.named_parameters())
    assert set(resume_at) <= set(keep.steps)

    for step in resume_at:  # a new process after a kill: fresh model, the work dir holds the checkpoint
        work = tmp_path / f"resume{step}"
        shutil.copytree(tmp_path / "kept" / str(step), work / "phase")
        model = _model(nli, seed=step)  # other random init: the checkpoint must restore everything that trains
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="xlt"):
            resumed = _fitter(tmp_path / "logs", work).fit(model, *data)
        assert f"resuming from checkpoint {work / 'phase' / CHECKPOINT} (step {step} of {steps})" in caplog.text
        assert resumed == reference, step
        for name, param in model.named_parameters():
            assert torch.equal(expected[name], param), (step, name)


def test_checkpoint_holds_only_trainable_state_and_finished_phase_is_reused(nli, tmp_path, caplog):
    family, examples, _ = nli
    model = _model(nli)
    frozen = {name for name, p in model.named_parameters() if "LayerNorm" in name or "embeddings" in name}
    for name, param in model.named_parameters():
        param.requires_grad_(name not in frozen)
    schedule = Schedule(lr=1e-3, batch_size=8, max_steps=6, eval_every=3)

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 5:
                raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        _fitter(tmp_path / "logs", tmp_path / "work", every=2).fit(
            model, examples, {"en": examples[:16]}, family.collator(), schedule, "p1", callbacks=[Crash()])
    checkpoint = torch.load(tmp_path / "work" / "p1" / CHECKPOINT, weights_only=False)
    trainable = {f"{name}" for name, p in model.named_parameters() if p.requires_grad}
    assert set(checkpoint["state_dict"]) == trainable and frozen  # never the frozen base weights
    assert checkpoint["global_step"] == 4 and checkpoint["optimizer_states"] and checkpoint["lr_schedulers"]
    assert checkpoint["xlt_resume"]["sampler"] == {"epoch": 0, "batches_done": 4}
    shutil.copy(tmp_path / "work" / "p1" / CHECKPOINT, tmp_path / "kept.ckpt")
    shutil.copy(tmp_path / "work" / "p1" / CHECKPOINT_INFO, tmp_path / "kept.json")

    with caplog.at_level(logging.INFO, logger="xlt"):
        first = _fitter(tmp_path / "logs", tmp_path / "work").fit(
            model, examples, {"en": examples[:16]}, family.collator(), schedule, "p1")
    assert f"resuming from checkpoint {tmp_path / 'work' / 'p1' / CHECKPOINT} (step 4 of 6)" in caplog.text
    final = _params(model)
    assert not (tmp_path / "work" / "p1" / CHECKPOINT).exists()  # replaced by the phase's outcome

    # a checkpoint of other trainable parameters (e.g. code changed between attempts) is refused
    shutil.copytree(tmp_path / "work" / "p1", tmp_path / "stale" / "p1")
    (tmp_path / "stale" / "p1" / "done.pt").unlink()
    shutil.copy(tmp_path / "kept.ckpt", tmp_path / "stale" / "p1" / CHECKPOINT)
    shutil.copy(tmp_path / "kept.json", tmp_path / "stale" / "p1" / CHECKPOINT_INFO)
    everything = _model(nli)  # now the embeddings train too
    with pytest.raises(ArtifactError, match="holds other trainable parameters than this phase has"):
        _fitter(tmp_path / "logs", tmp_path / "stale").fit(
            everything, examples, {"en": examples[:16]}, family.collator(), schedule, "p1")

    other = _model(nli, seed=1)  # a later attempt of the stage: the finished phase is not trained again
    fitter = _fitter(tmp_path / "logs", tmp_path / "work")
    fitter._trainer = None  # building a Trainer would fail the test
    again = fitter.fit(other, examples, {"en": examples[:16]}, family.collator(), schedule, "p1")
    assert again == first
    assert all(torch.equal(final[n], p) for n, p in other.named_parameters() if p.requires_grad)


class Phase2Crash(Fitter):
    """Crashes phase 2 after ``at`` steps; records which phases actually trained."""

    def __init__(self, *args, at=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.trained = at, []

    def _trainer(self, phase, callbacks, **kwargs):
        self.trained.append(phase)
        at = self.at

        class Crash(L.Callback):
            def on_train_batch_end(self, trainer, *args):
                if phase == "phase2" and at is not None and trainer.global_step >= at:
                    raise RuntimeError("killed in phase 2")

        return super()._trainer(phase, [Crash(), *callbacks], **kwargs)


def test_ltsft_resumed_in_phase2_does_not_redo_phase1(nli, tmp_path):
    family, examples, path = nli

    def request(fitter, seed):
        model = _model(nli, seed)
        return TrainRequest(model, examples, {"en": examples[:16]}, family.collator(),
                            Schedule(lr=1e-3, batch_size=8, max_steps=8, eval_every=4), fitter, seed=0,
                            reference_params=None)

    cfg = SparseModuleConfig(method="ltsft", num_trainable=2000)
    trainer_cfg = TrainerConfig(accelerator="cpu", progress_bar=False, checkpoint_every_n_steps=3,
                                checkpoint_every_minutes=None)
    reference, _ = train_sparse(cfg, request(Fitter(trainer_cfg, LoggerConfig(csv=False), tmp_path, "t", 3), 0))

    crashing = Phase2Crash(trainer_cfg, LoggerConfig(csv=False), tmp_path, "t", 3, work_dir=tmp_path / "work", at=5)
    with pytest.raises(RuntimeError, match="killed in phase 2"):
        train_sparse(cfg, request(crashing, 0))
    assert crashing.trained == ["phase1", "phase2"]
    assert {p.name for p in (tmp_path / "work").iterdir()} >= {"head_init.pt", "phase1_masks.pt", "phase1", "phase2"}

    # the new attempt builds its model with another random head: the kept head init is used
    resuming = Phase2Crash(trainer_cfg, LoggerConfig(csv=False), tmp_path, "t", 3, work_dir=tmp_path / "work")
    resumed, summary = train_sparse(cfg, request(resuming, 7))
    assert resuming.trained == ["phase2"]  # phase 1 was not redone
    assert summary["phase2/steps"] == 8
    assert set(resumed.sft.diffs) == set(reference.sft.diffs)
    for name, delta in reference.sft.diffs.items():
        assert torch.equal(delta.indices, resumed.sft.diffs[name].indices), name
        assert torch.equal(delta.values, resumed.sft.diffs[name].values), name
    for name, value in reference.sft.abs.items():
        assert torch.equal(value, resumed.sft.abs[name]), name


def test_preemption_signal_checkpoints_at_the_next_step_then_hands_over(nli, tmp_path):
    family, examples, _ = nli
    schedule = Schedule(lr=1e-3, batch_size=8, max_steps=10, eval_every=20)
    handed_over = []

    class Requeued(BaseException):
        pass

    def submitit_handler(signum, frame):  # stands in for submitit's: checkpoint the job, requeue, exit
        handed_over.append(signum)
        raise Requeued()

    class Preempt(L.Callback):
        def on_before_backward(self, trainer, *args):
            if trainer.global_step == 6:  # arrives in the middle of a step
                os.kill(os.getpid(), signal.SIGUSR2)

    previous = signal.signal(signal.SIGUSR2, submitit_handler)
    try:
        model = _model(nli)
        with pytest.raises(Requeued):
            _fitter(tmp_path / "logs", tmp_path / "work", every=None).fit(
                model, examples, {"en": examples[:16]}, family.collator(), schedule, "p", callbacks=[Preempt()])
        assert handed_over == [signal.SIGUSR2]
        assert signal.getsignal(signal.SIGUSR2) is submitit_handler  # ours is uninstalled again
    finally:
        signal.signal(signal.SIGUSR2, previous)
    info = json.loads((tmp_path / "work" / "p" / CHECKPOINT_INFO).read_text())
    assert info["step"] == 7  # the step that was running when the signal came, completed

    plain = _model(nli)
    reference = _fitter(tmp_path / "logs", None).fit(plain, examples, {"en": examples[:16]}, family.collator(),
                                                     schedule, "p")
    model = _model(nli, seed=5)
    resumed = _fitter(tmp_path / "logs", tmp_path / "work", every=None).fit(
        model, examples, {"en": examples[:16]}, family.collator(), schedule, "p")
    assert resumed == reference
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), model.parameters()))


def test_sigterm_checkpoints_before_lightning_stops(nli, tmp_path):
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    family, examples, _ = nli
    schedule = Schedule(lr=1e-3, batch_size=8, max_steps=10, eval_every=20)

    class Terminate(L.Callback):
        def on_before_backward(self, trainer, *args):
            if trainer.global_step == 3:
                os.kill(os.getpid(), signal.SIGTERM)  # e.g. SLURM preemption with PreemptMode=REQUEUE

    previous = signal.signal(signal.SIGTERM, lambda *args: None)  # Lightning chains the existing handler
    try:
        with pytest.raises(SIGTERMException):
            _fitter(tmp_path / "logs", tmp_path / "work", every=None).fit(
                _model(nli), examples, {"en": examples[:16]}, family.collator(), schedule, "p", callbacks=[Terminate()])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert json.loads((tmp_path / "work" / "p" / CHECKPOINT_INFO).read_text())["step"] == 4


def test_lightning_slurm_auto_requeue_is_off(monkeypatch, tmp_path):
    for key in ("SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_NNODES", "SLURM_JOB_NUM_NODES"):
        monkeypatch.setenv(key, "1")
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    monkeypatch.setenv("SLURM_JOB_NAME", "xlt")
    monkeypatch.setenv("SLURM_NODELIST", "node1")
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_LOCALID", "0")
    (plugin,) = cluster_plugins()
    assert type(plugin).__name__ == "SLURMEnvironment" and plugin.auto_requeue is False
    trainer = _fitter(tmp_path, None)._trainer("p", [])
    environment = trainer._accelerator_connector.cluster_environment
    assert type(environment).__name__ == "SLURMEnvironment" and environment.auto_requeue is False
    for key in ("SLURM_NTASKS", "SLURM_JOB_NAME"):
        monkeypatch.delenv(key)
    assert cluster_plugins() == []


def test_sampler_resumes_mid_epoch_and_lightning_sets_its_epoch():
    from lightning.fabric.utilities.data import _set_sampler_epoch
    from torch.utils.data import DataLoader

    sampler = EpochBatchSampler(23, 5, seed=1)
    loader = DataLoader(list(range(23)), batch_sampler=sampler)
    _set_sampler_epoch(loader, 3)  # what Lightning's fit loop calls every epoch
    assert sampler.epoch == 3
    full = list(sampler)
    assert full != list(EpochBatchSampler(23, 5, seed=1))  # epoch 0's order differs
    sampler.resume_at(3, 2)
    assert list(sampler) == full[2:]  # once ...
    assert list(sampler) == full  # ... then whole epochs again
    sampler.resume_at(3, 2)
    sampler.set_epoch(4)
    assert len(list(sampler)) == 5  # a resume point of another epoch is ignored
