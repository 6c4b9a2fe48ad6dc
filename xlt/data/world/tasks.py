"""The tasks, as language-neutral examples whose labels follow from the clauses (rationale in
:mod:`xlt.data.world`): each example is realised in any language by
:class:`~xlt.data.world.grammar.Realiser`, so a test set is the same content in every language
(as XNLI, XQuAD, AmericasNLI and NusaX are translations of one set).

- POS and DP: the realised tree itself (UPOS and UD relations).
- NER: the names' entity types (PER, LOC, ORG; IOB2).
- NLI: a premise and a hypothesis made from it by one operation whose label follows from
  monotonicity (MacCartney & Manning 2007) under the SNLI/XNLI convention that both sentences
  describe one situation: in an affirmative premise, dropping modifiers (adjectives, a possessor,
  the oblique) gives an entailed hypothesis and adding one a neutral one; a negated premise is
  downward-entailing in its event modifiers, so adding an oblique gives entailment and dropping it
  a neutral pair (the other modifiers of a negated sentence are left alone: whether they are
  entailed depends on the scope and reference of their noun phrase); reversing the polarity of the
  whole clause contradicts it, as does, in an affirmative premise, swapping the verb or an
  adjective for its antonym.
- SA: the polarity of the evaluative words: every adjective's polarity plus the verb's, which
  negation reverses; the sign of the sum is the label (zero sum with polar words present, a mixed
  sentence, is never generated).
- QA: a context of sentences with distinct verbs; a question asks for one argument of one of them
  (who, what, where), and the answer is that argument's phrase (a locative oblique's without its
  adposition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from xlt.data.world.grammar import (
    Clause,
    Question,
    Sampler,
    add_modifier,
    antonym_adjective_slots,
    drop_modifier,
    modifier_slots,
    sentiment_score,
    swap_adjective,
    swap_verb,
)

NLI_LABELS = ("entailment", "neutral", "contradiction")
SA_LABELS = ("negative", "neutral", "positive")  # NusaX order
TASKS = ("ud", "ner", "nli", "sa", "qa")
QA_SENTENCES = 4  # sentences per QA context
QA_QUESTIONS = 2  # questions per context (about different sentences)
MAX_TRIES = 1000
T = TypeVar("T")
# Half the NLI premises are negated, so that neither the hypothesis's length nor the direction of
# the change tells the label: dropping a modifier entails in an affirmative premise and is neutral
# in a negated one (a rule on the length difference alone scores about 45%, against 75% at 20% negation).
NLI_NEGATION_RATE = 0.5


class Reserve:
    """Clause keys already used: evaluation content is drawn first and reserved, so no training,
    corpus or parallel sentence repeats a dev or test sentence, and dev and test are disjoint."""

    def __init__(self) -> None:
        self.keys: set[tuple] = set()

    def fresh(self, *clauses: Clause) -> bool:
        keys = [c.key() for c in clauses]
        return len(set(keys)) == len(keys) and not any(k in self.keys for k in keys)

    def take(self, *clauses: Clause) -> None:
        self.keys.update(c.key() for c in clauses)


def _draw(make: Callable[[], T | None], what: str) -> T:
    for _ in range(MAX_TRIES):
        item = make()
        if item is not None:
            return item
    raise RuntimeError(f"could not draw {what} in {MAX_TRIES} tries")


def clauses(sampler: Sampler, n: int, used: Reserve, taken: Reserve | None = None) -> list[Clause]:
    """``n`` distinct clauses not in ``used`` (added to ``taken``, default ``used``)."""
    taken = taken or used
    out = []
    for _ in range(n):
        def make() -> Clause | None:
            clause = sampler.clause()
            return clause if used.fresh(clause) and (taken is used or taken.fresh(clause)) else None

        clause = _draw(make, "a fresh clause")
        taken.take(clause)
        out.append(clause)
    return out


def sentences(sampler: Sampler, n: int, used: Reserve, question_rate: float = 0.0) -> list[Clause | Question]:
    """Corpus sentences: fresh clauses, a ``question_rate`` of them asked as questions."""
    out: list[Clause | Question] = []
    for clause in clauses(sampler, n, used, Reserve()):
        out.append(sampler.question(clause) if sampler.rng.random() < question_rate else clause)
    return out


# ---------------------------------------------------------------------------- NLI
@dataclass(frozen=True)
class NLIExample:
    premise: Clause
    hypothesis: Clause
    label: str
    operation: str


def nli_hypothesis(sampler: Sampler, premise: Clause, label: str) -> tuple[Clause, str] | None:
    """A hypothesis with ``label`` for ``premise`` (module docstring), or None if none applies."""
    rng = sampler.rng
    if premise.negated:
        if label == "entailment":
            return (None if premise.oblique is not None else
                    (Clause(premise.verb, premise.subject, premise.object, sampler.oblique(), True), "add-oblique"))
        if label == "neutral":
            return (None if premise.oblique is None else
                    (drop_modifier(premise, ("oblique",)), "drop-oblique"))
        return Clause(premise.verb, premise.subject, premise.object, premise.oblique, False), "negate"
    if label == "entailment":
        slots = modifier_slots(premise)
        if not slots:
            return None
        hypothesis = premise
        for slot in rng.sample(slots, min(len(slots), rng.choice((1, 1, 2)))):
            if slot in modifier_slots(hypothesis):
                hypothesis = drop_modifier(hypothesis, slot)
        return hypothesis, "drop"
    if label == "neutral":
        added = add_modifier(premise, sampler)
        return None if added is None else (added, "add")
    options: list[tuple[Clause, str]] = [(Clause(premise.verb, premise.subject, premise.object, premise.oblique,
                                                 True), "negate")]
    verb = swap_verb(premise)
    if verb is not None:
        options.append((verb, "antonym-verb"))
    options += [(swap_adjective(premise, role, a), "antonym-adjective") for role, a in antonym_adjective_slots(premise)]
    return rng.choice(options)


def nli_examples(sampler: Sampler, n: int, used: Reserve, taken: Reserve | None = None) -> list[NLIExample]:
    """``n`` examples, labels balanced (cycling, then shuffled), premises and hypotheses fresh."""
    taken = taken or used
    out = []
    for i in range(n):
        label = NLI_LABELS[i % 3]
        negated = sampler.rng.random() < NLI_NEGATION_RATE  # decided first: rejections must not skew it

        def make(label: str = label, negated: bool = negated) -> NLIExample | None:
            premise = sampler.clause(negation_rate=1.0 if negated else 0.0)
            made = nli_hypothesis(sampler, premise, label)
            if made is None:
                return None
            hypothesis, operation = made
            if not used.fresh(premise, hypothesis) or (taken is not used and not taken.fresh(premise, hypothesis)):
                return None
            return NLIExample(premise, hypothesis, label, operation)

        example = _draw(make, f"an NLI example ({label})")
        taken.take(example.premise, example.hypothesis)
        out.append(example)
    sampler.rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------- SA
def sentiment_label(clause: Clause) -> str | None:
    """The SA label (None: a mixed sentence, polar words summing to zero)."""
    score, polar = sentiment_score(clause)
    if score == 0 and polar:
        return None
    return SA_LABELS[(score > 0) - (score < 0) + 1]


def sa_examples(sampler: Sampler, n: int, used: Reserve, taken: Reserve | None = None) -> list[tuple[Clause, str]]:
    taken = taken or used
    out = []
    for i in range(n):
        label = SA_LABELS[i % 3]

        def make(label: str = label) -> Clause | None:
            clause = sampler.clause()
            fresh = used.fresh(clause) and (taken is used or taken.fresh(clause))
            return clause if fresh and sentiment_label(clause) == label else None

        clause = _draw(make, f"a {label} sentence")
        taken.take(clause)
        out.append((clause, label))
    sampler.rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------- QA
@dataclass(frozen=True)
class QAContext:
    clauses: tuple[Clause, ...]
    questions: tuple[tuple[int, Question], ...]  # (index of the clause asked about, the question)


def qa_contexts(sampler: Sampler, questions: int, used: Reserve, taken: Reserve | None = None) -> list[QAContext]:
    """Contexts of QA_SENTENCES clauses with distinct verbs, QA_QUESTIONS questions each, until
    ``questions`` questions."""
    taken = taken or used
    out: list[QAContext] = []
    remaining = questions
    while remaining > 0:
        chosen: list[Clause] = []
        for _ in range(QA_SENTENCES):
            def make(chosen: list[Clause] = chosen) -> Clause | None:
                clause = sampler.clause()
                fresh = used.fresh(*chosen, clause) and (taken is used or taken.fresh(*chosen, clause))
                return clause if fresh and clause.verb not in {c.verb for c in chosen} else None

            chosen.append(_draw(make, "a QA context sentence"))
        count = min(QA_QUESTIONS, remaining)
        asked = sorted(sampler.rng.sample(range(QA_SENTENCES), count))
        qas = []
        for index in asked:
            qas.append((index, sampler.question(chosen[index])))
        taken.take(*chosen)
        out.append(QAContext(tuple(chosen), tuple(qas)))
        remaining -= count
    return out
