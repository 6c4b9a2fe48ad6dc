"""Masked language modelling: how language modules are trained (thesis §4.4.2, §3.4.3).

Text is tokenised, concatenated and cut into blocks of ``max_seq_length`` (with the model's
special tokens around each block); a held-out fraction of the corpus (5% by default, 1% for
high-resource languages, §4.4.2) measures the validation loss, and the smallest loss selects the
checkpoint. The whole held-out part is evaluated, as §4.4.2 describes; ``max_heldout_blocks``
(default None) caps it at its first N blocks to save evaluation time. At the thesis's sizes the full
set is affordable. Per evaluation, a low-resource language (5%, every 1,000 steps of 8 blocks: about
24,000 block forwards of training, a backward counted as two) with a corpus of N blocks of 256 tokens
evaluates 0.05 N blocks, N / 480,000 of the training compute: under 10% up to N = 48,000 (12M
tokens; most of the thesis's low-resource corpora are smaller), 25% at 120,000. A high-resource
language (1%, every 5,000 steps) adds N / 12M: about 25% for English Wikipedia's first million
articles (some 3M blocks). Masking is seeded per example (xlt.data.collators.MLMCollator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xlt.config import parse
from xlt.data.blocks import MLMConfig
from xlt.data.collators import MLMCollator
from xlt.errors import DataError
from xlt.eval.metrics import MeanLoss, Metric
from xlt.methods.sparse.ltsft import untie_and_freeze_output_embeddings
from xlt.models.loading import ModelConfig, load_masked_lm
from xlt.tasks import register_family
from xlt.tasks.base import TaskFamily

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel


@register_family("mlm")
class MLMFamily(TaskFamily):
    name = "mlm"

    def __init__(self, cfg: Any, tokenizer: Any):
        self.cfg = cfg if isinstance(cfg, MLMConfig) else parse(MLMConfig, cfg, "task")
        self.tokenizer = tokenizer

    def build_model(self, model_path: str, model_cfg: ModelConfig) -> TaskModel:
        backbone = load_masked_lm(model_path, model_cfg)
        if self.cfg.untie_output_embeddings:
            untie_and_freeze_output_embeddings(backbone)
        from xlt.tasks.models.mlm import MaskedLanguageModel

        return MaskedLanguageModel(backbone, None, self.metric)

    def metric(self) -> Metric:
        return MeanLoss()

    def collator(self) -> MLMCollator:
        return MLMCollator(self.tokenizer, self.cfg.mlm_probability)

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        """Blocks of ``max_seq_length`` tokens (special tokens included) from a ``text`` column."""
        if "text" not in dataset.column_names:
            raise DataError(f"{where}: a corpus needs a 'text' column (found {dataset.column_names})")
        tok = self.tokenizer
        prefix, suffix = special_affixes(tok)
        block = self.cfg.max_seq_length - len(prefix) - len(suffix)
        if block < 1:
            raise DataError(f"{where}: max_seq_length {self.cfg.max_seq_length} leaves no room for text")
        ids: list[int] = []
        for start in range(0, len(dataset), 1000):
            texts = dataset[start:start + 1000]["text"]
            for encoded in tok(texts, add_special_tokens=False)["input_ids"]:
                ids.extend(encoded)
        blocks = []
        for start in range(0, len(ids), block):
            piece = prefix + ids[start:start + block] + suffix
            blocks.append({
                "input_ids": piece,
                "attention_mask": [1] * len(piece),
                "special_tokens_mask": tok.get_special_tokens_mask(piece, already_has_special_tokens=True),
            })
        return blocks

    def split_heldout(self, corpus: Any, where: str) -> tuple[Any, Any | None]:
        """(training lines, held-out lines): the first ``heldout_fraction`` of the corpus is held out."""
        fraction = self.cfg.heldout_fraction
        if not fraction or len(corpus) < 2:
            return corpus, None
        count = max(1, int(round(fraction * len(corpus))))
        return corpus.select(range(count, len(corpus))), corpus.select(range(count))



def special_affixes(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special tokens a tokenizer puts before and after one sequence (e.g. <s> ... </s>)."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return full[:start], full[start + len(plain):]
    raise DataError("cannot locate the text between the tokenizer's special tokens")
