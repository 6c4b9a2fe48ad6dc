"""The model a stage builds on, as a stage input (thesis chapters 5 and 6 build new base models).

Most stages build on the configured ``model`` (loaded by hub id or local path). Others build on a model
that an earlier stage produced: a BiStil student (§5.3), an NMT model adapted to a new language (§6.3.3).
A :class:`BaseModel` says which: its ``spec`` enters the artifact keys of every stage that uses it, a
produced model's stage becomes an input of theirs (so its key covers the model's identity), and its
directory is known once that stage has built (:meth:`BaseModel.path`). The experiment caches each model's
tokenizer and base-weights hash per directory, so several base models can serve one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xlt.models.loading import ModelConfig

if TYPE_CHECKING:
    from xlt.pipeline.runner import Stage, StageContext

MODEL_INPUT = "model"  # the input name under which a produced model's stage is wired into its users


@dataclass(eq=False)
class BaseModel:
    config: ModelConfig  # how to load it (dtype, extra) and the size of the real model it stands for
    spec: dict[str, Any]  # what identifies it in artifact keys (a produced model: how it was produced)
    location: str | None = None  # hub id or directory of the configured model
    stage: Stage | None = None  # the stage that produces it (its artifact directory is the model)

    @property
    def produced(self) -> bool:
        return self.stage is not None

    def inputs(self) -> dict[str, Stage]:
        """The stage inputs a stage building on this model needs."""
        return {MODEL_INPUT: self.stage} if self.stage is not None else {}

    def path(self, ctx: StageContext | None = None) -> str:
        """Where to load the model from (a produced model: its stage's artifact directory, from ``ctx``)."""
        if self.stage is None:
            assert self.location is not None
            return self.location
        if ctx is None or MODEL_INPUT not in ctx.inputs:
            raise ValueError("a produced base model is loaded from a stage's inputs (pass the StageContext)")
        return str(ctx.inputs[MODEL_INPUT])

    def name(self, ctx: StageContext | None = None) -> str:
        """The name SFT headers record as ``base_model``."""
        return self.config.name_or_path or self.path(ctx)


def produced_model(stage: Stage, config: ModelConfig, how: dict[str, Any]) -> BaseModel:
    """The model ``stage`` writes into its artifact directory (``save_pretrained``, tokenizer included);
    ``how`` describes it in the keys of the stages that build on it (its stage key is their input)."""
    return BaseModel(config, {"model": {"produced_by": stage.kind, **how}, "dtype": config.dtype}, stage=stage)
