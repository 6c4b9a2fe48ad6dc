"""``pretrain``: a tiny multilingual encoder pretrained by MLM on a synthetic world's seen languages (issue 15,
item 3), stored as a content-addressed artifact that loads like any local model.

The thesis's base models (mBERT, XLM-R: §2.2.1) are pretrained by masked language modelling on the
languages they support, in proportions set by how much text each has, with a tokenizer trained on
those languages; languages outside pretraining are what language adaptation is for (§3.1, §4.1). The
world's stand-in does the same at a CPU's scale: a WordPiece (BERT) or Unigram (XLM-R) tokenizer is
trained on the seen languages' corpora (``mmt`` role ``high`` or ``low``), a randomly initialised
encoder of the architecture is trained by MLM on their blocks in their natural proportions (a
high-resource corpus is eight times a low-resource one), through the same MLM family
(:mod:`xlt.tasks.mlm`) and :class:`~xlt.training.fit.Fitter` as language modules. The first
``heldout_lines`` sentences of every language's corpus are held out; the artifact's ``metrics.json``
records the held-out MLM loss of every language, seen and unseen (``heldout/<lang>/loss``).

The artifact directory holds the model and its tokenizer (``save_pretrained``), so
``model.name_or_path=<artifact dir>`` loads it through the ordinary path, and its file fingerprint
(xlt.models.loading) enters the keys of the stages built on it. The stage's key covers the world's
content (``world.json`` records every file's hash), the pretraining config and the seed. Known defect: the
tokenizer trainer breaks ties nondeterministically, so two builds of one seed differ in bytes (a strict
xfail test records it); the store builds each key once, so the runs of a seed share one encoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from xlt.config import check_number
from xlt.data.blocks import MLMConfig
from xlt.data.locations import DataLocation
from xlt.data.world import LAYOUT, load_description, world_fingerprint
from xlt.errors import ConfigError, DataError
from xlt.models.loading import ModelConfig
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_corpus
from xlt.schedule import Schedule
from xlt.tasks.mlm import MLMFamily
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

SEEN_ROLES = ("high", "low")  # a world language's ``mmt`` role: in the encoder's pretraining data
ARCHITECTURES = ("bert", "xlm-roberta")


def check_model_sizes(cfg: Any, where: str, vocab_minimum: int, length: str) -> None:
    """The checks the world encoder's and causal LM's configs share (the same size fields): positive sizes and
    schedule, a vocabulary of at least ``vocab_minimum``, a block length (the field ``length``) of at least 8 that
    the position embeddings cover, and heads that divide the width."""
    for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "heldout_lines"):
        check_number(getattr(cfg, name), f"{where}.{name}", minimum=1, integer=True)
    cfg.check_schedule(where)
    check_number(cfg.vocab_size, f"{where}.vocab_size", minimum=vocab_minimum, integer=True)
    block = getattr(cfg, length)
    check_number(block, f"{where}.{length}", minimum=8, integer=True)
    check_number(cfg.max_position_embeddings, f"{where}.max_position_embeddings", minimum=block, integer=True)
    if cfg.hidden_size % cfg.num_attention_heads:
        raise ConfigError(f"{where}.hidden_size={cfg.hidden_size}: not a multiple of num_attention_heads="
                          f"{cfg.num_attention_heads}")


class FixedStepTraining:
    """What the world's model stages share: exactly ``steps`` steps of ``batch_size`` at peak rate ``lr`` with a
    ``warmup_ratio`` warm-up, linear decay and ``weight_decay``, the final state kept (no validation to select
    on). Mixed into their config dataclasses, which hold those fields."""

    steps: int
    batch_size: int
    lr: float
    warmup_ratio: float
    weight_decay: float

    def check_schedule(self, where: str) -> None:
        for name in ("steps", "batch_size"):
            check_number(getattr(self, name), f"{where}.{name}", minimum=1, integer=True)
        check_number(self.lr, f"{where}.lr", above=0)
        check_number(self.warmup_ratio, f"{where}.warmup_ratio", minimum=0, maximum=1)
        check_number(self.weight_decay, f"{where}.weight_decay", minimum=0)

    def schedule(self) -> Schedule:
        return Schedule(lr=self.lr, batch_size=self.batch_size, max_steps=self.steps, min_steps=self.steps,
                        warmup_ratio=self.warmup_ratio, weight_decay=self.weight_decay, select_best=False)


@dataclass
class PretrainingConfig(FixedStepTraining):
    """Shape and schedule of the world's encoder. The shape is the feasibility prototype's (4 layers of
    128, 0.65M body parameters; ../shared/notes/synthetic-world-feasibility.md), whose MLM loss levelled
    off after about 2M tokens; the schedule gives it about 3M (steps x batch x block)."""

    architecture: str = "bert"
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 256
    vocab_size: int = 1500  # about 1.2 pieces per word of a seen language (six languages, ~250 forms each)
    max_seq_length: int = 128  # MLM block length: about ten of the world's sentences
    max_position_embeddings: int = 512  # what task families may feed it (QA windows of 384 tokens)
    mlm_probability: float = 0.15
    steps: int = 1500
    batch_size: int = 16
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    heldout_lines: int = 200  # the first N sentences of every corpus: held out, the loss of every language

    def validate(self, where: str = "pretraining") -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"{where}.architecture={self.architecture!r}: expected one of {list(ARCHITECTURES)}")
        check_model_sizes(self, where, vocab_minimum=100, length="max_seq_length")



def world_languages(world_dir: Path) -> dict[str, str]:
    """{code: mmt role} of a written world, in its design order."""
    return {code: lang["roles"]["mmt"] for code, lang in load_description(world_dir)["languages"].items()}


def corpus_location(world_dir: Path, lang: str) -> DataLocation:
    return DataLocation(path=str(world_dir / LAYOUT["corpus"].format(lang=lang)))


def world_stage(kind: str, name: str, config_key: str, world_dir: str | Path, cfg: Any, seed: int | None,
                trainer: TrainerConfig | None, build: Callable[..., dict[str, Any]],
                check: Callable[[Path, Any], None], subjects: Callable[[Path], Any], version: int) -> Stage:
    """A stage that trains one of the world's models from its files (the encoder, the translation model, the
    causal LM): ``cfg`` validated, the seed the world's own unless given, keyed by the world's content, the
    configuration (under ``config_key``), the seed and the precision. ``subjects(world_dir)`` names what it
    trains on (e.g. the languages and their roles), handed to ``build(world_dir, subjects, cfg, seed, trainer,
    ctx)`` and ``check(world_dir, subjects)``."""
    world_dir = Path(world_dir).resolve()
    cfg.validate()
    description = load_description(world_dir)
    seed = int(description["seed"]) if seed is None else seed
    found = subjects(world_dir)
    trainer = trainer or TrainerConfig(accelerator="cpu", progress_bar=False, log_every_n_steps=100)
    spec = {"world": world_fingerprint(world_dir), config_key: asdict(cfg), "seed": seed,
            "precision": trainer.precision}
    return Stage(kind, f"{name}/world-{seed}", spec, partial(build, world_dir, found, cfg, seed, trainer),
                 validate=partial(check, world_dir, found), version=version)


def seen_world_languages(world_dir: Path) -> dict[str, str]:
    """:func:`world_languages`, refusing a world without a seen language to pretrain on."""
    languages = world_languages(world_dir)
    if not any(role in SEEN_ROLES for role in languages.values()):
        raise DataError(f"{world_dir}: the world has no seen (high- or low-resource) language to pretrain on")
    return languages


def pretraining_stage(world_dir: str | Path, cfg: PretrainingConfig | None = None, seed: int | None = None,
                      trainer: TrainerConfig | None = None) -> Stage:
    """The stage that pretrains the encoder of the world in ``world_dir`` (seed: the world's own)."""
    return world_stage("pretrained_model", "pretrain", "pretraining", world_dir, cfg or PretrainingConfig(), seed,
                       trainer, _build, check_corpora, seen_world_languages,
                       version=2)  # 2: deterministic WordPiece ids (xlt.models.tiny._train_wordpiece)


def check_corpora(world_dir: Path, languages: dict[str, str]) -> None:
    for lang in languages:
        check_corpus(corpus_location(world_dir, lang), f"world corpus ({lang})")


def seen_training_text(world_dir: Path, languages: dict[str, str], heldout_lines: int
                       ) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """(the seen languages, every language's corpus lines, the seen languages' lines after the held-out ones)."""
    seen = [lang for lang, role in languages.items() if role in SEEN_ROLES]
    corpora = {lang: _lines(world_dir, lang) for lang in languages}
    return seen, corpora, {lang: corpora[lang][heldout_lines:] for lang in seen}


def _lines(world_dir: Path, lang: str) -> list[str]:
    path = world_dir / LAYOUT["corpus"].format(lang=lang)
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _build(world_dir: Path, languages: dict[str, str], cfg: PretrainingConfig, seed: int, trainer: TrainerConfig,
           ctx: StageContext) -> dict[str, Any]:
    import datasets

    from xlt.models.tiny import _model_config, _train_tokenizer

    seen, corpora, train_text = seen_training_text(world_dir, languages, cfg.heldout_lines)
    tokenizer = _train_tokenizer(cfg.architecture, cfg.vocab_size, cfg.max_position_embeddings,
                                 (line for lang in seen for line in train_text[lang]))
    sizes = {key: getattr(cfg, key) for key in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                "intermediate_size")}
    model_config = _model_config(cfg.architecture, {**sizes, "max_length": cfg.max_position_embeddings}, tokenizer)
    from transformers import AutoModelForMaskedLM

    torch.manual_seed(seed)
    init_dir = ctx.work_dir / "init"
    if not (init_dir / "config.json").is_file():
        AutoModelForMaskedLM.from_config(model_config).save_pretrained(init_dir)
        tokenizer.save_pretrained(init_dir)
    mlm = MLMConfig(max_seq_length=cfg.max_seq_length, mlm_probability=cfg.mlm_probability, heldout_fraction=0.0,
                    untie_output_embeddings=False)
    family = MLMFamily(mlm, tokenizer)

    def blocks(lines: list[str], where: str) -> list[dict[str, Any]]:
        return list(family.preprocess(datasets.Dataset.from_dict({"text": lines}), where))

    train_blocks = {lang: blocks(train_text[lang], f"world corpus ({lang})") for lang in seen}
    train = [block for lang in seen for block in train_blocks[lang]]
    heldout = {lang: blocks(corpora[lang][:cfg.heldout_lines], f"world corpus ({lang})") for lang in languages}
    model = family.build_model(str(init_dir), ModelConfig(name_or_path=str(init_dir), architecture=cfg.architecture))
    fitter = Fitter(trainer, LoggerConfig(), ctx.run_dir / "logs", ctx.stage.label, seed, work_dir=ctx.work_dir)
    result = fitter.fit(model, train, {}, family.collator(), cfg.schedule(), "pretraining")
    scores = fitter.evaluate(model, heldout, family.collator(), cfg.batch_size)
    model.backbone.save_pretrained(ctx.out_dir)
    tokenizer.save_pretrained(ctx.out_dir)
    metrics: dict[str, Any] = {"steps": result.steps, "train_blocks": len(train),
                               "train_blocks_per_language": {lang: len(train_blocks[lang]) for lang in seen},
                               "body_parameters": sum(p.numel() for p in model.body.parameters()),
                               "seen": seen, "unseen": [lang for lang in languages if lang not in seen]}
    for lang, values in scores.items():
        metrics[f"heldout/{lang}/loss"] = values["loss"]
    return metrics
