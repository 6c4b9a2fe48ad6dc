"""The Lightning model of the ``parsing`` task family (xlt.tasks.parsing): imported when a stage builds
one, so that planning an experiment does not import Lightning."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xlt.eval.metrics import Metric
from xlt.tasks.decoding import greedy_heads, mst_heads
from xlt.tasks.models.base import TaskModel
from xlt.tasks.parsing import BiaffineParserHead, head_candidates, pool_words, usable_words
from xlt.tasks.tagging import model_inputs


class BiaffineParser(TaskModel):
    def __init__(self, backbone: nn.Module, head: BiaffineParserHead, metric_factory, pooling: str, decode: str):
        super().__init__(backbone, head, metric_factory)
        self.pooling, self.decode = pooling, decode

    def scores(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Arc scores, relation scores and the mask of possible heads (root, present words, not self)."""
        hidden = self.backbone(**model_inputs(batch)).last_hidden_state
        hidden = self.head.dropout(hidden)
        words = pool_words(hidden, batch["word_starts"], batch["word_ends"], self.pooling)
        arcs, relations = self.head(words, hidden[:, 0])
        return arcs, relations, head_candidates(batch["word_starts"])

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        arcs, relations, valid = self.scores(batch)
        gold = batch["heads"]
        usable = usable_words(batch, valid)
        safe_gold = gold.clamp(min=0)
        if not usable.any():
            return arcs.sum() * 0.0 + relations.sum() * 0.0
        arcs = arcs.masked_fill(~valid, torch.finfo(arcs.dtype).min)
        arc_loss = nn.functional.cross_entropy(arcs[usable], gold[usable])
        index = safe_gold[..., None, None].expand(-1, -1, 1, relations.shape[-1])
        rel_gold = relations.gather(2, index).squeeze(2)  # relation scores at the gold head
        rel_loss = nn.functional.cross_entropy(rel_gold[usable], batch["rels"][usable])
        return arc_loss + rel_loss

    def loss_count(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return usable_words(batch, head_candidates(batch["word_starts"])).sum()  # both terms: means over these

    @torch.no_grad()
    def predict(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted heads and relations per word (head -1 for words without subwords)."""
        arcs, relations, valid = self.scores(batch)
        if self.decode == "mst":
            log_probs = arcs.float().masked_fill(~valid, float("-inf")).log_softmax(-1).cpu().numpy()
            heads = torch.full(arcs.shape[:2], -1, dtype=torch.long)
            for b, present in enumerate((batch["word_starts"] >= 0).cpu()):
                words = present.nonzero().flatten().tolist()
                if not words:
                    continue
                nodes = [0] + [w + 1 for w in words]  # root + present words
                sub = log_probs[b][words][:, nodes]
                scores = np.full((len(nodes), len(nodes)), -np.inf)
                scores[1:] = sub
                tree = mst_heads(scores)
                heads[b, words] = torch.tensor([nodes[h] for h in tree])
            heads = heads.to(arcs.device)
        else:
            heads = greedy_heads(arcs, valid)
        heads = heads.masked_fill(batch["word_starts"] < 0, -1)
        rel_at = relations.gather(2, heads.clamp(min=0)[..., None, None].expand(-1, -1, 1, relations.shape[-1]))
        return heads, rel_at.squeeze(2).argmax(-1)

    def update_metric(self, metric: Metric, batch: dict[str, torch.Tensor]) -> None:
        heads, rels = self.predict(batch)
        metric.update(heads.cpu(), rels.cpu(), batch["heads"].cpu(), batch["rels"].cpu())
