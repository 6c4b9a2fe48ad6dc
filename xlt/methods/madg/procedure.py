"""MAD-G as a pipeline method (thesis chapter 3): train the adapter generator, generate language
adapters from URIEL vectors, and fine-tune generated adapters (MAD-G-ft, §3.5.3).

Generator training (§3.4.3): multilingual MLM over the training languages' corpora with the base
model (its MLM head included) frozen and only the generator (W, V, layer embeddings) trained; each
batch holds one language, drawn with p(l) proportional to min(n_l, 500,000)^0.5 (at most 500,000
sequences per language, sampled from the whole dump: ``corpus_subset``); the batch's adapter is
generated from its language's URIEL vector on the forward pass (xlt.methods.madg.generator.GeneratorAdapter,
switched per batch like any multi-source language module: xlt.training.multisource). Thesis: 95
Wikipedias, 200k steps, batch 64, sequences of 256, lr 5e-5 decaying linearly; held-out MLM loss per
language selects the checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from xlt.data.mixture import SamplingConfig
from xlt.methods import TrainRequest
from xlt.methods.adapters.artifact import AdapterModule, freeze
from xlt.methods.adapters.bottleneck import PfeifferAdapter, attach_adapter
from xlt.methods.adapters.procedure import fit_with_adapter
from xlt.methods.madg.artifact import GeneratorArtifact, GeneratorLanguage, build_generator
from xlt.methods.madg.config import MadgConfig
from xlt.methods.madg.generator import GeneratorAdapter
from xlt.schedule import Schedule
from xlt.training.fit import Fitter, PhaseResult
from xlt.training.multisource import MultiSourceTrain

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel


def train_generator(cfg: MadgConfig, model: TaskModel, corpora: Mapping[str, tuple[Sequence[dict], Sequence[dict]]],
                    vectors: Mapping[str, tuple[str, np.ndarray]], collate: Any, fitter: Fitter, seed: int,
                    meta: dict[str, Any]) -> tuple[GeneratorArtifact, dict[str, Any]]:
    """Multilingual MLM training of the generator on ``corpora`` ({lang: (train blocks, held-out blocks)})."""
    freeze(model)
    generator = build_generator(cfg, model, seed)
    adapter = GeneratorAdapter(generator)
    handle = attach_adapter(model.backbone, adapter, owner=model, name="xlt_madg_generator")
    validation = {lang: heldout for lang, (_, heldout) in corpora.items() if len(heldout)}
    examples = MultiSourceTrain(
        {lang: train for lang, (train, _) in corpora.items()},
        modules={lang: GeneratorLanguage(adapter, torch.from_numpy(vectors[lang][1])) for lang in corpora},
        sampling=SamplingConfig(policy="smoothed", alpha=cfg.smoothing, cap=cfg.max_sequences))
    try:
        result: PhaseResult = fitter.fit(model, examples, validation, collate, cfg.train or Schedule(), "train")
    finally:
        handle.remove()
    generator = generator.cpu()
    counts = {lang: len(train) for lang, (train, _) in corpora.items()}
    artifact = GeneratorArtifact(generator, {**meta, "languages": {lang: vectors[lang][0] for lang in corpora},
                                             "sequences": counts, "smoothing": cfg.smoothing})
    summary = {"train/steps": result.steps, **{f"train/{k}": v for k, v in result.metrics.items()},
               **{f"batches/{lang}": n for lang, n in result.batches.items()},
               **{f"parameters/{k}": v for k, v in generator.parameter_counts().items()}}
    return artifact, summary


def finetune_adapter(adapter: PfeifferAdapter, request: TrainRequest) -> tuple[AdapterModule, dict[str, Any]]:
    """MLM fine-tuning of a language adapter on a small corpus (MAD-G-ft: generated initialisation;
    rand-ft: random initialisation; §3.5.3), base frozen."""
    model = request.model
    freeze(model)
    adapter.requires_grad_(True)
    result = fit_with_adapter(adapter, request, "xlt_finetuned_adapter")
    return (AdapterModule(adapter.cpu(), None, dict(request.meta)),
            {"train/steps": result.steps, **{f"train/{k}": v for k, v in result.metrics.items()}})
