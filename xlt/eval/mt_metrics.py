"""Translation quality: corpus chrF and BLEU with sacrebleu (thesis §6.4.2, NMT adaptation).

Scores are sacrebleu's (0-100): chrF with its defaults (character 6-grams, beta 2) and BLEU with the
13a tokeniser. ``primary`` (chrf or bleu) selects checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

from xlt.eval.metrics import Metric

TRANSLATION_METRICS = ("chrf", "bleu")


class TranslationMetric(Metric):
    """Collects (hypothesis, reference) pairs; corpus chrF and BLEU at the end."""

    mode = "max"

    def __init__(self, primary: str = "chrf") -> None:
        if primary not in TRANSLATION_METRICS:
            raise ValueError(f"primary must be one of {TRANSLATION_METRICS}")
        self.primary = primary
        self.reset()

    def reset(self) -> None:
        self.hypotheses: list[str] = []
        self.references: list[str] = []

    def update(self, hypotheses: Sequence[str], references: Sequence[str]) -> None:
        if len(hypotheses) != len(references):
            raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
        self.hypotheses.extend(hypotheses)
        self.references.extend(references)

    def compute(self) -> dict[str, float]:
        if not self.references:
            return {"chrf": 0.0, "bleu": 0.0}
        import sacrebleu

        return {"chrf": float(sacrebleu.corpus_chrf(self.hypotheses, [self.references]).score),
                "bleu": float(sacrebleu.corpus_bleu(self.hypotheses, [self.references]).score)}
