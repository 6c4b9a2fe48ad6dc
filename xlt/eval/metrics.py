"""Metric accumulators: update per batch, compute at the end (thesis §3.4.3, §4.4.3, §5.4.3).

Each accumulator reports a dict of named values; ``primary`` names the selection metric
and ``mode`` says whether larger is better.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class Metric:
    primary: str = ""
    mode: str = "max"

    def reset(self) -> None:
        raise NotImplementedError

    def compute(self) -> dict[str, float]:
        raise NotImplementedError


class Accuracy(Metric):
    """Fraction of correct predictions (NLI, POS)."""

    primary = "accuracy"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, predictions: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> None:
        keep = labels != ignore_index
        self.correct += int((predictions[keep] == labels[keep]).sum())
        self.total += int(keep.sum())

    def compute(self) -> dict[str, float]:
        return {"accuracy": self.correct / self.total if self.total else 0.0}


class MacroF1(Metric):
    """Unweighted mean of per-class F1 over the classes present in gold or predictions (SA)."""

    primary = "macro_f1"

    def __init__(self, num_labels: int) -> None:
        self.num_labels = num_labels
        self.reset()

    def reset(self) -> None:
        self.confusion = torch.zeros(self.num_labels, self.num_labels, dtype=torch.long)

    def update(self, predictions: torch.Tensor, labels: torch.Tensor) -> None:
        index = labels.cpu() * self.num_labels + predictions.cpu()
        self.confusion += torch.bincount(index, minlength=self.num_labels**2).reshape(self.num_labels, -1)

    def compute(self) -> dict[str, float]:
        tp = self.confusion.diag().double()
        gold = self.confusion.sum(1).double()
        predicted = self.confusion.sum(0).double()
        present = (gold + predicted) > 0
        f1 = torch.where(gold + predicted > 0, 2 * tp / (gold + predicted).clamp(min=1), torch.zeros_like(tp))
        accuracy = float(tp.sum() / gold.sum()) if gold.sum() else 0.0
        return {"macro_f1": float(f1[present].mean()) if present.any() else 0.0, "accuracy": accuracy}


class MeanLoss(Metric):
    """Token-weighted mean loss (MLM held-out selection: smallest is best, §4.4.2)."""

    primary = "loss"
    mode = "min"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, loss: torch.Tensor, count: int) -> None:
        self.total += float(loss) * count
        self.count += count

    def compute(self) -> dict[str, float]:
        return {"loss": self.total / self.count if self.count else float("nan")}


def average(results: Sequence[dict[str, float]]) -> dict[str, float]:
    """Unweighted mean over languages of every metric they all report."""
    if not results:
        return {}
    keys = set(results[0]).intersection(*results[1:])
    return {key: sum(r[key] for r in results) / len(results) for key in sorted(keys)}
