"""Multi-source training (thesis §3.3.3, §4.4.4): single-language batches, each trained with its
language's module active for that step only.

:class:`MultiSourceTrain` is what a training procedure receives as ``TrainRequest.train`` for a
mixture: the per-language example lists, upsampling factors, the sampling policy and each
language's module. :class:`~xlt.training.fit.Fitter` turns it into a
:class:`~xlt.data.mixture.MixtureBatchSampler` loader and adds :class:`LanguageSwitch`, so every
method (SFT, adapters, ...) gets per-batch switching without code of its own.

Why the switch happens where it does. A language SFT is added in place to the very tensors the
task module trains (theta + phi_task + phi_lang). :class:`LanguageSwitch` attaches the batch's
module at batch start and removes it right after the backward pass: autograd has used
W + phi_lang for the forward and backward, and the module is gone before any
``on_before_optimizer_step`` hook (gradient masking, the L1 term, clipping) and before the
optimizer step, so the step updates W itself. Removing it after the step instead would restore
the saved values of W at phi_lang's indices and clobber the step's update there; MaskedUpdates'
restore of frozen entries (after the step) therefore sees plain W as well. Removal restores exact
bytes (``AppliedSFT``), so switching every batch causes no drift. Validation applies each
language's module to that language's loader and removes it before the best state is recorded.
The mechanism only needs ``attach(model, with_head) -> handle`` with ``handle.remove()``, so
adapter language modules switch the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L

from xlt.data.mixture import LANGUAGE_KEY, SamplingConfig


@dataclass
class MultiSourceTrain(Sequence):
    """A multi-source training set: ``sources`` maps each language to its (preprocessed) examples."""

    sources: dict[str, Sequence[dict[str, Any]]]
    upsampling: dict[str, int] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)  # language -> module artifact (absent: none)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)

    def __len__(self) -> int:
        return sum(len(examples) for examples in self.sources.values())

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        for examples in self.sources.values():
            if index < len(examples):
                return examples[index]
            index -= len(examples)
        raise IndexError(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for examples in self.sources.values():
            yield from examples

    @property
    def languages(self) -> list[str]:
        return list(self.sources)

    def factors(self) -> list[int]:
        return [int(self.upsampling.get(lang, 1)) for lang in self.sources]


class LanguageSwitch(L.Callback):
    """Activates the current batch's language module (see the module docstring for the timing)."""

    def __init__(self, modules: Mapping[str, Any], with_head: bool = False):
        self.modules = dict(modules)
        self.with_head = with_head
        self.active: str | None = None
        self.handle: Any = None

    def activate(self, pl_module: L.LightningModule, language: str | None) -> None:
        if language == self.active and (self.handle is not None or language is None):
            return
        self.deactivate()
        module = self.modules.get(language) if language is not None else None
        if module is not None:
            self.handle = module.attach(pl_module, with_head=self.with_head)
        self.active = language

    def deactivate(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        self.active = None

    # training: attach at batch start, remove right after backward (before any optimizer-step hook)
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        language = batch.pop(LANGUAGE_KEY, None) if isinstance(batch, dict) else None
        self.activate(pl_module, language)

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.deactivate()  # a step whose backward was skipped

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.deactivate()

    # validation: each loader is one language
    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                                  batch_idx: int, dataloader_idx: int = 0) -> None:
        names = getattr(pl_module, "val_names", [])
        self.activate(pl_module, names[dataloader_idx] if dataloader_idx < len(names) else None)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.deactivate()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.deactivate()
