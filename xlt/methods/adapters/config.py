"""The adapter family's config (``lang_module=adapter`` / ``task_module=adapter``, MAD-X; §2.2.1, §2.3.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.config import check_choice, check_number
from xlt.data.blocks import MLMConfig
from xlt.errors import ConfigError
from xlt.methods.adapters.bottleneck import ACTIVATIONS, AdapterShape
from xlt.schedule import Schedule


@dataclass
class AdapterModuleConfig:
    """``method: adapter``: a Pfeiffer bottleneck adapter per layer (eq. 2.8), bottleneck = hidden /
    ``reduction_factor``; ``invertible`` adds the NICE embedding adapter (language adapters);
    ``leave_out: [-1]`` drops the last layer's adapter (MAD-X 2.0). ``pretrained`` maps a language
    to an AdapterHub Pfeiffer adapter directory to import instead of training (e.g. the public MAD-X
    language adapters)."""

    method: str = "adapter"
    reduction_factor: float = 16.0
    invertible: bool = False
    inv_reduction_factor: float = 2.0
    non_linearity: str = "relu"
    leave_out: list[int] = field(default_factory=list)
    init: str = "bert"  # bert: N(0, 0.02) (AdapterHub) | zero_up: zero up-projections
    pretrained: dict[str, str] = field(default_factory=dict)
    train: Schedule | None = None  # language modules: the MLM schedule
    mlm: MLMConfig | None = None  # language modules: MLM settings

    def validate(self, where: str) -> None:
        check_number(self.reduction_factor, f"{where}.reduction_factor", above=0)
        check_number(self.inv_reduction_factor, f"{where}.inv_reduction_factor", above=0)
        if not isinstance(self.invertible, bool):
            raise ConfigError(f"{where}.invertible={self.invertible!r}: expected true or false")
        check_choice(str(self.non_linearity).lower(), f"{where}.non_linearity", list(ACTIVATIONS))
        check_layers(self.leave_out, f"{where}.leave_out")
        check_choice(self.init, f"{where}.init", ("bert", "zero_up"))
        for lang, directory in self.pretrained.items():
            if not isinstance(directory, str) or not directory:
                raise ConfigError(f"{where}.pretrained.{lang}={directory!r}: expected an AdapterHub adapter directory")

    def shape(self, hidden_size: int, num_layers: int) -> AdapterShape:
        return AdapterShape.from_reduction_factor(
            hidden_size, num_layers, self.reduction_factor, self.leave_out, invertible=self.invertible,
            inv_reduction_factor=self.inv_reduction_factor, non_linearity=self.non_linearity)


def check_layers(layers: Any, where: str) -> None:
    """``leave_out``: a list of layer indices (negative ones count from the last layer)."""
    if not isinstance(layers, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in layers):
        raise ConfigError(f"{where}={layers!r}: expected a list of layer indices (e.g. [-1]: the last layer)")
