"""BiStillation's teacher-student training on the Fitter (thesis §5.3.2-5.3.3).

Two LightningModules, both :class:`~xlt.tasks.base.TaskModel` subclasses, so the Fitter (and with it
validation, best-state selection, resuming, multi-source batches) trains them like any task model:

* :class:`BilingualDistillation` (stage 1, general bilingual distillation, §5.3.2): the trainable
  student (a masked-LM model, run through its body only: eq. 5.3's MLM prediction is left out) and the
  frozen teacher body. Loss L_attn + L_hidden (eqs. 5.1, 5.2) on MLM-masked inputs shown to both. Batches
  are single-language (a :class:`~xlt.training.multisource.MultiSourceTrain` of the source and target
  corpora, each batch's language drawn with equal probability); :func:`teacher_language_modules` wraps the
  language SFTs so that the per-batch :class:`~xlt.training.callbacks.LanguageSwitch` attaches the batch's
  SFT to the *teacher* (the student is never modified by them). Validation: the same loss on each
  language's held-out blocks, the teacher wearing that language's SFT; the smallest mean selects the
  checkpoint (§5.4.2: "the one with the smallest loss is selected").
* :class:`TaskDistillation` (stage 2, BiStil-TF, §5.3.3): the student task model (body + fresh head) and the
  frozen teacher task model (trimmed base + source language SFT + task SFT, head included). Loss
  L_attn + L_hidden + L_pred, L_pred over the task's label distributions (:func:`task_predictions`). Its
  ``body`` and ``head_parameters()`` are the student's, so LT-SFT (``train_sparse``) trains it unchanged
  and saves an SFT of the student; validation scores the student alone with the task metric.

Gradients reach the student only: teacher parameters are frozen, the teacher runs under ``no_grad`` in
evaluation mode (it stays in evaluation mode when Lightning switches the module to training), and the
losses detach teacher tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from xlt.data.collators import IGNORE_INDEX
from xlt.distillation.losses import DEFAULT_TEMPERATURE, DistillationTerms, distillation_terms, prediction_loss
from xlt.errors import ConfigError
from xlt.eval.metrics import MeanLoss, Metric
from xlt.models.loading import body_of
from xlt.tasks.base import TaskModel

MODEL_INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def model_inputs(batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    return {key: batch[key] for key in MODEL_INPUT_KEYS if key in batch}


class OutputCapture:
    """Makes a transformers body return attention probabilities and hidden states on every call and keeps
    its last output (the task models call their backbone themselves; this sees what it returned)."""

    def __init__(self, body: nn.Module):
        self.last: Any = None
        self.enabled = True  # off: the body runs as usual (e.g. validation of the student alone)
        self._handles = [body.register_forward_pre_hook(self._ask, with_kwargs=True),
                         body.register_forward_hook(self._keep)]

    def _ask(self, module: nn.Module, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        if not self.enabled:
            return args, kwargs
        return args, {**kwargs, "output_attentions": True, "output_hidden_states": True}

    def _keep(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self.enabled:
            self.last = output

    def take(self) -> Any:
        output, self.last = self.last, None
        if output is None:
            raise RuntimeError("distillation: the model's body was not called")
        return output

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module


# --------------------------------------------------------------------------------------------- stage 1
class TeacherModule:
    """A language module attached to the teacher of a :class:`BilingualDistillation` instead of the model
    the switch hands it (the module interface of xlt.methods: ``attach(model, with_head) -> handle``)."""

    def __init__(self, module: Any):
        self.module = module

    def attach(self, model: Any, with_head: bool) -> Any:
        return self.module.attach(SimpleNamespace(body=model.teacher), with_head=False)


def teacher_language_modules(modules: Mapping[str, Any]) -> dict[str, TeacherModule]:
    """Language modules for :class:`~xlt.training.multisource.MultiSourceTrain`: each attaches to the teacher."""
    return {lang: TeacherModule(module) for lang, module in modules.items()}


def logged_total(model: TaskModel, terms: DistillationTerms, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The loss of eqs. 5.1-5.3 (``terms.total``), each term logged while training."""
    if model._trainer is not None:
        model.log_dict({f"train/{name}": value for name, value in terms.as_dict().items() if name != "total"},
                       batch_size=model._batch_size(batch))
    return terms.total


class BilingualDistillation(TaskModel):
    """Stage 1 (§5.3.2): ``student`` (a transformers masked-LM model, saved as the stage's output) learns
    the attention probabilities and hidden states of ``teacher`` (a transformers body, frozen) on the same
    MLM-masked inputs. ``self.teacher`` is what :class:`TeacherModule` attaches language SFTs to."""

    def __init__(self, student: nn.Module, teacher: nn.Module):
        super().__init__(student, None, MeanLoss)
        self.teacher = freeze(teacher)

    def train(self, mode: bool = True) -> BilingualDistillation:
        super().train(mode)
        self.teacher.eval()  # no dropout in the teacher, ever
        return self

    def terms(self, batch: Mapping[str, Any]) -> DistillationTerms:
        inputs = model_inputs(batch)
        with torch.no_grad():
            teacher = self.teacher(**inputs, output_attentions=True, output_hidden_states=True)
        student = self.body(**inputs, output_attentions=True, output_hidden_states=True)
        return distillation_terms(student, teacher, inputs.get("attention_mask"), attention=True, hidden=True)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return logged_total(self, self.terms(batch), batch)

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        assert isinstance(metric, MeanLoss)
        terms = self.terms(batch)
        mask = batch.get("attention_mask")
        metric.update(terms.total.detach(), int(mask.sum()) if mask is not None else int(batch["input_ids"].numel()))


# --------------------------------------------------------------------------------------------- stage 2
@dataclass
class Prediction:
    """One set of label distributions of a task model: ``logits`` over the last dimension, ``mask`` which
    distributions count (None: all), ``logit_mask`` which classes exist (None: all)."""

    logits: torch.Tensor
    mask: torch.Tensor | None = None
    logit_mask: torch.Tensor | None = None


def task_predictions(model: TaskModel, batch: Mapping[str, Any]) -> list[Prediction]:
    """The label distributions eq. 5.3 compares, per task family: the classes of a sequence (NLI); the tags
    of labelled positions (NER, POS); the start and end positions over real tokens (QA); the heads of each
    word over the possible heads and the relations at the gold head (DP)."""
    from xlt.tasks.models.classification import SequenceClassifier
    from xlt.tasks.models.parsing import BiaffineParser
    from xlt.tasks.models.qa import QuestionAnswering
    from xlt.tasks.models.tagging import TokenClassifier
    from xlt.tasks.parsing import usable_words

    if isinstance(model, SequenceClassifier):
        return [Prediction(model.logits(batch))]  # type: ignore[arg-type]
    if isinstance(model, TokenClassifier):
        return [Prediction(model.logits(batch), batch["labels"] != IGNORE_INDEX)]  # type: ignore[arg-type]
    if isinstance(model, QuestionAnswering):
        start, end = model.logits(batch)  # type: ignore[arg-type]
        real = batch["attention_mask"].bool()
        return [Prediction(torch.stack([start, end], 1), None, real[:, None, :])]
    if isinstance(model, BiaffineParser):
        arcs, relations, valid = model.scores(batch)  # type: ignore[arg-type]
        present = batch["word_starts"] >= 0
        index = batch["heads"].clamp(min=0)[..., None, None].expand(-1, -1, 1, relations.shape[-1])
        at_gold = relations.gather(2, index).squeeze(2)
        return [Prediction(arcs, present, valid), Prediction(at_gold, usable_words(batch, valid))]
    raise ConfigError(f"recipe.variant=tf: no label distributions to distil for a {type(model).__name__} "
                      "(task families: classification, token_classification, extractive_qa, dependency_parsing); "
                      "use recipe.variant=st")


class TaskDistillation(TaskModel):
    """Stage 2, BiStil-TF (§5.3.3): ``student`` (a task model: the stage-1 student + a fresh head) learns
    from ``teacher`` (a task model on the trimmed base with the source language SFT and the task SFT
    applied, frozen): L_attn + L_hidden + L_pred at ``temperature``. The module's ``backbone`` and ``head``
    are the student's (so methods and saved SFTs see the student exactly as a task model of its own);
    validation scores the student alone."""

    def __init__(self, student: TaskModel, teacher: TaskModel, temperature: float = DEFAULT_TEMPERATURE):
        super().__init__(student.backbone, student.head, student.metric_factory)
        object.__setattr__(self, "student", student)  # not a submodule: its modules are ours already
        self.teacher = freeze(teacher)
        self.temperature = temperature
        self._student_outputs = OutputCapture(student.body)
        self._teacher_outputs = OutputCapture(teacher.body)

    def train(self, mode: bool = True) -> TaskDistillation:
        super().train(mode)
        self.teacher.eval()
        return self

    def terms(self, batch: Mapping[str, Any]) -> DistillationTerms:
        with torch.no_grad():
            teacher_predictions = task_predictions(self.teacher, batch)
        teacher = self._teacher_outputs.take()
        student_predictions = task_predictions(self.student, batch)
        student = self._student_outputs.take()
        terms = distillation_terms(student, teacher, batch.get("attention_mask"), attention=True, hidden=True)
        terms.prediction = torch.stack([
            prediction_loss(s.logits, t.logits, s.mask, self.temperature, s.logit_mask)
            for s, t in zip(student_predictions, teacher_predictions)]).sum()
        return terms

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return logged_total(self, self.terms(batch), batch)

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        self._student_outputs.enabled = False
        try:
            self.student.update_metric(metric, batch)
        finally:
            self._student_outputs.enabled = True

    def release(self) -> None:
        """Remove the output hooks (the student task model is used on its own afterwards)."""
        self._student_outputs.remove()
        self._teacher_outputs.remove()


def student_task_model(family: Any, path: str, model_cfg: Any) -> TaskModel:
    """A fresh task model of ``family`` on the model at ``path``, prepared for distillation (eager attention,
    attention-probability dropout 0)."""
    from xlt.models.student import prepare_for_distillation

    model = family.build_model(path, model_cfg)
    prepare_for_distillation(body_of(model.backbone))
    return model
