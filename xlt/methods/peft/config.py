"""The peft baselines' config (``task_module=lora|ia3|qlora``; §7.4.2-7.4.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xlt.config import check_choice, check_names, check_number
from xlt.methods.core.quantization import QUANTIZATIONS


@dataclass
class PeftMethodConfig:
    """``task_module=lora|ia3`` through peft (§7.4.2-7.4.3): LoRA r, alpha 16, dropout 0.1 on all
    linear layers of the blocks; (IA)^3 on peft's default modules. They train with the task's schedule
    (``task.train``: learning rate and weight decay; conf/task_module/lora.yaml and ia3.yaml set Table 7.1's rate)."""

    method: str
    rank: int = 64
    alpha: float = 16.0
    dropout: float = 0.1
    targets: list[str] | None = None  # default: LoRA all linear layers, (IA)^3 peft's defaults
    feedforward: list[str] | None = None  # (IA)^3: which targets scale their input (default: peft's)
    quantize: str | None = None  # nf4: qLoRA

    def validate(self, where: str = "task_module") -> None:
        check_number(self.rank, f"{where}.rank", minimum=1, integer=True)
        check_number(self.alpha, f"{where}.alpha", above=0)
        check_number(self.dropout, f"{where}.dropout", minimum=0, below=1)
        check_names(self.targets, f"{where}.targets")
        check_names(self.feedforward, f"{where}.feedforward")
        if self.quantize is not None:
            check_choice(self.quantize, f"{where}.quantize", QUANTIZATIONS)


def module_quantization(cfg: Any) -> str | None:
    """The base-weight quantisation a module config asks for (None: full precision)."""
    return getattr(cfg, "quantize", None)
