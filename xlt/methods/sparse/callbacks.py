"""The sparse family's Lightning callbacks: masked updates (frozen entries stay bit-identical, §4.3.1)
and the L1 pull towards theta0 (§4.4.2), once per optimiser step."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import lightning as L
import torch
from torch import nn

from xlt.methods.core.masking import MaskedTraining, add_l1_gradient


class L1TowardsInit(L.Callback):
    """Adds the gradient of lambda/N * sum |theta - theta0| once per optimiser step (§4.3.1)."""

    def __init__(self, params: Mapping[str, nn.Parameter], reference: MutableMapping[str, torch.Tensor],
                 coefficient: float):
        self.params, self.reference, self.coefficient = params, reference, coefficient

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        value = add_l1_gradient(self.params, self.reference, self.coefficient)
        pl_module.log("train/l1", value)


class MaskedUpdates(L.Callback):
    """Masks gradients before each step and restores frozen entries after it (§4.3.1)."""

    def __init__(self, masked: MaskedTraining):
        self.masked = masked

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: Any) -> None:
        self.masked.mask_gradients()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.masked.restore_frozen()
