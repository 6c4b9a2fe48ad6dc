"""Per-batch language modules (thesis §3.3.3, §4.4.4, §6.4.2).

In multilingual training every batch holds one language, and that language's module is active for
the batch's forward and backward passes only: "the language module for the relevant language is
activated at the beginning of the training step and deactivated at the end of the step". The
:class:`LanguageModuleSwitch` callback does this for any module with the artifact interface
(``attach(model, with_head) -> handle`` with ``handle.remove()``): adapters (attaching is a hook, no
weights move), generated MAD-G adapters, or SFTs. It reads the batch's language from
``batch["lang"]`` (set by :class:`~xlt.data.language_sampling.LanguageTaggedCollator`), attaches at
batch start and removes after the backward pass, i.e. before the optimiser step, so an in-place SFT
never sees the update (autograd has already used the weights). Validation batches are switched the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from xlt.data.language_sampling import LANG_KEY
from xlt.errors import ConfigError


class LanguageModuleSwitch(L.Callback):
    """Attach ``modules[batch language]`` for exactly one batch (``None``: no module for that language)."""

    def __init__(self, modules: Mapping[str, Any | None], key: str = LANG_KEY, with_head: bool = False):
        self.modules, self.key, self.with_head = dict(modules), key, with_head
        self.handle: Any = None
        self.active: str | None = None
        self.history: list[str] = []  # languages of the training batches seen (for inspection)

    def _language(self, batch: Any) -> str:
        if not isinstance(batch, dict) or self.key not in batch:
            raise ConfigError(f"per-batch language modules need batch[{self.key!r}] (a language-tagged collator)")
        lang = batch.pop(self.key)  # the model's forward must not see it
        if lang not in self.modules:
            raise ConfigError(f"batch language {lang!r} has no entry in the language modules "
                              f"({', '.join(sorted(self.modules))})")
        return lang

    def _attach(self, pl_module: L.LightningModule, lang: str) -> None:
        self._detach()
        module = self.modules[lang]
        self.handle = module.attach(pl_module, with_head=self.with_head) if module is not None else None
        self.active = lang

    def _detach(self) -> None:
        if self.handle is not None:
            self.handle.remove()
        self.handle, self.active = None, None

    # ----------------------------------------------------------------- training
    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        lang = self._language(batch)
        self.history.append(lang)
        self._attach(pl_module, lang)

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._detach()  # before the optimiser step (and before gradient clipping's step)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._detach()

    # ----------------------------------------------------------------- validation
    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                                  batch_idx: int, dataloader_idx: int = 0) -> None:
        self._attach(pl_module, self._language(batch))

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._detach()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._detach()
