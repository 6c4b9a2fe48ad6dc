"""LoRA and (IA)^3 through the ``peft`` library: chapter 7's baselines (thesis §7.4.2), not rewritten.

LoRA (Hu et al., 2022; §2.2.1): rank r, alpha 16, dropout 0.1, on every linear layer of the
transformer blocks (peft's ``"all-linear"``, which leaves the output layer alone). (IA)^3
(Liu et al., 2022) on peft's default modules for the architecture (Llama: k_proj, v_proj and the
feed-forward down_proj). qLoRA: the same LoRA on a model whose linear layers are bitsandbytes
NF4 (see xlt.methods.core.quantization), prepared with ``prepare_model_for_kbit_training``.

Composition (§7.5.1): LoRA modules compose by summing their updates, W + (alpha/r) B_T A_T +
(alpha/r) B_G A_G, which is what merging them into the base weights one after the other does
(:func:`merge_adapters`). Merging keeps a copy of every weight it overwrites, so the handle's
``remove()`` restores the exact base values (as SFT application does); a merged model can be
exported with ``save_pretrained``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

ADAPTER_CONFIG = "adapter_config.json"


def lora_config(rank: int = 64, alpha: float = 16, dropout: float = 0.1, targets: Any = None) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=targets if targets is not None else "all-linear", bias="none")


def ia3_config(targets: Any = None, feedforward: Any = None) -> Any:
    from peft import IA3Config

    return IA3Config(target_modules=targets, feedforward_modules=feedforward)


def is_quantized(model: nn.Module) -> bool:
    return any(type(m).__name__ == "Linear4bit" for m in model.modules())


class PeftAttachment:
    """A trainable peft adapter injected into ``model`` (in place)."""

    def __init__(self, model: nn.Module, config: Any):
        from peft import get_peft_model, prepare_model_for_kbit_training

        if is_quantized(model):  # qLoRA: norms in fp32, inputs require grad (peft's k-bit preparation)
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        self.model = model
        self.peft_model = get_peft_model(model, config)

    def trainable_parameters(self) -> dict[str, nn.Parameter]:
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    @property
    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.trainable_parameters().values())

    def save(self, directory: str | Path) -> None:
        self.peft_model.save_pretrained(str(directory))

    def remove(self) -> nn.Module:
        """Take the adapter out again (the base layers return, unchanged)."""
        return self.peft_model.unload()


def attach_lora(model: nn.Module, rank: int = 64, alpha: float = 16, dropout: float = 0.1,
                targets: Any = None) -> PeftAttachment:
    return PeftAttachment(model, lora_config(rank, alpha, dropout, targets))


def attach_ia3(model: nn.Module, targets: Any = None, feedforward: Any = None) -> PeftAttachment:
    return PeftAttachment(model, ia3_config(targets, feedforward))


def adapter_kind(directory: str | Path) -> str:
    """``LORA`` or ``IA3`` (peft's name), from a saved adapter directory."""
    config = json.loads((Path(directory) / ADAPTER_CONFIG).read_text())
    return str(config.get("peft_type"))


class MergedAdapters:
    """Adapters merged into a model's weights; ``remove()`` restores the exact originals."""

    def __init__(self) -> None:
        self.saved: list[tuple[nn.Parameter, torch.Tensor]] = []
        self.unmerged: list[Any] = []  # adapters applied on the fly (4-bit bases)

    def remove(self) -> None:
        with torch.no_grad():
            for param, original in reversed(self.saved):
                param.data.copy_(original)
        self.saved.clear()
        for peft_model in reversed(self.unmerged):
            peft_model.unload()
        self.unmerged.clear()


def _target_weights(peft_model: Any) -> Iterator[nn.Parameter]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in peft_model.base_model.model.modules():
        if isinstance(module, BaseTunerLayer):
            yield module.get_base_layer().weight


def merge_adapters(model: nn.Module, directories: Iterable[str | Path]) -> MergedAdapters:
    """Load each saved peft adapter and merge it into ``model`` in turn: for LoRA the result is
    W + sum_m (alpha/r) B_m A_m (the composition of §7.5.1). On NF4 bases the adapters cannot be
    merged losslessly, so they stay injected (active together, still the sum for LoRA)."""
    from peft import PeftModel

    handle = MergedAdapters()
    directories = [Path(d) for d in directories]
    if is_quantized(model):
        peft_model = PeftModel.from_pretrained(model, str(directories[0]), adapter_name="m0")
        for i, directory in enumerate(directories[1:], 1):
            peft_model.load_adapter(str(directory), adapter_name=f"m{i}")
        peft_model.base_model.set_adapter([f"m{i}" for i in range(len(directories))])
        for param in model.parameters():
            param.requires_grad_(False)
        handle.unmerged.append(peft_model)
        return handle
    for directory in directories:
        peft_model = PeftModel.from_pretrained(model, str(directory))
        for weight in _target_weights(peft_model):
            handle.saved.append((weight, weight.detach().clone()))
        peft_model.merge_and_unload()
    return handle


def lora_update(directory: str | Path) -> dict[str, torch.Tensor]:
    """(alpha / r) B A for every layer of a saved LoRA adapter, keyed by the layer's name."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config = json.loads((directory / ADAPTER_CONFIG).read_text())
    scale = config["lora_alpha"] / config["r"]
    weights = load_file(str(directory / "adapter_model.safetensors"))
    updates = {}
    for key, a in weights.items():
        if ".lora_A." not in key:
            continue
        b = weights[key.replace(".lora_A.", ".lora_B.")]
        updates[key.split(".lora_A.")[0]] = scale * (b.float() @ a.float())
    return updates


@contextmanager
def merged(model: nn.Module, directories: Iterable[str | Path]) -> Iterator[nn.Module]:
    handle = merge_adapters(model, directories)
    try:
        yield model
    finally:
        handle.remove()
