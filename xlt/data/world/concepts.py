"""The world's shared concept inventory: what every language can say (module docstring of
:mod:`xlt.data.world` for the rationale).

Concepts are language-neutral ids (English glosses for content words, upper case for function
words). Every concept carries what the grammar and the task labels need: a part of speech, a
semantic class (nouns: ``person``, ``animal``, ``thing``, ``place``, ``org``; the entity-type
classes of the NER and QA tasks), a sentiment polarity (-1, 0, +1: sentiment analysis) and an
antonym (NLI contradictions). The lists are ordered by frequency rank: a concept has the same Zipf
rank in every language (as translation equivalents roughly do), so resource size, not word
frequency, is what separates high- from low-resource languages.

Names (person first and last names, place and organisation names), digits and punctuation are
spelled identically in every language: the anchors that real unrelated languages share.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

NOUN_CLASSES = ("person", "animal", "thing", "place", "org")
ANIMATE = frozenset({"person", "animal"})
AGENTS = frozenset({"person", "animal", "org"})
HUMAN = frozenset({"person", "org"})
ANY = frozenset({"person", "animal", "thing", "place", "org"})
OBJECTS = frozenset({"person", "animal", "thing", "org"})


@dataclass(frozen=True)
class Noun:
    id: str
    cls: str  # one of NOUN_CLASSES


@dataclass(frozen=True)
class Verb:
    id: str
    transitive: bool
    polarity: int  # -1, 0, +1
    antonym: str | None
    subjects: frozenset[str]  # noun classes that can be the subject
    objects: frozenset[str] = frozenset()  # ... the object (transitive verbs)


@dataclass(frozen=True)
class Adjective:
    id: str
    polarity: int
    antonym: str | None
    classes: frozenset[str]  # noun classes it can modify


@dataclass(frozen=True)
class Adposition:
    id: str
    role: str  # locative | comitative | source | goal | possessive
    classes: frozenset[str]  # classes of its nominal


def _nouns(cls: str, ids: str) -> list[Noun]:
    return [Noun(i, cls) for i in ids.split()]


# Most frequent first within each class; the classes are interleaved by the sampler's class choice.
NOUNS: tuple[Noun, ...] = tuple(
    _nouns("person", "man woman child teacher friend doctor farmer mother father student king singer soldier "
                     "baker driver nurse hunter judge fisher queen")
    + _nouns("animal", "dog cat bird horse cow fish goat sheep chicken mouse snake lion")
    + _nouns("thing", "house book letter car door table bread ball boat tree stone cup bag key gift knife "
                      "basket shoe lamp box coat hat chair drum rope pot net ring song phone")
    + _nouns("place", "city village school market river field forest road garden mountain lake church")
    + _nouns("org", "company bank council team club union"))


def _verb(id: str, polarity: int, antonym: str | None, subjects: Set[str], objects: Set[str] | None = None) -> Verb:
    return Verb(id, objects is not None, polarity, antonym, frozenset(subjects), frozenset(objects or ()))


# Antonym pairs share their frames, so swapping a verb for its antonym keeps the sentence well-formed.
VERBS: tuple[Verb, ...] = (
    _verb("see", 0, None, ANIMATE, ANY),
    _verb("like", 1, "hate", AGENTS, ANY),
    _verb("hate", -1, "like", AGENTS, ANY),
    _verb("help", 1, "hurt", AGENTS, ANIMATE | {"org"}),
    _verb("hurt", -1, "help", AGENTS, ANIMATE | {"org"}),
    _verb("find", 0, "lose", ANIMATE, OBJECTS - {"org"}),
    _verb("lose", -1, "find", ANIMATE, OBJECTS - {"org"}),
    _verb("buy", 0, "sell", HUMAN, {"thing", "animal"}),
    _verb("sell", 0, "buy", HUMAN, {"thing", "animal"}),
    _verb("praise", 1, "insult", HUMAN, HUMAN),
    _verb("insult", -1, "praise", HUMAN, HUMAN),
    _verb("build", 1, "destroy", HUMAN, {"thing", "place"}),
    _verb("destroy", -1, "build", HUMAN, {"thing", "place"}),
    _verb("open", 0, "close", {"person"}, {"thing"}),
    _verb("close", 0, "open", {"person"}, {"thing"}),
    _verb("carry", 0, None, ANIMATE, {"thing", "animal"}),
    _verb("follow", 0, None, AGENTS, ANIMATE),
    _verb("visit", 0, None, HUMAN, {"person", "place", "org"}),
    _verb("thank", 1, "blame", HUMAN, HUMAN),
    _verb("blame", -1, "thank", HUMAN, HUMAN),
    _verb("call", 0, None, HUMAN, ANIMATE | {"org"}),
    _verb("fix", 1, "break", {"person"}, {"thing"}),
    _verb("break", -1, "fix", {"person"}, {"thing"}),
    _verb("teach", 1, None, {"person"}, {"person"}),
    _verb("feed", 1, None, {"person"}, ANIMATE),
    _verb("sleep", 0, "wake", ANIMATE),
    _verb("wake", 0, "sleep", ANIMATE),
    _verb("laugh", 1, "cry", {"person"}),
    _verb("cry", -1, "laugh", {"person"}),
    _verb("arrive", 0, "leave", AGENTS),
    _verb("leave", 0, "arrive", AGENTS),
    _verb("win", 1, "fail", HUMAN),
    _verb("fail", -1, "win", HUMAN),
    _verb("work", 0, None, HUMAN),
    _verb("sing", 1, None, {"person", "animal"}),
    _verb("wait", 0, None, ANIMATE),
    _verb("fall", -1, None, ANIMATE | {"thing"}),
)

PERSONAL = frozenset({"person", "animal"})
PHYSICAL = frozenset({"thing", "animal", "place"})
_ALL_ADJ = frozenset({"person", "animal", "thing", "place", "org"})
def _adjective(id: str, polarity: int, antonym: str | None, classes: Set[str]) -> Adjective:
    return Adjective(id, polarity, antonym, frozenset(classes))


ADJECTIVES: tuple[Adjective, ...] = (
    _adjective("good", 1, "bad", _ALL_ADJ),
    _adjective("bad", -1, "good", _ALL_ADJ),
    _adjective("big", 0, "small", _ALL_ADJ),
    _adjective("small", 0, "big", _ALL_ADJ),
    _adjective("old", 0, "young", PERSONAL),
    _adjective("young", 0, "old", PERSONAL),
    _adjective("beautiful", 1, "ugly", _ALL_ADJ - {"org"}),
    _adjective("ugly", -1, "beautiful", _ALL_ADJ - {"org"}),
    _adjective("happy", 1, "sad", PERSONAL),
    _adjective("sad", -1, "happy", PERSONAL),
    _adjective("kind", 1, "cruel", PERSONAL | {"org"}),
    _adjective("cruel", -1, "kind", PERSONAL | {"org"}),
    _adjective("long", 0, "short", {"thing", "place", "animal"}),
    _adjective("short", 0, "long", {"thing", "place", "animal"}),
    _adjective("hot", 0, "cold", PHYSICAL),
    _adjective("cold", 0, "hot", PHYSICAL),
    _adjective("clever", 1, "stupid", PERSONAL),
    _adjective("stupid", -1, "clever", PERSONAL),
    _adjective("clean", 1, "dirty", PHYSICAL),
    _adjective("dirty", -1, "clean", PHYSICAL),
    _adjective("honest", 1, "corrupt", {"person", "org"}),
    _adjective("corrupt", -1, "honest", {"person", "org"}),
    _adjective("fast", 0, "slow", {"animal", "thing", "person"}),
    _adjective("slow", 0, "fast", {"animal", "thing", "person"}),
    _adjective("heavy", 0, "light", {"thing", "animal"}),
    _adjective("light", 0, "heavy", {"thing", "animal"}),
    _adjective("red", 0, None, {"thing", "animal"}),
    _adjective("white", 0, None, {"thing", "animal", "place"}),
    _adjective("black", 0, None, {"thing", "animal"}),
    _adjective("green", 0, None, {"thing", "place"}),
)

ADPOSITIONS: tuple[Adposition, ...] = (
    Adposition("in", "locative", frozenset({"place"})),
    Adposition("near", "locative", frozenset({"place", "thing"})),
    Adposition("with", "comitative", frozenset({"person", "animal"})),
    Adposition("from", "source", frozenset({"place"})),
    Adposition("to", "goal", frozenset({"place"})),
    Adposition("of", "possessive", frozenset({"person", "org"})),
)
LOCATIVE = ("in", "near")  # the obliques a "where" question can ask about

# Function words: concept -> (UPOS, CoNLL-U FEATS)
DETERMINERS = {"DEF": "Definite=Def|PronType=Art", "INDEF": "Definite=Ind|PronType=Art", "DEM": "PronType=Dem"}
NEGATION = "NEG"
QUESTION_WORDS = {"WHO": "PRON", "WHAT": "PRON", "WHERE": "ADV"}
FUNCTION_WORDS: dict[str, tuple[str, str]] = {
    **{d: ("DET", feats) for d, feats in DETERMINERS.items()},
    NEGATION: ("PART", "Polarity=Neg"),
    **{w: (upos, "PronType=Int") for w, upos in QUESTION_WORDS.items()},
    **{a.id: ("ADP", "_") for a in ADPOSITIONS},
}

# Names: spelled the same in every language (anchors). First names start a person entity, last
# names only continue one, so entity boundaries are recoverable from the words alone (IOB2).
FIRST_NAMES = ("Amara", "Kofi", "Lina", "Tomas", "Juma", "Sela", "Nadia", "Oren", "Wanjiru", "Ilse", "Baraka",
               "Mira", "Ravi", "Elena", "Hugo", "Yuki")
LAST_NAMES = ("Okafor", "Berg", "Mwangi", "Castell", "Diallo", "Novak", "Haddad", "Tanaka", "Silva", "Kowal")
PLACE_NAMES = ("Kisumu", "Velmor", "Rukan", "Dessa", "Orlun", "Mbeya", "Kaldor", "Tessin", "Lumora", "Zarit",
               "Pemba", "Nordal")
ORG_NAMES = ("Kona", "Zenith", "Umoja", "Baltic", "Sahel", "Nova", "Orion", "Tembo")
NAME_TYPES = {"first": "PER", "last": "PER", "place": "LOC", "org": "ORG"}
NAME_LISTS = {"first": FIRST_NAMES, "last": LAST_NAMES, "place": PLACE_NAMES, "org": ORG_NAMES}


def names(kind: str, part: str = "all") -> tuple[str, ...]:
    """The names of ``kind`` that task data of ``part`` use: ``eval`` (dev and test sets) every third
    name, ``train`` (task training sets) the others, ``all`` (corpora, parallel text) every one. Test
    entities are thus unseen in task training, as MasakhaNER's are in CoNLL-2003's, while the
    pretraining corpora know every name."""
    every = NAME_LISTS[kind]
    if part == "all":
        return every
    return tuple(name for i, name in enumerate(every) if (i % 3 == 2) == (part == "eval"))
DIGITS = tuple(str(n) for n in range(2, 13))  # cardinal numerals >= 2 (the noun is plural)

NOUN_BY_ID = {n.id: n for n in NOUNS}
VERB_BY_ID = {v.id: v for v in VERBS}
ADJECTIVE_BY_ID = {a.id: a for a in ADJECTIVES}
ADPOSITION_BY_ID = {a.id: a for a in ADPOSITIONS}


def content_concepts() -> list[tuple[str, str]]:
    """(concept, UPOS) of every word that each language spells with its own forms, in a fixed order."""
    return ([(n.id, "NOUN") for n in NOUNS] + [(v.id, "VERB") for v in VERBS] + [(a.id, "ADJ") for a in ADJECTIVES]
            + [(c, upos) for c, (upos, _) in FUNCTION_WORDS.items()])


def concept_table() -> dict[str, dict[str, object]]:
    """The inventory as JSON (world.json's ``concepts``): what a label checker needs besides the words."""
    table: dict[str, dict[str, object]] = {}
    for n in NOUNS:
        table[n.id] = {"upos": "NOUN", "class": n.cls, "polarity": 0}
    for v in VERBS:
        table[v.id] = {"upos": "VERB", "transitive": v.transitive, "polarity": v.polarity, "antonym": v.antonym}
    for a in ADJECTIVES:
        table[a.id] = {"upos": "ADJ", "polarity": a.polarity, "antonym": a.antonym}
    for c, (upos, _) in FUNCTION_WORDS.items():
        table[c] = {"upos": upos, "polarity": 0}
    return table


def _check_inventory() -> None:
    ids = [c for c, _ in content_concepts()]
    assert len(ids) == len(set(ids)), "concept ids must be unique"
    for pairs in (VERB_BY_ID, ADJECTIVE_BY_ID):
        for item in pairs.values():
            if item.antonym is not None:
                other = pairs[item.antonym]
                assert other.antonym == item.id, f"{item.id}: antonyms must be mutual"
    for v in VERBS:
        if v.antonym:
            other = VERB_BY_ID[v.antonym]
            assert (v.transitive, v.subjects, v.objects) == (other.transitive, other.subjects, other.objects), \
                f"{v.id}: antonym frames differ"
    for a in ADJECTIVES:
        if a.antonym:
            assert a.classes == ADJECTIVE_BY_ID[a.antonym].classes, f"{a.id}: antonym classes differ"


_check_inventory()
