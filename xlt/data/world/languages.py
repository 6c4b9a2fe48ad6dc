"""The world's languages: the design table (families, parameters, roles) and their lexicons.

The table is fixed by design (rationale in :mod:`xlt.data.world`); the seed draws only what a
real language's history would make arbitrary: the families' proto-forms and each language's
sound changes, hence every surface form.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

import numpy as np

from xlt.data.world.concepts import (
    DIGITS,
    FIRST_NAMES,
    FUNCTION_WORDS,
    LAST_NAMES,
    NOUNS,
    ORG_NAMES,
    PLACE_NAMES,
    content_concepts,
)
from xlt.data.world.params import Syntax
from xlt.data.world.phonology import (
    PROTO_PHONOLOGIES,
    SoundChange,
    SoundSystem,
    Word,
    apply_changes,
    spell,
)
from xlt.data.world.typology import typology_vector

MMT_ROLES = ("high", "low", "unseen")  # pretraining corpus of the tiny multilingual encoder
NMT_ROLES = ("supported", "unsupported")  # covered by the tiny translation model's training pairs
TASK_ROLES = ("source", "target")  # task training data (sources) or only few-shot and test data


def rng_for(seed: int, *purpose: object) -> random.Random:
    """An independent random stream per purpose (adding a language or a task leaves the others'
    streams, hence their data, unchanged)."""
    digest = hashlib.sha256(":".join(map(str, (seed, *purpose))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Family:
    name: str
    syntax: Syntax
    phonology: str  # key of PROTO_PHONOLOGIES


FAMILIES: dict[str, Family] = {
    # Head-initial clause, mixed nominal order, as English or the Romance languages: SVO with
    # prepositions (Greenberg's universal 4's partner: VO -> prepositions), adjective before the
    # noun, "of"-possessor after it, plural suffix, no case.
    "medial": Family("medial", Syntax(order="SVO", adposition="pre", adjective="before", possessor="after",
                                      determiner="before", numeral="before", negation="before", plural="suffix",
                                      case="none"), "medial"),
    # Consistently head-final, as Turkish, Japanese, Quechua: SOV with postpositions (universal 4),
    # adjective and possessor before the noun, negation after the verb, accusative case suffix.
    "final": Family("final", Syntax(order="SOV", adposition="post", adjective="before", possessor="before",
                                    determiner="before", numeral="before", negation="after", plural="suffix",
                                    case="accusative"), "final"),
    # Verb-initial, as Welsh, Classical Arabic, many Austronesian languages: VSO with prepositions
    # (universal 3), adjective and possessor after the noun, plural prefix.
    "initial": Family("initial", Syntax(order="VSO", adposition="pre", adjective="after", possessor="after",
                                        determiner="before", numeral="before", negation="before", plural="prefix",
                                        case="none"), "initial"),
    # A language isolate shaped like Thai or Yoruba: SVO, prepositions, every nominal modifier after
    # the noun, no inflection.
    "lone": Family("lone", Syntax(order="SVO", adposition="pre", adjective="after", possessor="after",
                                  determiner="after", numeral="after", negation="before", plural="none",
                                  case="none"), "lone"),
}


@dataclass(frozen=True)
class LanguageDesign:
    code: str  # ISO 639-3 local-use range qaa-qtz (never assigned to a real language)
    name: str
    family: str
    deviations: tuple[tuple[str, str], ...]  # syntax parameters where it departs from its family
    changes: int  # how many sound changes separate it from its family's proto-language
    mmt: str
    nmt: str
    task: str

    @property
    def syntax(self) -> Syntax:
        return FAMILIES[self.family].syntax.replace(**dict(self.deviations))


def _design(code: str, name: str, family: str, changes: int, mmt: str, nmt: str, task: str,
            **deviations: str) -> LanguageDesign:
    return LanguageDesign(code, name, family, tuple(sorted(deviations.items())), changes, mmt, nmt, task)


# One high-resource seen language per word-order type (the prototype found transfer to an unseen
# language only where a seen language shares its word order), a low-resource seen sibling, an
# unseen sibling the translation model supports, and an unseen, more distant relative it does not
# (which also departs from its family in one minor parameter, as related languages do), plus an
# unseen, unsupported isolate.
LANGUAGES: tuple[LanguageDesign, ...] = (
    _design("qma", "Mareni", "medial", 1, "high", "supported", "source"),
    _design("qmb", "Mollan", "medial", 2, "low", "supported", "target"),
    _design("qmc", "Merrow", "medial", 2, "unseen", "supported", "target"),
    _design("qmd", "Mirdal", "medial", 4, "unseen", "unsupported", "target", adjective="after"),
    _design("qfa", "Fenuk", "final", 1, "high", "supported", "source"),
    _design("qfb", "Fashi", "final", 2, "low", "supported", "target"),
    _design("qfc", "Folu", "final", 2, "unseen", "supported", "target"),
    _design("qfd", "Fundo", "final", 4, "unseen", "unsupported", "target", case="none"),
    _design("qia", "Ilqar", "initial", 1, "high", "supported", "source"),
    _design("qib", "Ishaq", "initial", 2, "low", "supported", "target"),
    _design("qic", "Iwuti", "initial", 2, "unseen", "supported", "target"),
    _design("qid", "Ixal", "initial", 4, "unseen", "unsupported", "target", determiner="after"),
    _design("qla", "Lonu", "lone", 0, "unseen", "unsupported", "target"),
)
PIVOT = "qma"  # the "English": primary task source, and the other side of every parallel corpus
DESIGN_BY_CODE = {d.code: d for d in LANGUAGES}

RESERVED_FORMS = frozenset([n.lower() for n in FIRST_NAMES + LAST_NAMES + PLACE_NAMES + ORG_NAMES] + list(DIGITS))


@dataclass
class Lexicon:
    """A language's word forms: one stem per concept, its plural and accusative affixes; every
    surface form it can produce has exactly one analysis (:meth:`analyses`)."""

    syntax: Syntax
    stems: dict[str, str]  # concept -> citation form
    plural_affix: str
    accusative_suffix: str
    upos: dict[str, str] = field(default_factory=dict)  # concept -> UPOS

    def word(self, concept: str) -> str:
        return self.stems[concept]

    def noun(self, concept: str, plural: bool, accusative: bool) -> str:
        form = self.stems[concept]
        if plural and self.syntax.plural == "suffix":
            form += self.plural_affix
        elif plural and self.syntax.plural == "prefix":
            form = self.plural_affix + form
        if accusative and self.syntax.case == "accusative":
            form += self.accusative_suffix
        return form

    def noun_feats(self, plural: bool, accusative: bool) -> str:
        feats = []
        if accusative and self.syntax.case == "accusative":
            feats.append("Case=Acc")
        if plural and self.syntax.plural != "none":
            feats.append("Number=Plur")
        return "|".join(feats) or "_"

    def analyses(self) -> list[tuple[str, str, str, str, str]]:
        """(form, lemma, concept, UPOS, FEATS) of every lower-case surface form."""
        rows = []
        for concept, stem in self.stems.items():
            upos = self.upos[concept]
            if upos == "NOUN":
                for plural in (False, True):
                    for accusative in (False, True):
                        if (plural and self.syntax.plural == "none") or (accusative and self.syntax.case == "none"):
                            continue
                        rows.append((self.noun(concept, plural, accusative), stem, concept, upos,
                                     self.noun_feats(plural, accusative)))
            else:
                feats = FUNCTION_WORDS[concept][1] if concept in FUNCTION_WORDS else "_"
                rows.append((stem, stem, concept, upos, feats))
        return rows


@dataclass
class Language:
    design: LanguageDesign
    lexicon: Lexicon
    changes: tuple[SoundChange, ...]
    sounds: SoundSystem
    vector: np.ndarray

    @property
    def code(self) -> str:
        return self.design.code

    @property
    def syntax(self) -> Syntax:
        return self.design.syntax


def _proto_lexicon(seed: int, family: str, redraw: dict[str, int]) -> tuple[dict[str, Word], Word, Word]:
    """The family's proto-form of every concept (a concept in ``redraw`` drawn again that many
    times, to undo a homophony in a daughter) and its plural and accusative affixes."""
    phonology = PROTO_PHONOLOGIES[family]
    forms: dict[str, Word] = {}
    for concept, upos in content_concepts():
        rng = rng_for(seed, "proto", family, concept)
        draw = phonology.content_word if upos in ("NOUN", "VERB", "ADJ") else phonology.function_word
        for _ in range(redraw.get(concept, 0) + 1):
            form = draw(rng)
        forms[concept] = form
    affixes = []
    for name in ("#plural", "#accusative"):
        rng = rng_for(seed, "proto", family, name)
        for _ in range(redraw.get(name, 0) + 1):
            form = phonology.affix(rng)
        affixes.append(form)
    return forms, affixes[0], affixes[1]


def _daughter(design: LanguageDesign, changes: tuple[SoundChange, ...], proto: dict[str, Word], plural: Word,
              accusative: Word) -> tuple[Lexicon, list[Word]]:
    words = {concept: apply_changes(form, changes) for concept, form in proto.items()}
    plural_form = apply_changes(plural, changes, affix=True)
    accusative_form = apply_changes(accusative, changes, affix=True)
    lexicon = Lexicon(design.syntax, {c: spell(w) for c, w in words.items()}, spell(plural_form),
                      spell(accusative_form), dict(content_concepts()))
    used = list(words.values())
    if design.syntax.plural != "none":
        used.append(plural_form)
    if design.syntax.case != "none":
        used.append(accusative_form)
    return lexicon, used


def homophones(lexicon: Lexicon) -> set[str]:
    """Concepts whose forms collide with another analysis or with a name or digit (``#accusative``:
    two forms of one noun collide, so the affixes must be drawn again)."""
    owner: dict[str, tuple[str, str]] = {}
    clashes: set[str] = set()
    for form, _, concept, _, feats in lexicon.analyses():
        if form in RESERVED_FORMS:
            clashes.add(concept)
        elif form in owner and owner[form] != (concept, feats):
            other = owner[form][0]
            clashes.update({concept, other} if other != concept else {"#accusative"})
        else:
            owner[form] = (concept, feats)
    return clashes


def build_languages(seed: int) -> dict[str, Language]:
    """Every language of the design table, its lexicon drawn from ``seed``. Proto-forms that a
    daughter's sound changes would merge with another word are redrawn (for the whole family) until
    every language's forms are unambiguous."""
    languages: dict[str, Language] = {}
    for family in FAMILIES:
        members = [d for d in LANGUAGES if d.family == family]
        menu = PROTO_PHONOLOGIES[family].changes
        changes = {d.code: tuple(rng_for(seed, "sound-changes", d.code).sample(menu, d.changes)) for d in members}
        redraw: dict[str, int] = {}
        for _ in range(200):
            proto, plural, accusative = _proto_lexicon(seed, family, redraw)
            built = {d.code: _daughter(d, changes[d.code], proto, plural, accusative) for d in members}
            clashes = set().union(*(homophones(lexicon) for lexicon, _ in built.values()))
            if not clashes:
                break
            for concept in sorted(clashes):
                redraw[concept] = redraw.get(concept, 0) + 1
        else:
            raise RuntimeError(f"family {family}: could not draw an unambiguous lexicon (seed {seed})")
        for d in members:
            lexicon, words = built[d.code]
            sounds = SoundSystem.of(words)
            languages[d.code] = Language(d, lexicon, changes[d.code], sounds, typology_vector(d.syntax, sounds))
    return {d.code: languages[d.code] for d in LANGUAGES}


def noun_class(concept: str) -> str:
    return next(n.cls for n in NOUNS if n.id == concept)
