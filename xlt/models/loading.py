"""Loading base models and tokenizers by hub name or local path (one code path).

A model config names a hub id or a local directory (``name_or_path``). With
``name_or_path: null`` and a ``tiny`` block, a small random model of the same architecture is
built once (with a tokenizer trained locally on the bundled corpora), saved to the cache and
then loaded through exactly the same ``from_pretrained`` path: this is what the offline smoke
profile and the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlt.errors import ConfigError
from xlt.utils.hashing import tensors_hash

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ModelConfig:
    """``model`` config group: which base model, and how to build its tiny stand-in."""

    name_or_path: str | None = None
    revision: str | None = None
    architecture: str | None = None  # transformers model_type (xlm-roberta, bert, llama, ...)
    num_parameters: int | None = None  # body parameters of the real model (scales absolute budgets)
    lora_params_per_rank: int | None = None  # LoRA parameters per rank on the real model's block linears
    tiny: dict[str, Any] | None = None  # build a random model of ``architecture`` with these sizes
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)  # passed to from_pretrained

    @property
    def is_tiny(self) -> bool:
        return self.name_or_path is None

    def identity(self) -> dict[str, Any]:
        """What determines the weights (used in artifact keys)."""
        if self.is_tiny:
            return {"architecture": self.architecture, "tiny": self.tiny}
        return {"name_or_path": self.name_or_path, "revision": self.revision}

    def validate(self, where: str = "model") -> None:
        if self.name_or_path is None and not self.tiny:
            raise ConfigError(f"{where}: set name_or_path (hub id or local path) or a tiny block")
        if self.tiny and not self.architecture:
            raise ConfigError(f"{where}.architecture is required to build a tiny model")
        if self.dtype not in DTYPES:
            raise ConfigError(f"{where}.dtype={self.dtype!r}: expected one of {sorted(DTYPES)}")


def resolve_model_path(cfg: ModelConfig, cache_dir: str | Path) -> str:
    """Hub id or local path to load from; builds (once, cached) the tiny model if asked."""
    cfg.validate()
    if cfg.is_tiny:
        from xlt.models.tiny import build_tiny_model

        return str(build_tiny_model(cfg.architecture, cfg.tiny or {}, Path(cache_dir)))
    return cfg.name_or_path  # type: ignore[return-value]


def _pretrained_kwargs(cfg: ModelConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dtype": DTYPES[cfg.dtype], **cfg.extra}
    if cfg.revision and not cfg.is_tiny:
        kwargs["revision"] = cfg.revision
    return kwargs


def load_tokenizer(path: str, cfg: ModelConfig | None = None):
    from transformers import AutoTokenizer

    kwargs = {"revision": cfg.revision} if cfg and cfg.revision and not cfg.is_tiny else {}
    return AutoTokenizer.from_pretrained(path, **kwargs)


def load_masked_lm(path: str, cfg: ModelConfig) -> nn.Module:
    from transformers import AutoModelForMaskedLM

    return AutoModelForMaskedLM.from_pretrained(path, **_pretrained_kwargs(cfg))


def load_encoder(path: str, cfg: ModelConfig) -> nn.Module:
    """The body (no head) of an encoder; pooler-free where the architecture allows it."""
    from transformers import AutoConfig, AutoModel

    revision = {"revision": cfg.revision} if cfg.revision and not cfg.is_tiny else {}
    config = AutoConfig.from_pretrained(path, **revision)
    kwargs = _pretrained_kwargs(cfg)
    try:
        return AutoModel.from_pretrained(path, config=config, add_pooling_layer=False, **kwargs)
    except TypeError:
        return AutoModel.from_pretrained(path, config=config, **kwargs)


def body_of(model: nn.Module) -> nn.Module:
    """The base (headless) module of a transformers model; the model itself if it is a body."""
    prefix = getattr(model, "base_model_prefix", "")
    return getattr(model, prefix, model) if prefix else model


def base_weights_hash(body: nn.Module) -> str:
    """Hash of a body's parameters: SFT headers record it to catch base mismatches."""
    return tensors_hash(dict(body.named_parameters()))
