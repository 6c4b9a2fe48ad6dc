"""Bundled sample data: small synthetic languages written in the real datasets' file formats.

No real dataset can be shipped or downloaded here, so the offline smoke runs and the tests
read files that this module generates (deterministically) into ``xlt/data/samples``. Every
language is rendered from one shared "scene" grammar: English uses English words, every other
language code gets its own word forms (derived from shared proto-roots by per-language sound
changes, so related subwords exist across languages, as in real cross-lingual transfer), its
own word order and adjective position. The same scene can therefore be expressed in every
language, which gives NLI pairs, plain-text corpora and (for other tasks) trees and spans
with consistent labels. The files use the real formats (MultiNLI JSONL, AmericasNLI TSV,
plain text), so exactly the same readers run on them as on the real data, quirks included: some
files start with a UTF-8 byte-order mark, some have CRLF line endings, and MasakhaNER samples have
the empty-token lines of MasakhaNER 2.0 (the language corpora stay plain, as the tiny models'
tokenizers are trained on them).

Regenerate with ``python -m xlt.data.synthetic`` (a test checks the committed files match).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xlt.paths import SAMPLES_DIR

NLI_LABELS = ("entailment", "neutral", "contradiction")

# ---------------------------------------------------------------------------- the lexicon
# concept -> English word. Antonym pairs drive contradictions.
NOUNS_ANIMATE = ["dog", "cat", "farmer", "child", "teacher", "bird", "horse", "woman", "man", "doctor",
                 "fisher", "singer"]
NOUNS_OBJECT = ["ball", "book", "house", "boat", "tree", "river", "bread", "stone", "road", "song",
                "letter", "basket", "field", "fire"]
VERBS = [("sees", "ignores"), ("likes", "hates"), ("builds", "breaks"), ("finds", "loses"),
         ("carries", "drops"), ("opens", "closes"), ("buys", "sells"), ("follows", "leads")]
ADJECTIVES = [("big", "small"), ("old", "young"), ("red", "green"), ("happy", "sad"),
              ("fast", "slow"), ("warm", "cold")]
PLACES = ["market", "village", "forest", "school", "mountain", "lake"]
DETERMINERS = ["the", "a"]
PREPOSITION = "near"
NEGATION = "not"

PROTO_SYLLABLES = ["ka", "ti", "mo", "ra", "nu", "se", "pa", "li", "do", "wa", "ke", "su", "ma", "ri",
                   "to", "na", "be", "lo", "gi", "ha"]
CONSONANTS = list("ptkbdgmnslrwhjfvcxqz")
VOWELS = list("aeiou")
WORD_ORDERS = ("SVO", "SOV", "VSO")


def _seed(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _all_concepts() -> list[str]:
    words = list(NOUNS_ANIMATE) + list(NOUNS_OBJECT) + list(PLACES) + list(DETERMINERS)
    words += [w for pair in VERBS for w in pair] + [w for pair in ADJECTIVES for w in pair]
    return words + [PREPOSITION, NEGATION]


def _proto_root(concept: str) -> str:
    rng = random.Random(_seed("proto", concept))
    return "".join(rng.choice(PROTO_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3))))


@dataclass
class Language:
    """A synthetic language: word forms, word order and adjective placement."""

    code: str
    words: dict[str, str] = field(default_factory=dict)
    order: str = "SVO"
    adjective_first: bool = True

    @classmethod
    def make(cls, code: str) -> Language:
        if code == "en":
            return cls(code, {c: c for c in _all_concepts()}, "SVO", True)
        rng = random.Random(_seed("language", code))
        # sound changes: each language rewrites a few consonants and vowels of the proto-roots
        changes = {c: rng.choice(CONSONANTS) for c in rng.sample(CONSONANTS, 5)}
        changes.update({v: rng.choice(VOWELS) for v in rng.sample(VOWELS, 2)})
        suffix = rng.choice(["", "", "n", "k", "a", "i", "th"])
        words: dict[str, str] = {}
        for concept in _all_concepts():
            root = "".join(changes.get(ch, ch) for ch in _proto_root(concept))
            form = root + suffix
            while form in words.values():  # keep forms unambiguous within a language
                form += rng.choice(VOWELS)
            words[concept] = form
        return cls(code, words, rng.choice(WORD_ORDERS), rng.random() < 0.5)


# ---------------------------------------------------------------------------- scenes
@dataclass
class Scene:
    subject: str
    verb: str
    obj: str
    subject_adj: str | None = None
    object_adj: str | None = None
    place: str | None = None
    negated: bool = False

    @classmethod
    def random(cls, rng: random.Random) -> Scene:
        return cls(
            subject=rng.choice(NOUNS_ANIMATE),
            verb=rng.choice(VERBS)[0] if rng.random() < 0.5 else rng.choice(VERBS)[1],
            obj=rng.choice(NOUNS_OBJECT + NOUNS_ANIMATE),
            subject_adj=_random_adjective(rng) if rng.random() < 0.6 else None,
            object_adj=_random_adjective(rng) if rng.random() < 0.6 else None,
            place=rng.choice(PLACES) if rng.random() < 0.4 else None,
        )


def _random_adjective(rng: random.Random) -> str:
    pair = rng.choice(ADJECTIVES)
    return pair[rng.random() < 0.5]


def _antonym(word: str, pairs: list[tuple[str, str]]) -> str:
    for a, b in pairs:
        if word == a:
            return b
        if word == b:
            return a
    raise KeyError(word)


def render(scene: Scene, language: Language, rng: random.Random) -> str:
    """The sentence for ``scene`` in ``language`` (words, order and adjective placement)."""
    w = language.words

    def noun_phrase(noun: str, adjective: str | None) -> list[str]:
        phrase = [w[rng.choice(DETERMINERS)]]
        if adjective and language.adjective_first:
            phrase.append(w[adjective])
        phrase.append(w[noun])
        if adjective and not language.adjective_first:
            phrase.append(w[adjective])
        return phrase

    subject = noun_phrase(scene.subject, scene.subject_adj)
    obj = noun_phrase(scene.obj, scene.object_adj)
    verb = ([w[NEGATION]] if scene.negated else []) + [w[scene.verb]]
    parts = {"S": subject, "V": verb, "O": obj}
    tokens = [tok for slot in language.order for tok in parts[slot]]
    if scene.place:
        tokens += [w[PREPOSITION], w["the"], w[scene.place]]
    sentence = " ".join(tokens)
    return sentence[0].upper() + sentence[1:] + " ."


def nli_pair(rng: random.Random, label: str) -> tuple[Scene, Scene]:
    """A premise scene and a hypothesis scene standing in relation ``label``."""
    premise = Scene.random(rng)
    hypothesis = Scene(**vars(premise))
    if label == "entailment":  # hypothesis is less specific
        options = [a for a in ("subject_adj", "object_adj", "place") if getattr(premise, a)]
        for attribute in rng.sample(options, k=min(len(options), rng.choice((1, 2)))) if options else []:
            setattr(hypothesis, attribute, None)
    elif label == "contradiction":  # an antonym verb, an antonym adjective or a negation
        choice = rng.choice(["verb", "adjective", "negation"])
        adjectives = [a for a in ("subject_adj", "object_adj") if getattr(premise, a)]
        if choice == "adjective" and adjectives:
            attribute = rng.choice(adjectives)
            setattr(hypothesis, attribute, _antonym(getattr(premise, attribute), ADJECTIVES))
        elif choice == "negation":
            hypothesis.negated = True
        else:
            hypothesis.verb = _antonym(premise.verb, VERBS)
    else:  # neutral: hypothesis adds information the premise lacks
        premise.subject_adj = premise.subject_adj if rng.random() < 0.5 else None
        missing = [a for a in ("subject_adj", "object_adj", "place") if getattr(premise, a) is None]
        if not missing:
            premise.place = None
            missing = ["place"]
        attribute = rng.choice(missing)
        hypothesis = Scene(**vars(premise))
        setattr(hypothesis, attribute, rng.choice(PLACES) if attribute == "place" else _random_adjective(rng))
    return premise, hypothesis


# ---------------------------------------------------------------------------- writers
def write_corpus(out: Path, code: str, lines: int, seed: int = 0) -> None:
    language = Language.make(code)
    rng = random.Random(_seed("corpus", code, seed))
    text = "\n".join(render(Scene.random(rng), language, rng) for _ in range(lines))
    _write(out / "corpora" / f"{code}.txt", text + "\n")


def nli_examples(code: str, n: int, split: str) -> list[tuple[str, str, str]]:
    language = Language.make(code)
    rng = random.Random(_seed("nli", code, split))
    examples = []
    for i in range(n):
        label = NLI_LABELS[i % 3]
        premise, hypothesis = nli_pair(rng, label)
        examples.append((render(premise, language, rng), render(hypothesis, language, rng), label))
    rng.shuffle(examples)
    return examples


def write_multinli(out: Path, n_train: int, n_dev: int) -> None:
    """MultiNLI 1.0 JSONL (``multinli_1.0_{train,dev_matched}.jsonl``), with a few
    examples lacking a gold label (``"-"``) as in the real files."""
    for split, n, name in (("train", n_train, "train"), ("dev", n_dev, "dev_matched")):
        rows = []
        for i, (premise, hypothesis, label) in enumerate(nli_examples("en", n, split)):
            gold = "-" if i % 97 == 96 else label
            rows.append({
                "annotator_labels": [label] * (1 if split == "train" else 5),
                "genre": ["fiction", "government", "slate", "telephone", "travel"][i % 5],
                "gold_label": gold, "pairID": f"{i}{'e' if split == 'train' else 'n'}",
                "promptID": str(i), "sentence1": premise,
                "sentence1_binary_parse": _binary_parse(premise), "sentence1_parse": _parse(premise),
                "sentence2": hypothesis,
                "sentence2_binary_parse": _binary_parse(hypothesis), "sentence2_parse": _parse(hypothesis),
            })
        _write(out / "multinli" / f"multinli_1.0_{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def _binary_parse(sentence: str) -> str:
    return "( " + " ".join(sentence.split()) + " )"


def _parse(sentence: str) -> str:
    return "(ROOT (S " + " ".join(f"(X {tok})" for tok in sentence.split()) + "))"


def write_americasnli(out: Path, languages: list[str], n_dev: int, n_test: int) -> None:
    """AmericasNLI ``dev.tsv`` / ``test.tsv``: header ``language premise hypothesis label``. The test
    file starts with a byte-order mark and the dev file has CRLF line endings (real-file quirks: the
    first column must still be ``language``, which the targets' ``filter`` reads)."""
    for split, n in (("dev", n_dev), ("test", n_test)):
        lines = ["language\tpremise\thypothesis\tlabel"]
        for code in languages:
            lines += [f"{code}\t{p}\t{h}\t{label}" for p, h, label in nli_examples(code, n, split)]
        _write(out / "americasnli" / f"{split}.tsv", "\n".join(lines) + "\n", bom=split == "test", crlf=split == "dev")


def _write(path: Path, text: str, bom: bool = False, crlf: bool = False) -> None:
    """Write ``text`` as UTF-8; ``bom``/``crlf`` give it a byte-order mark / CRLF line endings, as
    some published files have (so the readers are tested on them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))


AMERICASNLI_LANGUAGES = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]

SAMPLE_SETS: dict[str, Callable[[Path], None]] = {
    "americasnli": lambda out: (
        write_multinli(out, n_train=600, n_dev=90),
        write_americasnli(out, AMERICASNLI_LANGUAGES, n_dev=30, n_test=60),
        [write_corpus(out, code, lines=400) for code in ["en", *AMERICASNLI_LANGUAGES]],
    ),
}
"""Each entry writes one group of sample files. Task areas with larger generators keep them in
their own module (listed in SAMPLE_SET_MODULES) and register entries here on import."""

SAMPLE_SET_MODULES: tuple[str, ...] = (
    "xlt.data.synthetic_tasks",
    "xlt.data.synthetic_madg",
    "xlt.data.synthetic_instruction",
    "xlt.data.synthetic_holistic",
)


def load_sample_sets() -> dict[str, Callable[[Path], None]]:
    # the registry of the importable module (under ``python -m`` this file also runs as __main__,
    # whose SAMPLE_SETS the task modules never see)
    registry = importlib.import_module("xlt.data.synthetic").SAMPLE_SETS
    for module in SAMPLE_SET_MODULES:
        importlib.import_module(module)
    return registry


def generate(out: Path = SAMPLES_DIR, sets: list[str] | None = None) -> None:
    sample_sets = load_sample_sets()
    for name in sets or list(sample_sets):
        sample_sets[name](out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    parser.add_argument("--set", action="append", choices=sorted(load_sample_sets()))
    args = parser.parse_args()
    generate(args.out, args.set)
    print(f"wrote samples to {args.out}")


if __name__ == "__main__":
    main()
