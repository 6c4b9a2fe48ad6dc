"""The task-family interface (preprocessing, collation, metric, model construction).

A family's model is a :class:`~xlt.tasks.models.base.TaskModel`: a pre-trained ``backbone`` (a
transformers model) plus an optional task ``head``, a LightningModule. It lives in xlt/tasks/models/ and is
imported only when a stage builds a model, so discovering the families and planning an experiment import
no Lightning.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import parse
from xlt.data.readers import PLAIN_TEXT, TextFileFormat
from xlt.eval.metrics import Metric
from xlt.models.loading import load_encoder
from xlt.schedule import Schedule

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel


class TaskFamily(ABC):
    """Task-specific preprocessing and model construction (one subclass per family)."""

    name: str
    schedule: Schedule  # the task's training hyper-parameters (e.g. NLI: 5 epochs, lr 2e-5)

    @abstractmethod
    def build_model(self, model_path: str, model_cfg: Any) -> TaskModel:
        """A fresh TaskModel on the base model at ``model_path``."""

    @abstractmethod
    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        """Tokenised examples (dicts) from a dataset with this task's columns."""

    @abstractmethod
    def collator(self) -> Callable[[Sequence[dict[str, Any]]], dict[str, torch.Tensor]]:
        """Batch collation for the preprocessed examples."""

    @abstractmethod
    def metric(self) -> Metric:
        """A fresh metric accumulator (its ``primary`` metric selects checkpoints)."""

    def text_file_format(self) -> TextFileFormat:
        """How this task reads a ``.txt`` data file whose location gives no ``format`` (and the
        options of that reader): plain text lines by default (MLM corpora)."""
        return PLAIN_TEXT


class EncoderFamily(TaskFamily):
    """A family whose model is an encoder body plus a task head (classification, tagging, parsing, QA):
    its config is parsed (and checked) from the ``task`` node, and every head gets the body's hidden size
    and hidden dropout (the heads' dropout, §4.4.3)."""

    config_class: type

    def __init__(self, cfg: Any, tokenizer: Any):
        self.cfg = cfg if isinstance(cfg, self.config_class) else parse(self.config_class, cfg, "task")
        self.name = self.cfg.name
        self.schedule = self.cfg.train
        self.tokenizer = tokenizer

    def build_model(self, model_path: str, model_cfg: Any) -> TaskModel:
        body = load_encoder(model_path, model_cfg)
        return self.make_model(body, body.config.hidden_size, getattr(body.config, "hidden_dropout_prob", 0.1))

    @abstractmethod
    def make_model(self, body: nn.Module, hidden_size: int, dropout: float) -> TaskModel:
        """The task model: ``body`` plus this family's head."""


def __getattr__(name: str) -> Any:
    """``TaskModel``, imported from xlt.tasks.models.base on first use (it needs Lightning)."""
    if name == "TaskModel":
        from xlt.tasks.models.base import TaskModel

        return TaskModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
