"""Multiple-choice accuracy from per-choice scores (MMLU-style evaluation, thesis §7.4.4, Appendix E.1).

A question's choices are scored either all at once (the next-token log-probabilities of the answer
letters after its prompt, as open-instruct's MMLU script: :meth:`update_questions`) or one sequence
per choice (its continuation's log-likelihood: :meth:`update`), and batches may split a question's
choices, so scores are accumulated per (question, choice) and the argmax is taken at the end (ties:
the first choice, as ``torch.argmax``). A question counts only when every one of its choices was
scored; accuracy is over questions (MMLU's "average accuracy" over all subjects).
"""

from __future__ import annotations

import torch

from xlt.eval.metrics import Metric


class MultipleChoiceAccuracy(Metric):
    primary = "accuracy"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.scores: dict[int, dict[int, float]] = {}
        self.answers: dict[int, int] = {}
        self.num_choices: dict[int, int] = {}

    def update(self, questions: torch.Tensor, choices: torch.Tensor, answers: torch.Tensor,
               num_choices: torch.Tensor, scores: torch.Tensor) -> None:
        for q, c, a, n, s in zip(questions.tolist(), choices.tolist(), answers.tolist(), num_choices.tolist(),
                                 scores.tolist()):
            self.scores.setdefault(q, {})[c] = s
            self.answers[q] = a
            self.num_choices[q] = n

    def update_questions(self, questions: torch.Tensor, answers: torch.Tensor, num_choices: torch.Tensor,
                         scores: torch.Tensor) -> None:
        """``scores`` [B, C]: row i holds question i's first ``num_choices[i]`` choice scores."""
        for q, a, n, row in zip(questions.tolist(), answers.tolist(), num_choices.tolist(), scores.tolist()):
            self.scores[q] = dict(enumerate(row[:n]))
            self.answers[q] = a
            self.num_choices[q] = n

    def compute(self) -> dict[str, float]:
        complete = [q for q, scores in self.scores.items() if len(scores) == self.num_choices[q]]
        if not complete:
            return {"accuracy": 0.0, "questions": 0.0}
        correct = 0
        for q in complete:
            scores = self.scores[q]
            best = max(sorted(scores), key=lambda c: scores[c])  # ties: the first choice
            correct += int(best == self.answers[q])
        return {"accuracy": correct / len(complete), "questions": float(len(complete))}
