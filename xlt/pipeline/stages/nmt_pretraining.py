"""``pretrain-nmt``: a tiny NLLB-shaped translation model trained on a synthetic world's supported pairs (issue 15,
item 3), stored as a content-addressed artifact that loads like any local NLLB model.

Chapter 6 translates task data with NLLB-200 (§6.3.3, §6.4.2): a many-to-many M2M100 model whose
SentencePiece vocabulary and language-code tokens cover the languages it was trained on, and which is adapted
(a new code token, then fine-tuning on a small parallel corpus) to the languages it lacks (Table 6.1's daggers,
Table D.2). The world's stand-in is built the same way at a CPU's scale:

- the tokenizer (:func:`xlt.models.nmt.build_tiny_nmt`: BPE with NLLB's Metaspace pre-tokenisation) is trained
  on the corpora of the world's *supported* languages only (``world.json``'s ``nmt_languages`` with ``nllb:
  true``: the pivot ``qma`` and every ``qXa qXb qXc``), and has their FLORES codes (``qma_Latn``, ...) only, as
  NLLB lacks the unsupported languages' codes; those get a new code from the adaptation stage
  (:mod:`xlt.pipeline.stages.nmt`). Its characters cover the world's whole alphabet (:func:`world_alphabet`), as
  NLLB's cover the Latin script;
- a randomly initialised M2M100 (seeded) is trained by full fine-tuning, through the translation task family
  (:mod:`xlt.tasks.translation`) and the :class:`~xlt.training.fit.Fitter`, on every supported pair's parallel
  training pairs in both directions (pivot -> X and X -> pivot, as NLLB is many-to-many), mixed in one stream;
- the held-out score is corpus chrF (sacrebleu) of greedy translations of the first ``eval_pairs`` pairs of each
  pair's dev split, per direction (``heldout/<from>-<to>/chrf`` in ``metrics.json``).

The artifact directory holds ``save_pretrained``'s model and tokenizer, so ``nmt.name_or_path=<artifact dir>``
(the world profile: ``${paths.world}/nmt``) loads it through the ordinary path. The stage's key covers the
world's content (``world.json`` lists every file's hash), the configuration and the seed; the same seed gives
the same bytes (the BPE trainer breaks ties by pair ids, not hash order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xlt.config import check_number
from xlt.data.locations import DataLocation
from xlt.data.world import LAYOUT, load_description
from xlt.errors import ConfigError, DataError
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_corpus, check_data
from xlt.pipeline.stages.pretraining import FixedStepTraining, corpus_location, world_stage
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

NMT_PRETRAINING_VERSION = 2  # 2: the world's whole alphabet in the vocabulary (world_alphabet)


def world_alphabet() -> list[str]:
    """Every character the world writes: the letters of its orthography (xlt.data.world.phonology), lower and upper
    case, the letters of its names, digits and its punctuation. NLLB's SentencePiece vocabulary covers the
    letters of the Latin script its 200 languages use, so a Latin-script language it lacks seldom has a letter it
    cannot encode; the world's nine supported languages happen not to use ``ë ñ ğ``, which the unsupported isolate
    and ``qfd`` do, so without this their words would be partly ``<unk>`` (measured on seed 0: 600 unknown pieces
    in the isolate's 200 dev sentences)."""
    from xlt.data.world.concepts import NAME_LISTS
    from xlt.data.world.grammar import NO_SPACE_BEFORE
    from xlt.data.world.phonology import PHONEMES

    letters = {letter for phoneme in PHONEMES.values() for letter in phoneme.spelling}
    letters |= {letter for names in NAME_LISTS.values() for name in names for letter in name if not letter.isspace()}
    return sorted(letters | {letter.upper() for letter in letters} | set("0123456789") | set(NO_SPACE_BEFORE))


@dataclass
class NmtPretrainingConfig(FixedStepTraining):
    """Shape and schedule of the world's translation model (``nmt_pretraining.<key>``).

    Shape: a little larger than the smoke stand-in (:data:`xlt.models.nmt.TINY_NMT_SIZES`, d_model 64, 2+2
    layers), as it has to learn 16 translation directions between languages that differ in word order and
    morphology: d_model 128 (the world encoder's width), 3 encoder and 3 decoder layers, 4 heads, feed-forward
    256; 1.25M parameters with the tied embeddings. Vocabulary 2,000 BPE pieces: nine supported languages of
    about 250 word forms each plus the shared names and digits, so frequent forms are one piece and rare ones a few.

    Schedule: 3,000 steps of 32 pairs (96,000 pairs, 1.5 passes over the 64,000 directed training pairs of the
    default world's eight supported pairs), peak rate 1e-3 (the encoder's: a small model trained from scratch)
    with 6% warm-up and linear decay, weight decay 0.01, dropout 0.1; about 6 minutes on one core (measured:
    docs/fidelity.md). Sequences are cut at 128 tokens (the world's sentences have at most 15 words, about 30
    tokens). Held out: greedy translations of the first 100 dev pairs of each direction, up to 64 tokens."""

    d_model: int = 128
    encoder_layers: int = 3
    decoder_layers: int = 3
    attention_heads: int = 4
    ffn_dim: int = 256
    vocab_size: int = 2000
    max_length: int = 128  # tokens of each side, codes included
    dropout: float = 0.1
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    eval_pairs: int = 100  # dev pairs per direction scored by chrF
    eval_max_length: int = 64  # decoder tokens of a held-out translation

    def validate(self, where: str = "nmt_pretraining") -> None:
        for name in ("d_model", "encoder_layers", "decoder_layers", "attention_heads", "ffn_dim", "eval_pairs"):
            check_number(getattr(self, name), f"{where}.{name}", minimum=1, integer=True)
        check_number(self.vocab_size, f"{where}.vocab_size", minimum=100, integer=True)
        check_number(self.max_length, f"{where}.max_length", minimum=8, integer=True)
        check_number(self.eval_max_length, f"{where}.eval_max_length", minimum=4, integer=True)
        check_number(self.dropout, f"{where}.dropout", minimum=0, maximum=0.9)
        self.check_schedule(where)
        if self.d_model % self.attention_heads:
            raise ConfigError(f"{where}.d_model={self.d_model}: not a multiple of attention_heads="
                              f"{self.attention_heads}")


    def sizes(self, seed: int) -> dict[str, Any]:
        """The :func:`xlt.models.nmt.build_tiny_nmt` sizes (the random initialisation drawn from ``seed``)."""
        return {"d_model": self.d_model, "encoder_layers": self.encoder_layers, "decoder_layers": self.decoder_layers,
                "attention_heads": self.attention_heads, "ffn_dim": self.ffn_dim, "vocab_size": self.vocab_size,
                "max_length": 2 * self.max_length, "spare_rows": 0, "init_std": 0.02, "dropout": self.dropout,
                "seed": seed}


@dataclass(frozen=True)
class Direction:
    """One translation direction of a world pair: xlt codes and FLORES codes (``world.json``'s ``nmt_languages``)."""

    pair: str  # the other (non-pivot) language of the pair: its files are parallel/<pivot>-<pair>/
    source: str
    target: str
    source_code: str  # FLORES code, e.g. qma_Latn
    target_code: str

    @property
    def name(self) -> str:
        return f"{self.source}-{self.target}"


def supported_codes(world_dir: Path) -> dict[str, str]:
    """{code: FLORES code} of the languages the world's translation model supports (``nmt_languages``' ``nllb:
    true``), in the design order."""
    table = load_description(world_dir)["nmt_languages"]
    return {code: entry["flores"] for code, entry in table.items() if entry["nllb"]}


def supported_languages(world_dir: Path) -> list[str]:
    return list(supported_codes(world_dir))


def directions(world_dir: Path) -> list[Direction]:
    """Both directions of every supported pair (pivot -> X, X -> pivot), in the design order."""
    pivot = load_description(world_dir)["pivot"]
    codes = supported_codes(world_dir)
    found = []
    for lang in codes:
        if lang != pivot:
            found += [Direction(lang, pivot, lang, codes[pivot], codes[lang]),
                      Direction(lang, lang, pivot, codes[lang], codes[pivot])]
    return found


def parallel_location(world_dir: Path, pair: str, split: str) -> DataLocation:
    """A world pair's split as ``parallel_text`` rows: ``source`` the pivot's side, ``target`` the pair's."""
    pivot = load_description(world_dir)["pivot"]
    path = world_dir / LAYOUT["parallel"].format(pivot=pivot, lang=pair, split=split, side=pivot)
    return DataLocation(path=str(path), format="parallel_text", options={"target_suffix": pair})


def nmt_pretraining_stage(world_dir: str | Path, cfg: NmtPretrainingConfig | None = None, seed: int | None = None,
                          trainer: TrainerConfig | None = None) -> Stage:
    """The stage that trains the translation model of the world in ``world_dir`` (seed: the world's own)."""
    return world_stage("pretrained_nmt", "pretrain-nmt", "nmt_pretraining", world_dir, cfg or NmtPretrainingConfig(),
                       seed, trainer, _build, _check, _training_directions, version=NMT_PRETRAINING_VERSION)


def _training_directions(world_dir: Path) -> list[Direction]:
    found = directions(world_dir)
    if not found:
        raise DataError(f"{world_dir}: the world has no supported translation pair to train on")
    return found


def _check(world_dir: Path, found: list[Direction]) -> None:
    for lang in supported_languages(world_dir):
        check_corpus(corpus_location(world_dir, lang), f"world corpus ({lang})")
    for pair in sorted({d.pair for d in found}):
        for split in ("train", "dev"):
            check_data(parallel_location(world_dir, pair, split), f"world parallel {split} ({pair})")


def _task(direction: Direction, cfg: NmtPretrainingConfig) -> Any:
    from xlt.tasks.translation import TranslationTaskConfig
    from xlt.translation.backends import GenerationSettings

    into_pair = direction.target == direction.pair
    return TranslationTaskConfig(
        source_code=direction.source_code, target_code=direction.target_code,
        source_field="source" if into_pair else "target", target_field="target" if into_pair else "source",
        max_length=cfg.max_length,
        generation=GenerationSettings(num_beams=1, max_length=cfg.eval_max_length, batch_size=2 * cfg.batch_size),
        train=cfg.schedule())


def heldout_pairs(world_dir: Path, cfg: NmtPretrainingConfig, tokenizer: Any) -> dict[Direction, list[dict]]:
    """The first ``eval_pairs`` dev pairs of every direction, preprocessed by the translation family."""
    from datasets import Dataset

    from xlt.pipeline.produced import read_rows
    from xlt.tasks.translation import TranslationFamily

    held: dict[Direction, list[dict]] = {}
    for direction in directions(world_dir):
        where = f"world parallel dev ({direction.pair})"
        rows = read_rows([parallel_location(world_dir, direction.pair, "dev")], where)[:cfg.eval_pairs]
        held[direction] = list(TranslationFamily(_task(direction, cfg), tokenizer).preprocess(
            Dataset.from_list(rows), where))
    return held


def heldout_chrf(model: torch.nn.Module, tokenizer: Any, held: dict[Direction, list[dict]], cfg: NmtPretrainingConfig,
                 fitter: Fitter) -> dict[str, float]:
    """Corpus chrF of greedy translations of the held-out pairs, per direction (``<from>-<to>``)."""
    from xlt.tasks.models.translation import TranslationModel
    from xlt.tasks.translation import TranslationFamily

    scores = {}
    for direction, examples in held.items():
        task = _task(direction, cfg)
        family = TranslationFamily(task, tokenizer)
        wrapped = TranslationModel(model, family.metric, tokenizer, task.target_code, task.generation)
        result = fitter.evaluate(wrapped, {direction.name: examples}, family.collator(), cfg.batch_size)
        scores[direction.name] = result[direction.name]["chrf"]
    return scores


def _build(world_dir: Path, found: list[Direction], cfg: NmtPretrainingConfig, seed: int, trainer: TrainerConfig,
           ctx: StageContext) -> dict[str, Any]:
    from datasets import Dataset

    from xlt.models.loading import ModelConfig, load_tokenizer
    from xlt.models.nmt import build_tiny_nmt, language_codes
    from xlt.pipeline.produced import read_rows
    from xlt.tasks.translation import TranslationFamily

    codes = supported_codes(world_dir)
    supported = list(codes)
    corpora = [world_dir / LAYOUT["corpus"].format(lang=lang) for lang in supported]
    init_dir = build_tiny_nmt(corpora, sorted(codes.values()), ctx.work_dir, cfg.sizes(seed), world_alphabet())
    tokenizer = load_tokenizer(str(init_dir))
    train: list[dict[str, Any]] = []
    per_direction = {}
    for direction in found:
        where = f"world parallel train ({direction.pair})"
        rows = read_rows([parallel_location(world_dir, direction.pair, "train")], where)
        examples = TranslationFamily(_task(direction, cfg), tokenizer).preprocess(Dataset.from_list(rows), where)
        per_direction[direction.name] = len(examples)
        train.extend(examples)
    held = heldout_pairs(world_dir, cfg, tokenizer)
    family = TranslationFamily(_task(found[0], cfg), tokenizer)
    model = family.build_model(str(init_dir), ModelConfig(name_or_path=str(init_dir), architecture="m2m_100"))
    fitter = Fitter(trainer, LoggerConfig(), ctx.run_dir / "logs", ctx.stage.label, seed, work_dir=ctx.work_dir)
    started = time.process_time()
    result = fitter.fit(model, train, {}, family.collator(), cfg.schedule(), "pretraining")
    train_cpu_seconds = time.process_time() - started
    evaluator = Fitter(trainer, LoggerConfig(csv=False), ctx.run_dir / "logs", ctx.stage.label, seed)
    scores = heldout_chrf(model.backbone, tokenizer, held, cfg, evaluator)
    pivot = load_description(world_dir)["pivot"]
    tokenizer.src_lang = codes[pivot]
    model.backbone.save_pretrained(ctx.out_dir)
    tokenizer.save_pretrained(ctx.out_dir)
    metrics: dict[str, Any] = {
        "steps": result.steps, "train_pairs": len(train), "train_pairs_per_direction": per_direction,
        "parameters": sum(p.numel() for p in model.backbone.parameters()), "vocabulary": len(tokenizer),
        "codes": sorted(language_codes(tokenizer)), "supported": supported, "pivot": pivot,
        "heldout_pairs": min(len(examples) for examples in held.values()),
        "train_cpu_seconds": round(train_cpu_seconds, 1), "torch_threads": torch.get_num_threads()}
    for name, value in scores.items():
        metrics[f"heldout/{name}/chrf"] = value
    from_pivot = [scores[d.name] for d in found if d.target == d.pair]
    into_pivot = [scores[d.name] for d in found if d.source == d.pair]
    metrics["heldout/chrf_from_pivot"] = sum(from_pivot) / len(from_pivot)
    metrics["heldout/chrf_into_pivot"] = sum(into_pivot) / len(into_pivot)
    return metrics


def chrf_table(metrics: dict[str, Any]) -> str:
    """Held-out chrF of every supported pair, pivot -> X beside X -> pivot."""
    pivot = metrics["pivot"]
    rows = [f"{lang}: {pivot}->{lang} {metrics[f'heldout/{pivot}-{lang}/chrf']:.1f}, "
            f"{lang}->{pivot} {metrics[f'heldout/{lang}-{pivot}/chrf']:.1f}"
            for lang in metrics["supported"] if lang != pivot]
    return (f"translation model, held-out chrF ({metrics['heldout_pairs']} dev pairs per direction; mean from "
            f"{pivot} {metrics['heldout/chrf_from_pivot']:.1f}, into {pivot} {metrics['heldout/chrf_into_pivot']:.1f}):"
            "\n  " + "\n  ".join(rows))
