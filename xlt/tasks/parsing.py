"""Dependency parsing: the shallow biaffine parser (thesis §4.4.3; Dozat & Manning 2017, shallow
variant of Glavas & Vulic 2021).

Word vectors are the body's outputs pooled over each word's subwords (``word_pooling``: ``mean``
as in the thesis's reference code, or ``first``); the root is represented by the first token
([CLS] / <s>). No MLP layers ("shallow"): a biaffine arc scorer

    s_arc[i, j] = x_i^T U y_j + u^T y_j          (x_i: dependent i, y_j: candidate head j, y_0 = root)

and a biaffine relation scorer with one such form (plus biases on both sides) per relation. Both are
zero-initialised as in the reference. Loss: cross-entropy over each word's head plus cross-entropy
over the relation at the gold head. Decoding: the best head per word (``greedy``, as the reference
evaluates) or the best single-rooted tree (``mst``, Chu-Liu/Edmonds); the relation is the best one at
the predicted head. Metrics: UAS/LAS over all words; checkpoints are chosen by LAS.

Relations are the universal part of DEPREL (``nmod:poss`` -> ``nmod``) unless ``subtypes`` is set.
Unlike the reference code, padding is never confused with real heads (it masks with the pad
token id, which for mBERT is 0 = the root, dropping every root attachment from loss and scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import check_choice
from xlt.data.collators import IGNORE_INDEX, pad_batch
from xlt.data.locations import row_origins, visible_columns
from xlt.data.readers import TextFileFormat
from xlt.errors import DataError
from xlt.eval.metrics import Metric
from xlt.eval.task_metrics import AttachmentScores
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import EncoderFamily
from xlt.tasks.tagging import encode_words, multiword_free, pad_words

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel

UD_RELATIONS = ["acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf", "compound", "conj",
                "cop", "csubj", "dep", "det", "discourse", "dislocated", "expl", "fixed", "flat", "goeswith", "iobj",
                "list", "mark", "nmod", "nsubj", "nummod", "obj", "obl", "orphan", "parataxis", "punct",
                "reparandum", "root", "vocative", "xcomp"]


@dataclass
class DependencyParsingConfig:
    name: str = "dp"
    family: str = "dependency_parsing"
    relations: list[str] = field(default_factory=lambda: list(UD_RELATIONS))
    tokens_field: str = "tokens"
    heads_field: str = "head"
    relations_field: str = "deprel"
    subtypes: bool = False  # keep language-specific relation subtypes (nmod:poss)
    word_pooling: str = "mean"  # mean | first
    decode: str = "greedy"  # greedy | mst
    max_seq_length: int = 256
    train: Schedule = field(default_factory=Schedule)

    def validate(self, where: str) -> None:
        check_choice(self.word_pooling, f"{where}.word_pooling", ("mean", "first"))
        check_choice(self.decode, f"{where}.decode", ("greedy", "mst"))


class Biaffine(nn.Module):
    """s[b, o, i, j] = [x_i; 1]^T W_o [y_j; 1] (the bias columns optional), zero-initialised."""

    def __init__(self, size: int, outputs: int = 1, bias_x: bool = True, bias_y: bool = True):
        super().__init__()
        self.bias_x, self.bias_y = bias_x, bias_y
        self.weight = nn.Parameter(torch.zeros(outputs, size + bias_x, size + bias_y))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.bias_x:
            x = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        if self.bias_y:
            y = torch.cat([y, torch.ones_like(y[..., :1])], -1)
        return torch.einsum("bxi,oij,byj->boxy", x, self.weight, y)


class BiaffineParserHead(nn.Module):
    def __init__(self, hidden_size: int, num_relations: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.arcs = Biaffine(hidden_size, 1, bias_x=True, bias_y=False)
        self.relations = Biaffine(hidden_size, num_relations, bias_x=True, bias_y=True)

    def forward(self, words: torch.Tensor, root: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """words [B, W, H], root [B, H] -> arc scores [B, W, W+1], relation scores [B, W, W+1, R]."""
        heads = torch.cat([root[:, None], words], 1)
        arcs = self.arcs(words, heads).squeeze(1)
        relations = self.relations(words, heads).permute(0, 2, 3, 1)
        return arcs, relations


def pool_words(hidden: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor, mode: str) -> torch.Tensor:
    """Word vectors [B, W, H] from subword vectors [B, T, H] and spans [start, end) (-1: none -> 0)."""
    present = starts >= 0
    if mode == "first":
        index = starts.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1])
        words = hidden.gather(1, index)
    else:
        cumulative = torch.cat([hidden.new_zeros(hidden.shape[0], 1, hidden.shape[2]), hidden.cumsum(1)], 1)
        size = hidden.shape[-1]
        upper = cumulative.gather(1, ends.clamp(min=0)[..., None].expand(-1, -1, size))
        lower = cumulative.gather(1, starts.clamp(min=0)[..., None].expand(-1, -1, size))
        words = (upper - lower) / (ends - starts).clamp(min=1)[..., None].to(hidden.dtype)
    return words * present[..., None].to(hidden.dtype)


def head_candidates(word_starts: torch.Tensor) -> torch.Tensor:
    """[B, W, W+1]: whether position j (0: the root, j: word j) may head word i+1 (present, not itself)."""
    present = word_starts >= 0
    candidates = torch.cat([present.new_ones(present.shape[0], 1), present], 1)  # [B, W+1]
    positions = torch.arange(present.shape[1] + 1, device=present.device)
    not_self = positions[None, :] != positions[1:, None]  # word i+1 cannot head itself
    return candidates[:, None, :] & not_self[None]


def usable_words(batch: dict[str, torch.Tensor], valid: torch.Tensor) -> torch.Tensor:
    """[B, W]: the words that take part in the loss: present, with a gold head that is a reachable candidate."""
    gold = batch["heads"]
    usable = (gold != IGNORE_INDEX) & (batch["word_starts"] >= 0)
    return usable & valid.gather(2, gold.clamp(min=0)[..., None]).squeeze(-1)


class ParserCollator:
    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad_batch(examples, self.pad_token_id)
        batch.pop("special_tokens_mask", None)
        batch["word_starts"] = pad_words(examples, "word_starts", -1)
        batch["word_ends"] = pad_words(examples, "word_ends", -1)
        batch["heads"] = pad_words(examples, "heads", IGNORE_INDEX)
        batch["rels"] = pad_words(examples, "rels", IGNORE_INDEX)
        return batch


@register_family("dependency_parsing")
class DependencyParsingFamily(EncoderFamily):
    config_class = DependencyParsingConfig

    def __init__(self, cfg: Any, tokenizer: Any):
        super().__init__(cfg, tokenizer)
        self.relation_ids = {r: i for i, r in enumerate(self.cfg.relations)}

    def make_model(self, body: nn.Module, hidden_size: int, dropout: float) -> TaskModel:
        head = BiaffineParserHead(hidden_size, len(self.cfg.relations), dropout)
        from xlt.tasks.models.parsing import BiaffineParser

        return BiaffineParser(body, head, self.metric, self.cfg.word_pooling, self.cfg.decode)

    def metric(self) -> Metric:
        return AttachmentScores()

    def collator(self) -> ParserCollator:
        return ParserCollator(self.tokenizer.pad_token_id)

    def text_file_format(self) -> TextFileFormat:
        """A ``.txt`` file of a parsing task holds CoNLL-U (the only format with heads and relations)."""
        return TextFileFormat("conllu")

    def _relation_ids(self, relations: Sequence[str], origin: str) -> list[int]:
        """Relation ids of one sentence; errors name ``origin`` (``file:line``) and the word (1-based)."""
        ids = []
        for word, relation in enumerate(relations, 1):
            relation = str(relation) if self.cfg.subtypes else str(relation).split(":")[0]
            if relation not in self.relation_ids:
                raise DataError(f"{origin}: word {word}: unknown relation {relation!r} (task.relations)")
            ids.append(self.relation_ids[relation])
        return ids

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        fields = [self.cfg.tokens_field, self.cfg.heads_field, self.cfg.relations_field]
        missing = [f for f in fields if f not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {visible_columns(dataset.column_names)})")
        examples = []
        for start in range(0, len(dataset), 1000):
            chunk = dataset[start:start + 1000]
            words, heads, rels = [], [], []
            origins = row_origins(chunk, where, start)
            for i in range(len(chunk[fields[0]])):
                clean = multiword_free({f: chunk[f][i] for f in fields} | {"head": chunk[fields[1]][i]}, fields)
                sentence = [str(w) for w in clean[fields[0]]]
                if not sentence:
                    continue
                try:
                    sentence_heads = [int(h) for h in clean[fields[1]]]
                except (TypeError, ValueError):
                    raise DataError(f"{origins[i]}: non-integer head in {clean[fields[1]]}") from None
                outside = [k for k, h in enumerate(sentence_heads) if not 0 <= h <= len(sentence)]
                if outside:
                    raise DataError(f"{origins[i]}: word {outside[0] + 1}: head {sentence_heads[outside[0]]} "
                                    f"out of range 0..{len(sentence)}")
                words.append(sentence)
                heads.append(sentence_heads)
                rels.append(self._relation_ids(clean[fields[2]], origins[i]))
            for example, h, r in zip(encode_words(self.tokenizer, words, self.cfg.max_seq_length), heads, rels):
                example["heads"], example["rels"] = h, r
                examples.append(example)
        if not examples:
            raise DataError(f"{where}: no sentences")
        return examples
