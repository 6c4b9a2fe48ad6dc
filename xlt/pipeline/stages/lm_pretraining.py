"""``pretrain-lm``: a tiny Llama-shaped causal LM pretrained by next-token prediction on a synthetic world's seen
languages (issue 15, item 3: "a tiny causal LM for chapter 7"), stored as a content-addressed artifact that loads
like any local Llama.

Chapter 7 instruction-tunes Llama 2 (§7.4), a causal LM pretrained on text in the languages it knows, with a
byte-level-fallback BPE tokenizer trained on that text. The world's stand-in is built the same way at the
encoder's scale (:mod:`xlt.pipeline.stages.pretraining`), so that SpIEL and LoRA can be compared on an LM the
way Table 7.2 compares them:

- **tokenizer**: the byte-level BPE of the repository's tiny Llama (:func:`xlt.models.tiny._train_tokenizer`,
  ``<unk> <s> </s>``, BOS added to every sequence as Llama's tokenizer does, padding with ``<unk>`` as the
  instruction family pads Llama 2), vocabulary 2,000, trained on the six seen languages' corpora (``mmt`` role
  ``high`` or ``low``): Llama's tokenizer was trained on its pretraining text. Byte-level, so any text (the
  instruction templates' English words, an unseen language's letters) is encoded without ``<unk>``;
- **model**: a seeded random ``LlamaForCausalLM`` of the encoder's scale: hidden 128, 4 layers, 4 heads (no
  grouped-query attention, as Llama-2-7B), feed-forward 344 (Llama's 8/3 x hidden, rounded up to a multiple of
  8: 11008/4096 = 2.69), untied input and output embeddings (as Llama), RoPE; positions up to 512 (what the
  instruction data and the multiple-choice prompts need; pretraining blocks are 128 tokens);
- **training**: next-token prediction on blocks of 128 tokens cut from each seen language's corpus (every line
  with BOS and EOS, concatenated), the languages in their natural proportions (a high-resource corpus is
  eight times a low-resource one), through :class:`~xlt.tasks.models.instruction.CausalLMModel` (the instruction
  family's model: the backbone's own shifted cross-entropy) and the :class:`~xlt.training.fit.Fitter`; the
  encoder's schedule (1,500 steps of 16 blocks, about 3M tokens, peak rate 1e-3 with 6% warm-up and linear
  decay, weight decay 0.01), since the model has the encoder's width, depth and data;
- **held out**: the first 200 sentences of every language's corpus, seen and unseen, never trained on: the
  token-weighted next-token loss per language (``heldout/<lang>/loss`` in ``metrics.json``).

The artifact directory holds ``save_pretrained``'s model and tokenizer, so ``model.name_or_path=<artifact dir>``
(``+world=synthetic_lm``: ``${paths.world}/lm``) loads it like a hub Llama. The key covers the world's
content (the hash of ``world.json``), the configuration (:class:`LmPretrainingConfig`; a bad value fails in one
line naming ``lm_pretraining.<key>``) and the seed; the same seed gives the same bytes (the BPE trainer breaks
ties by pair ids, not by hash order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xlt.errors import DataError
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages.pretraining import (
    FixedStepTraining,
    check_corpora,
    check_model_sizes,
    seen_training_text,
    seen_world_languages,
    world_stage,
)
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

LM_PRETRAINING_VERSION = 1


@dataclass
class LmPretrainingConfig(FixedStepTraining):
    """Shape and schedule of the world's causal LM (``lm_pretraining.<key>``; rationale: module docstring).

    About 0.79M body parameters (the encoder's 0.65M plus Llama's gated feed-forward) and 0.26M in each of the
    untied embedding matrices."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 344  # Llama's ratio: 8/3 x hidden, rounded up to a multiple of 8
    vocab_size: int = 2000  # byte-level BPE: 256 bytes + 3 specials + merges
    block_size: int = 128  # next-token prediction blocks (the encoder's MLM block length)
    max_position_embeddings: int = 512  # instruction examples and multiple-choice prompts
    steps: int = 1500
    batch_size: int = 16
    lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    heldout_lines: int = 200  # the first N sentences of every corpus: held out, the loss of every language

    def validate(self, where: str = "lm_pretraining") -> None:
        check_model_sizes(self, where, vocab_minimum=300, length="block_size")


    def sizes(self) -> dict[str, Any]:
        """:func:`xlt.models.tiny._model_config`'s sizes."""
        return {"hidden_size": self.hidden_size, "num_hidden_layers": self.num_hidden_layers,
                "num_attention_heads": self.num_attention_heads, "intermediate_size": self.intermediate_size,
                "max_length": self.max_position_embeddings}


def lm_pretraining_stage(world_dir: str | Path, cfg: LmPretrainingConfig | None = None, seed: int | None = None,
                         trainer: TrainerConfig | None = None) -> Stage:
    """The stage that pretrains the causal LM of the world in ``world_dir`` (seed: the world's own)."""
    return world_stage("pretrained_lm", "pretrain-lm", "lm_pretraining", world_dir, cfg or LmPretrainingConfig(),
                       seed, trainer, _build, check_corpora, seen_world_languages, version=LM_PRETRAINING_VERSION)


def causal_blocks(lines: list[str], tokenizer: Any, block_size: int) -> list[dict[str, list[int]]]:
    """Next-token prediction blocks: every line as BOS + its tokens + EOS, concatenated and cut into blocks of
    ``block_size`` tokens (the last partial block dropped, unless it is the only one); labels are the inputs
    (the model shifts them)."""
    stream: list[int] = []
    for line in lines:
        stream += list(tokenizer(line)["input_ids"]) + [tokenizer.eos_token_id]
    starts = range(0, max(len(stream) - block_size + 1, 1), block_size)
    blocks = []
    for start in starts:
        ids = stream[start:start + block_size]
        if len(ids) > 1:
            blocks.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    return blocks


def _build(world_dir: Path, languages: dict[str, str], cfg: LmPretrainingConfig, seed: int, trainer: TrainerConfig,
           ctx: StageContext) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM

    from xlt.eval.metrics import MeanLoss
    from xlt.models.loading import ModelConfig
    from xlt.models.tiny import _model_config, _train_tokenizer
    from xlt.tasks.instruction import InstructionCollator, load_causal_lm
    from xlt.tasks.models.instruction import CausalLMModel

    seen, corpora, train_text = seen_training_text(world_dir, languages, cfg.heldout_lines)
    tokenizer = _train_tokenizer("llama", cfg.vocab_size, cfg.max_position_embeddings,
                                 (line for lang in seen for line in train_text[lang]))
    torch.manual_seed(seed)
    init_dir = ctx.work_dir / "init"
    if not (init_dir / "config.json").is_file():
        config = _model_config("llama", cfg.sizes(), tokenizer)
        AutoModelForCausalLM.from_config(config).save_pretrained(init_dir)
        tokenizer.save_pretrained(init_dir)
    train_blocks = {lang: causal_blocks(train_text[lang], tokenizer, cfg.block_size) for lang in seen}
    train = [block for lang in seen for block in train_blocks[lang]]
    if not train:
        raise DataError(f"{world_dir}: no training text left after the first lm_pretraining.heldout_lines="
                        f"{cfg.heldout_lines} sentences of the seen corpora")
    heldout = {lang: causal_blocks(corpora[lang][:cfg.heldout_lines], tokenizer, cfg.block_size)
               for lang in languages}
    backbone = load_causal_lm(str(init_dir), ModelConfig(name_or_path=str(init_dir), architecture="llama",
                                                         dtype="float32"))
    model = CausalLMModel(backbone, None, MeanLoss)
    collate = InstructionCollator(tokenizer.pad_token_id)
    fitter = Fitter(trainer, LoggerConfig(), ctx.run_dir / "logs", ctx.stage.label, seed, work_dir=ctx.work_dir)
    started = time.process_time()
    result = fitter.fit(model, train, {}, collate, cfg.schedule(), "pretraining")
    train_cpu_seconds = time.process_time() - started
    scores = fitter.evaluate(model, heldout, collate, cfg.batch_size)
    model.backbone.save_pretrained(ctx.out_dir)
    tokenizer.save_pretrained(ctx.out_dir)
    metrics: dict[str, Any] = {
        "steps": result.steps, "train_blocks": len(train),
        "train_blocks_per_language": {lang: len(train_blocks[lang]) for lang in seen},
        "body_parameters": sum(p.numel() for p in model.backbone.model.layers.parameters()),
        "parameters": sum(p.numel() for p in model.backbone.parameters()), "vocabulary": len(tokenizer),
        "seen": seen, "unseen": [lang for lang in languages if lang not in seen],
        "train_cpu_seconds": round(train_cpu_seconds, 1), "torch_threads": torch.get_num_threads()}
    for lang, values in scores.items():
        metrics[f"heldout/{lang}/loss"] = values["loss"]
    return metrics
