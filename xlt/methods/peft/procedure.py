"""Training LoRA / (IA)^3 (and qLoRA) through peft on the Fitter; their artifacts are the adapter
directories peft writes (``adapter/``) plus ``module.json`` (base model and hash)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from xlt.errors import ArtifactError
from xlt.methods import TrainRequest
from xlt.methods.core.head import copy_head
from xlt.methods.peft.config import PeftMethodConfig
from xlt.methods.peft.wrappers import attach_ia3, attach_lora, merge_adapters
from xlt.methods.spiel.procedure import freeze
from xlt.models.loading import base_mismatch_message

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel

HEAD_FILE = "head.safetensors"  # the task head trained beside the adapter (absent for an LM's own output layer)


class PeftModule:
    """A peft adapter directory as a pipeline module, with the task head trained beside it (``head.safetensors``,
    as peft's ``modules_to_save``) when the task has a new one (classification, tagging, parsing, QA)."""

    def __init__(self, directory: Path | None = None, attachment: Any = None, meta: dict[str, Any] | None = None,
                 head: dict[str, torch.Tensor] | None = None):
        self.directory, self.attachment, self.meta = directory, attachment, dict(meta or {})
        self.head = dict(head or {})

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        self.attachment.save(directory / "adapter")
        if self.head:
            save_file({name: tensor.contiguous() for name, tensor in self.head.items()}, directory / HEAD_FILE)
        (directory / "module.json").write_text(json.dumps(self.meta, indent=2) + "\n")

    def attach(self, model: TaskModel, with_head: bool) -> Any:
        if self.directory is not None:
            handle = merge_adapters(model.backbone, [self.directory / "adapter"])
        else:
            # a module fresh from training: peft merges from a saved adapter, so write it to a scratch dir
            # (merging reads it into memory: the handle does not need the files)
            with tempfile.TemporaryDirectory(prefix="xlt-peft-") as scratch:
                self.attachment.save(scratch)
                handle = merge_adapters(model.backbone, [scratch])
        if with_head and self.head:
            try:
                copy_head(model, self.head, handle.saved, "peft module")  # handle.remove() restores it
            except ArtifactError:
                handle.remove()
                raise
        return handle

    def check_base(self, base_hash: str | None, where: str) -> None:
        expected = self.meta.get("base_hash")
        if base_hash is not None and expected and expected != base_hash:
            raise ArtifactError(base_mismatch_message(where, self.meta, base_hash))


def train_peft(cfg: PeftMethodConfig, request: TrainRequest) -> tuple[PeftModule, dict[str, Any]]:
    cfg.validate()
    model = request.model
    freeze(model)
    if cfg.method == "lora":
        attachment = attach_lora(model.backbone, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets)
    else:
        attachment = attach_ia3(model.backbone, cfg.targets, cfg.feedforward)
    if model.head is not None:  # a new task head trains densely beside the adapter (peft's modules_to_save)
        model.head.requires_grad_(True)
    result = request.fitter.fit(model, request.train, request.validation, request.collate, request.schedule, "train")
    head = {f"head.{name}": p.detach().to("cpu", copy=True) for name, p in model.head.named_parameters()} \
        if model.head is not None else {}
    meta = {**request.meta, "method": cfg.method, "rank": cfg.rank if cfg.method == "lora" else None,
            "quantize": cfg.quantize, "num_trainable": attachment.num_trainable}
    summary = {"num_trainable": attachment.num_trainable, "train/steps": result.steps, "train/lr": request.schedule.lr,
               **{f"train/{key}": value for key, value in result.metrics.items()}}
    return PeftModule(None, attachment, meta, head), summary


def load_peft_module(directory: Path) -> PeftModule:
    if not (directory / "adapter" / "adapter_config.json").is_file():
        raise ArtifactError(f"{directory}: no peft adapter (adapter/adapter_config.json)")
    meta = json.loads((directory / "module.json").read_text()) if (directory / "module.json").exists() else {}
    head = {}
    if (directory / HEAD_FILE).is_file():
        from safetensors.torch import load_file

        head = load_file(directory / HEAD_FILE)
    return PeftModule(directory, None, meta, head)
