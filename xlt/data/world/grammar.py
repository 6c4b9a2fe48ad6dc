"""The world's one grammar: language-neutral clauses, their sampling, and their realisation in a
language as a dependency tree (UD relations and UPOS).

A :class:`Clause` is what a sentence means: a verb with its subject, object and an optional
oblique, each argument a noun phrase (:class:`NP`) with determiner, numeral, adjectives and a
possessor, or a name. Every language realises the same clause with its own words and its own
parameters (:class:`~xlt.data.world.params.Syntax`); the same clause in two languages is a
perfect translation pair. Realisation builds a head-dependent tree and linearises it with each
dependent on the side its parameter says, inner dependents closest to the head, so every tree
is projective and every phrase a contiguous span (what QA answers and NER entities need).

Tree shapes (UD v2): the verb is the root; ``nsubj``, ``obj`` and ``obl`` attach to it, the
negative particle as ``advmod``, the final punctuation as ``punct``; in a noun phrase ``det``,
``nummod``, ``amod`` and a possessor (``nmod``) attach to the noun, an adposition to its noun as
``case``; a multi-word name hangs from its first word by ``flat``. Questions put a question word
in the questioned argument's place (wh-in-situ, as in Chinese, Japanese, Turkish): ``who``/``what``
as ``nsubj``/``obj``, ``where`` as ``advmod`` replacing a locative oblique.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from xlt.data.world.concepts import (
    ADJECTIVE_BY_ID,
    ADJECTIVES,
    ADPOSITION_BY_ID,
    ADPOSITIONS,
    DETERMINERS,
    DIGITS,
    FUNCTION_WORDS,
    LOCATIVE,
    NEGATION,
    NOUNS,
    VERB_BY_ID,
    VERBS,
)
from xlt.data.world.concepts import names as names_of
from xlt.data.world.languages import Lexicon
from xlt.data.world.params import Syntax
from xlt.data.world.phonology import capitalise


# ---------------------------------------------------------------------------- meaning
@dataclass(frozen=True)
class NP:
    """A noun phrase: a common noun with its modifiers, or a name (``name`` set: a person's first
    [and last] name, a place name, or an organisation name followed by its common noun ``noun``)."""

    cls: str
    noun: str | None = None
    name: tuple[str, ...] = ()
    det: str | None = None
    numeral: str | None = None
    plural: bool = False
    adjectives: tuple[str, ...] = ()  # outermost first
    possessor: NP | None = None

    @property
    def entity(self) -> str | None:
        if not self.name:
            return None
        return {"person": "PER", "place": "LOC", "org": "ORG"}[self.cls]

    def key(self) -> tuple:
        """What distinguishes the phrase in every language (number without a numeral is not marked
        in a language without plural inflection, so it is left out)."""
        return (self.cls, self.noun, self.name, self.det, self.numeral, self.adjectives,
                self.possessor.key() if self.possessor else None)


@dataclass(frozen=True)
class Oblique:
    adposition: str
    np: NP


@dataclass(frozen=True)
class Clause:
    verb: str
    subject: NP
    object: NP | None = None
    oblique: Oblique | None = None
    negated: bool = False

    def key(self) -> tuple:
        return (self.verb, self.subject.key(), self.object.key() if self.object else None,
                (self.oblique.adposition, self.oblique.np.key()) if self.oblique else None, self.negated)

    def arguments(self) -> list[tuple[str, NP]]:
        """(role, phrase) of the subject, object and oblique."""
        out = [("subject", self.subject)]
        if self.object is not None:
            out.append(("object", self.object))
        if self.oblique is not None:
            out.append(("oblique", self.oblique.np))
        return out

    def phrases(self) -> list[NP]:
        """Every noun phrase, possessors included."""
        out = []
        for _, np_ in self.arguments():
            out.append(np_)
            if np_.possessor is not None:
                out.append(np_.possessor)
        return out


@dataclass(frozen=True)
class Question:
    """A clause with one argument questioned: ``target`` is ``subject``, ``object`` or ``oblique``
    (a locative oblique, asked with ``where``)."""

    clause: Clause
    target: str

    @property
    def word(self) -> str:
        if self.target == "oblique":
            return "WHERE"
        phrase = self.clause.subject if self.target == "subject" else self.clause.object
        assert phrase is not None
        return "WHO" if phrase.cls == "person" else "WHAT"


# ---------------------------------------------------------------------------- sampling
def _zipf(n: int, exponent: float = 1.0) -> list[float]:
    """Cumulative Zipf weights of ranks 1..n."""
    return list(itertools.accumulate(1.0 / (rank ** exponent) for rank in range(1, n + 1)))


class Sampler:
    """Draws clauses from the grammar with a random stream. Within a category a concept's
    probability follows its Zipf rank (the inventory's order), the same in every language.
    ``name_rate``: how often a person, place or organisation is a name rather than a common noun
    (NER data are rich in names); ``names``: which names (:func:`~xlt.data.world.concepts.names`:
    ``train``, ``eval`` or ``all``). The other rates (class attributes and defaults) are design
    choices for short narrative sentences: most phrases definite, a quarter plural, half with an
    adjective, one clause in five negated, almost half with an oblique."""

    CLASS_WEIGHTS = {"person": 3.0, "animal": 1.5, "thing": 1.5, "place": 1.0, "org": 1.0}
    DETERMINER_WEIGHTS = (("DEF", 45), ("INDEF", 30), ("DEM", 15), (None, 10))
    ADJECTIVE_COUNT_WEIGHTS = ((0, 50), (1, 38), (2, 12))
    OBLIQUE_WEIGHTS = (("in", 35), ("near", 20), ("with", 20), ("from", 10), ("to", 15))
    VERB_IDS = tuple(v.id for v in VERBS)
    assert [a for a, _ in OBLIQUE_WEIGHTS] == [a.id for a in ADPOSITIONS if a.role != "possessive"]

    def __init__(self, rng: random.Random, name_rate: float = 0.2, names: str = "all"):
        self.rng = rng
        self.name_rate = name_rate
        self.names = {kind: names_of(kind, names) for kind in ("first", "last", "place", "org")}
        self.nouns = {cls: tuple(n.id for n in NOUNS if n.cls == cls) for cls in self.CLASS_WEIGHTS}
        self.adjectives = {cls: tuple(a.id for a in ADJECTIVES if cls in a.classes) for cls in self.CLASS_WEIGHTS}
        self._cumulative: dict[tuple[int, float], list[float]] = {}
        self._classes: dict[frozenset[str], tuple[tuple[str, ...], list[float]]] = {}

    def weighted(self, pairs: Sequence[tuple[object, float]]):
        """A choice among (item, weight) pairs."""
        total = sum(weight for _, weight in pairs)
        point = self.rng.random() * total
        for item, weight in pairs:
            point -= weight
            if point < 0:
                return item
        return pairs[-1][0]

    def pick(self, items: Sequence, exponent: float = 1.0):
        """A Zipf-weighted choice (rank = position in ``items``)."""
        key = (len(items), exponent)
        weights = self._cumulative.get(key)
        if weights is None:
            weights = self._cumulative[key] = _zipf(len(items), exponent)
        return items[bisect.bisect(weights, self.rng.random() * weights[-1])]

    def choose_class(self, allowed: frozenset[str]) -> str:
        cached = self._classes.get(allowed)
        if cached is None:
            classes = tuple(c for c in self.CLASS_WEIGHTS if c in allowed)
            cached = self._classes[allowed] = (classes, list(itertools.accumulate(self.CLASS_WEIGHTS[c]
                                                                                  for c in classes)))
        classes, cumulative = cached
        return classes[bisect.bisect(cumulative, self.rng.random() * cumulative[-1])]

    def adjectives_for(self, cls: str, count: int, exclude: Sequence[str] = ()) -> tuple[str, ...]:
        chosen: list[str] = []
        allowed = self.adjectives[cls]
        for _ in range(count * 4):
            if len(chosen) == count:
                break
            adjective = self.pick(allowed, 0.7)
            antonym = ADJECTIVE_BY_ID[adjective].antonym
            taken = set(chosen) | set(exclude)
            if adjective not in taken and antonym not in taken:
                chosen.append(adjective)
        return tuple(chosen)

    def name_phrase(self, cls: str) -> NP:
        rng = self.rng
        if cls == "person":
            first = self.pick(self.names["first"], 0.5)
            return NP(cls, name=(first, self.pick(self.names["last"], 0.5)) if rng.random() < 0.4 else (first,))
        if cls == "place":
            return NP(cls, name=(self.pick(self.names["place"], 0.5),))
        return NP(cls, noun=self.pick(self.nouns["org"]), name=(self.pick(self.names["org"], 0.5),))

    def phrase(self, cls: str, possessor: bool = True) -> NP:
        rng = self.rng
        if cls in ("person", "place", "org") and rng.random() < self.name_rate:
            return self.name_phrase(cls)
        noun = self.pick(self.nouns[cls])
        det = self.weighted(self.DETERMINER_WEIGHTS)
        plural = rng.random() < 0.25
        numeral = None
        if plural:
            if rng.random() < 0.5:
                numeral = self.pick(DIGITS, 1.2)
            if det == "INDEF":
                det = None
        count = self.weighted(self.ADJECTIVE_COUNT_WEIGHTS)
        adjectives = self.adjectives_for(cls, count)
        owner = None
        if possessor and cls in ("thing", "animal", "place") and rng.random() < 0.12:
            owner = self.phrase(self.choose_class(ADPOSITION_BY_ID["of"].classes), possessor=False)
        return NP(cls, noun, (), det, numeral, plural, adjectives, owner)

    def oblique(self) -> Oblique:
        adposition = self.weighted(self.OBLIQUE_WEIGHTS)
        return Oblique(adposition, self.phrase(self.choose_class(ADPOSITION_BY_ID[adposition].classes)))

    def clause(self, oblique_rate: float = 0.45, negation_rate: float = 0.2) -> Clause:
        rng = self.rng
        verb = VERB_BY_ID[self.pick(self.VERB_IDS, 0.8)]
        subject = self.phrase(self.choose_class(verb.subjects))
        obj = self.phrase(self.choose_class(verb.objects)) if verb.transitive else None
        oblique = self.oblique() if rng.random() < oblique_rate else None
        return Clause(verb.id, subject, obj, oblique, rng.random() < negation_rate)

    def question(self, clause: Clause) -> Question:
        """A question about one argument of ``clause``: its subject, object or locative oblique."""
        targets = ["subject"] + (["object"] if clause.object is not None else [])
        if clause.oblique is not None and clause.oblique.adposition in LOCATIVE:
            targets.append("oblique")
        return Question(clause, self.rng.choice(targets))


# ---------------------------------------------------------------------------- modifications (NLI)
def modifier_slots(clause: Clause) -> list[tuple[str, ...]]:
    """The modifiers that can be dropped without changing what the sentence is about: adjectives,
    possessors and the oblique."""
    slots: list[tuple[str, ...]] = []
    for role, phrase in clause.arguments():
        slots += [(role, "adjective", a) for a in phrase.adjectives]
        if phrase.possessor is not None:
            slots.append((role, "possessor"))
            slots += [(role, "possessor-adjective", a) for a in phrase.possessor.adjectives]
    if clause.oblique is not None:
        slots.append(("oblique",))
    return slots


def _with_phrase(clause: Clause, role: str, phrase: NP) -> Clause:
    if role == "subject":
        return replace(clause, subject=phrase)
    if role == "object":
        return replace(clause, object=phrase)
    assert clause.oblique is not None
    return replace(clause, oblique=Oblique(clause.oblique.adposition, phrase))


def _phrase(clause: Clause, role: str) -> NP:
    return dict(clause.arguments())[role]


def drop_modifier(clause: Clause, slot: tuple[str, ...]) -> Clause:
    if slot == ("oblique",):
        return replace(clause, oblique=None)
    role, kind = slot[0], slot[1]
    phrase = _phrase(clause, role)
    if kind == "adjective":
        return _with_phrase(clause, role, replace(phrase, adjectives=tuple(a for a in phrase.adjectives
                                                                           if a != slot[2])))
    assert phrase.possessor is not None
    if kind == "possessor":
        return _with_phrase(clause, role, replace(phrase, possessor=None))
    owner = replace(phrase.possessor, adjectives=tuple(a for a in phrase.possessor.adjectives if a != slot[2]))
    return _with_phrase(clause, role, replace(phrase, possessor=owner))


def add_modifier(clause: Clause, sampler: Sampler) -> Clause | None:
    """The clause with one more modifier (an adjective, an oblique or a possessor), or None."""
    options: list[tuple[str, ...]] = []
    for role, phrase in clause.arguments():
        if not phrase.name and len(phrase.adjectives) < 2:
            options.append((role, "adjective"))
        if not phrase.name and phrase.possessor is None and phrase.cls in ("thing", "animal", "place") \
                and role != "oblique":
            options.append((role, "possessor"))
    if clause.oblique is None:
        options.append(("oblique",))
    sampler.rng.shuffle(options)
    for option in options:
        if option == ("oblique",):
            return replace(clause, oblique=sampler.oblique())
        role, kind = option
        phrase = _phrase(clause, role)
        if kind == "adjective":
            (extra,) = sampler.adjectives_for(phrase.cls, 1, phrase.adjectives) or (None,)
            if extra is None:
                continue
            adjectives = (extra, *phrase.adjectives) if sampler.rng.random() < 0.5 else (*phrase.adjectives, extra)
            return _with_phrase(clause, role, replace(phrase, adjectives=adjectives))
        owner = sampler.phrase(sampler.choose_class(ADPOSITION_BY_ID["of"].classes), possessor=False)
        return _with_phrase(clause, role, replace(phrase, possessor=owner))
    return None


def antonym_adjective_slots(clause: Clause) -> list[tuple[str, str]]:
    return [(role, a) for role, phrase in clause.arguments() for a in phrase.adjectives
            if ADJECTIVE_BY_ID[a].antonym is not None]


def swap_adjective(clause: Clause, role: str, adjective: str) -> Clause:
    phrase = _phrase(clause, role)
    antonym = ADJECTIVE_BY_ID[adjective].antonym
    return _with_phrase(clause, role, replace(phrase, adjectives=tuple(antonym if a == adjective else a
                                                                       for a in phrase.adjectives)))


def swap_verb(clause: Clause) -> Clause | None:
    antonym = VERB_BY_ID[clause.verb].antonym
    return None if antonym is None else replace(clause, verb=antonym)


def sentiment_score(clause: Clause) -> tuple[int, int]:
    """(score, number of polar words): every adjective's polarity plus the verb's, which negation
    reverses (the label rule of the SA task)."""
    adjectives = [ADJECTIVE_BY_ID[a].polarity for phrase in clause.phrases() for a in phrase.adjectives]
    verb = VERB_BY_ID[clause.verb].polarity
    polar = sum(1 for p in adjectives if p) + (1 if verb else 0)
    return sum(adjectives) + (-verb if clause.negated else verb), polar


# ---------------------------------------------------------------------------- realisation
@dataclass
class Node:
    form: str
    lemma: str
    upos: str
    feats: str
    deprel: str
    concept: str
    ner: str = "O"
    left: list[Node] = field(default_factory=list)  # outermost first
    right: list[Node] = field(default_factory=list)  # innermost first
    mark: str | None = None  # names the node's phrase (its span is recorded)
    exclude: Node | None = None  # a dependent left out of the marked span (the phrase's own adposition)


class Token(NamedTuple):
    id: int  # 1-based
    form: str
    lemma: str
    upos: str
    feats: str
    head: int  # 0: the root
    deprel: str
    ner: str
    concept: str


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[Token, ...]
    text: str
    offsets: tuple[int, ...]  # character offset of every token in ``text``
    spans: dict[str, tuple[int, int]]  # marked phrase -> (first, last) token index, 0-based inclusive

    def span_text(self, mark: str) -> tuple[int, str]:
        first, last = self.spans[mark]
        start = self.offsets[first]
        end = self.offsets[last] + len(self.tokens[last].form)
        return start, self.text[start:end]


NO_SPACE_BEFORE = (".", "?")


def detokenise(forms: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    text, offsets = "", []
    for form in forms:
        if text and form not in NO_SPACE_BEFORE:
            text += " "
        offsets.append(len(text))
        text += form
    return text, tuple(offsets)


class Realiser:
    """Realises clauses and questions in one language."""

    def __init__(self, syntax: Syntax, lexicon: Lexicon):
        self.syntax = syntax
        self.lexicon = lexicon

    def _word(self, concept: str, upos: str, deprel: str, feats: str | None = None) -> Node:
        form = self.lexicon.word(concept)
        if feats is None:
            feats = FUNCTION_WORDS[concept][1] if concept in FUNCTION_WORDS else "_"
        return Node(form, form, upos, feats, deprel, concept)

    @staticmethod
    def _attach(head: Node, dependent: Node, side: str) -> None:
        """Attach as the outermost dependent so far on ``side`` (callers attach inner ones first)."""
        if side in ("before", "pre"):
            head.left.insert(0, dependent)
        else:
            head.right.append(dependent)

    def phrase(self, np_: NP, deprel: str, accusative: bool = False, adposition: str | None = None,
               mark: str | None = None) -> Node:
        s = self.syntax
        if np_.name:
            entity = np_.entity
            head = Node(np_.name[0], np_.name[0], "PROPN", "_", deprel, f"name:{np_.name[0]}", f"B-{entity}")
            for part in np_.name[1:]:
                head.right.append(Node(part, part, "PROPN", "_", "flat", f"name:{part}", f"I-{entity}"))
            if np_.cls == "org":
                assert np_.noun is not None
                word = self.lexicon.word(np_.noun)
                head.right.append(Node(capitalise(word), word, "PROPN", "_", "flat", np_.noun, "I-ORG"))
        else:
            assert np_.noun is not None
            form = self.lexicon.noun(np_.noun, np_.plural, accusative)
            head = Node(form, self.lexicon.word(np_.noun), "NOUN", self.lexicon.noun_feats(np_.plural, accusative),
                        deprel, np_.noun)
            for adjective in reversed(np_.adjectives):  # innermost first
                self._attach(head, self._word(adjective, "ADJ", "amod", "_"), s.adjective)
            if np_.numeral is not None:
                self._attach(head, Node(np_.numeral, np_.numeral, "NUM", "NumType=Card", "nummod",
                                        f"num:{np_.numeral}"), s.numeral)
            if np_.det is not None:
                self._attach(head, self._word(np_.det, "DET", "det", DETERMINERS[np_.det]), s.determiner)
            if np_.possessor is not None:
                owner = self.phrase(np_.possessor, "nmod", adposition="of",
                                    mark=f"{mark}.possessor" if mark else None)
                self._attach(head, owner, s.possessor)
        if adposition is not None:
            case = self._word(adposition, "ADP", "case", "_")
            self._attach(head, case, s.adposition)
            head.exclude = case
        head.mark = mark
        return head

    def clause_tree(self, clause: Clause, question: Question | None = None) -> Node:
        s = self.syntax
        target = question.target if question else None
        root = self._word(clause.verb, "VERB", "root", "_")

        def argument(role: str) -> Node | None:
            if role == "subject":
                phrase, deprel = clause.subject, "nsubj"
            elif role == "object":
                if clause.object is None:
                    return None
                phrase, deprel = clause.object, "obj"
            else:
                if clause.oblique is None:
                    return None
                if target == "oblique":
                    return self._word("WHERE", "ADV", "advmod")
                return self.phrase(clause.oblique.np, "obl", adposition=clause.oblique.adposition, mark=role)
            if target == role:
                assert question is not None
                return self._word(question.word, "PRON", deprel)
            return self.phrase(phrase, deprel, accusative=role == "object", mark=role)

        subject, obj, oblique = argument("subject"), argument("object"), argument("oblique")
        if s.order == "SVO":
            left, right = [subject], [obj, oblique]
        elif s.order == "SOV":
            left, right = [subject, oblique, obj], []
        else:  # VSO
            left, right = [], [subject, obj, oblique]
        root.left = [n for n in left if n is not None]
        root.right = [n for n in right if n is not None]
        if clause.negated:
            negation = self._word(NEGATION, "PART", "advmod")
            if s.negation == "before":
                root.left.append(negation)
            else:
                root.right.insert(0, negation)
        mark = "?" if question else "."
        root.right.append(Node(mark, mark, "PUNCT", "_", "punct", "PUNCT"))
        return root

    def realise(self, clause: Clause, question: Question | None = None) -> Sentence:
        root = self.clause_tree(clause, question)
        order: list[Node] = []
        parents: dict[int, Node | None] = {}
        spans: dict[str, tuple[int, int]] = {}
        extents: dict[int, tuple[int, int]] = {}

        def record(node: Node) -> tuple[int, int]:
            start = len(order)
            parents.setdefault(id(node), None)
            for child in node.left:
                parents[id(child)] = node
                extents[id(child)] = record(child)
            order.append(node)
            for child in node.right:
                parents[id(child)] = node
                extents[id(child)] = record(child)
            end = len(order) - 1
            if node.mark is not None:
                first, last = start, end
                if node.exclude is not None:
                    a, b = extents[id(node.exclude)]
                    first, last = (b + 1, last) if a == start else (first, a - 1)
                spans[node.mark] = (first, last)
            return start, end

        record(root)
        index = {id(node): i + 1 for i, node in enumerate(order)}
        forms = [node.form for node in order]
        forms[0] = capitalise(forms[0])
        text, offsets = detokenise(forms)
        tokens = tuple(
            Token(i + 1, forms[i], node.lemma, node.upos, node.feats,
                  0 if parents[id(node)] is None else index[id(parents[id(node)])], node.deprel, node.ner,
                  node.concept)
            for i, node in enumerate(order))
        return Sentence(tokens, text, offsets, spans)
