"""The synthetic world (xlt.data.world, issue 15 items 1-2): well-formed trees, labels that follow
from their sentences, byte-identical output per seed, typology vectors that differ exactly where
the parameters do, files the real readers and task preprocessing accept, relatedness in the words.

The label checks below are an independent re-derivation from the written files alone (world.json's
parameters, concepts and names, the lexicon TSVs, the task files): they share no code with the
generator's label rules.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from xlt.data.readers import read_records
from xlt.data.world import LANGUAGES, Sizes, build_world, load_description, write_world
from xlt.data.world.__main__ import main as world_main
from xlt.data.world.params import CHOICES, Syntax
from xlt.data.world.phonology import SoundSystem
from xlt.data.world.typology import FEATURE_OWNERS, FEATURES, typology_vector
from xlt.errors import DataError

SIZES = Sizes(corpus_high=150, corpus_low=40, corpus_unseen=40, parallel_supported=30, parallel_unsupported=10,
              parallel_dev=8, parallel_test=8, train=60, dev=24, test=24)
TASK_FILES = {"ud": "conllu", "ner": "txt", "nli": "tsv", "sa": "csv", "qa": "json"}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "seed0"
    write_world(out, seed=0, sizes=SIZES)
    return out


@pytest.fixture(scope="module")
def world(world_dir) -> World:
    return World(world_dir)


# ---------------------------------------------------------------------------- the independent reader
class World:
    """What a checker knows: the files, nothing of the generator."""

    def __init__(self, root: Path):
        self.root = root
        self.meta = load_description(root)
        self.names = {kind: set(names) for kind, names in self.meta["names"].items()}
        self.concepts = self.meta["concepts"]
        self.lexicons: dict[str, dict[str, dict[str, str]]] = {}
        for code in self.meta["languages"]:
            with open(root / f"lexicon/{code}.tsv", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
            forms = {row["form"]: row for row in rows}
            assert len(forms) == len(rows), f"{code}: a form with two analyses"
            self.lexicons[code] = forms

    def codes(self) -> list[str]:
        return list(self.meta["languages"])

    def syntax(self, code: str) -> dict[str, str]:
        return self.meta["languages"][code]["syntax"]

    def splits(self, code: str) -> list[str]:
        return list(self.meta["languages"][code]["splits"]["ud"])

    def path(self, task: str, code: str, split: str) -> Path:
        return self.root / task / code / f"{split}.{TASK_FILES[task]}"

    def rows(self, task: str, code: str, split: str, fmt: str | None = None) -> list[dict]:
        return [row for _, row in read_records(self.path(task, code, split), fmt)]

    def word(self, code: str, concept: str) -> str:
        """A concept's citation form."""
        (form,) = [f for f, row in self.lexicons[code].items() if row["concept"] == concept and row["lemma"] == f]
        return form

    def analyse(self, code: str, word: str, previous: list[str]) -> dict[str, str]:
        """UPOS, lemma, feats and concept of a word in context (``previous``: the words before it)."""
        if word in (".", "?"):
            return {"upos": "PUNCT", "lemma": word, "feats": "_", "concept": "PUNCT"}
        if word.isdigit():
            return {"upos": "NUM", "lemma": word, "feats": "NumType=Card", "concept": "NUM"}
        if any(word in names for names in self.names.values()):
            return {"upos": "PROPN", "lemma": word, "feats": "_", "concept": "NAME"}
        row = self.lexicons[code][word.lower()]
        if previous and word[0].isupper() and previous[-1] in self.names["org"] \
                and self.concepts[row["concept"]].get("class") == "org":
            return {"upos": "PROPN", "lemma": row["lemma"], "feats": "_", "concept": row["concept"]}
        return row


def words(text: str) -> list[str]:
    """The words of a sentence or context (final punctuation split off)."""
    out = []
    for piece in text.split(" "):
        if piece[-1] in ".?" and len(piece) > 1:
            out += [piece[:-1], piece[-1]]
        else:
            out.append(piece)
    return out


# ---------------------------------------------------------------------------- trees (POS, DP)
DEPENDENTS = {  # deprel -> (dependent UPOS, head UPOS)
    "nsubj": ({"NOUN", "PROPN", "PRON"}, {"VERB"}), "obj": ({"NOUN", "PROPN", "PRON"}, {"VERB"}),
    "obl": ({"NOUN", "PROPN"}, {"VERB"}), "advmod": ({"PART", "ADV"}, {"VERB"}), "punct": ({"PUNCT"}, {"VERB"}),
    "det": ({"DET"}, {"NOUN"}), "amod": ({"ADJ"}, {"NOUN"}), "nummod": ({"NUM"}, {"NOUN"}),
    "nmod": ({"NOUN", "PROPN"}, {"NOUN"}), "case": ({"ADP"}, {"NOUN", "PROPN"}), "flat": ({"PROPN"}, {"PROPN"}),
}
SIDE_PARAMETER = {"det": "determiner", "amod": "adjective", "nummod": "numeral", "nmod": "possessor",
                  "case": "adposition"}


def check_tree(heads: list[int], where: str) -> None:
    n = len(heads)
    assert heads.count(0) == 1, f"{where}: {heads.count(0)} roots"
    assert all(0 <= h <= n for h in heads), f"{where}: head out of range"
    for i in range(1, n + 1):
        seen, node = set(), i
        while node != 0:
            assert node not in seen, f"{where}: cycle through word {i}"
            seen.add(node)
            node = heads[node - 1]
    for d, h in enumerate(heads, 1):  # projective: every word between a head and its dependent descends from the head
        for k in range(min(d, h) + 1, max(d, h)) if h else ():
            node = k
            while node not in (0, h):
                node = heads[node - 1]
            assert node == h, f"{where}: arc {h}->{d} is not projective (word {k})"


def check_order(syntax: dict[str, str], row: dict, where: str) -> None:
    heads, deprels, upos, feats = row["head"], row["deprel"], row["upos"], row["feats"]
    n = len(heads)
    assert deprels[-1] == "punct" and n > 2, where
    for d, (h, rel) in enumerate(zip(heads, deprels), 1):
        if h == 0:
            assert rel == "root" and upos[d - 1] == "VERB", where
            continue
        dependent, head = DEPENDENTS[rel]
        assert upos[d - 1] in dependent and upos[h - 1] in head, f"{where}: {rel} {upos[d - 1]} <- {upos[h - 1]}"
        before = d < h
        if rel == "nsubj":
            assert before == (syntax["order"] != "VSO"), f"{where}: subject side"
        elif rel in ("obj", "obl") or (rel == "advmod" and upos[d - 1] == "ADV"):
            assert before == (syntax["order"] == "SOV"), f"{where}: {rel} side"
        elif rel == "advmod":  # the negative particle, adjacent to the verb
            assert d == (h - 1 if syntax["negation"] == "before" else h + 1), f"{where}: negation position"
        elif rel in SIDE_PARAMETER:
            assert before == (syntax[SIDE_PARAMETER[rel]] in ("before", "pre")), f"{where}: {rel} side"
        elif rel == "flat":
            assert d > h
        accusative = "Case=Acc" in feats[d - 1]
        assert accusative == (rel == "obj" and upos[d - 1] == "NOUN" and syntax["case"] == "accusative"), \
            f"{where}: case marking"
    if syntax["order"] == "SOV":  # S X O V
        for o in (i for i, r in enumerate(deprels) if r == "obj"):
            assert all(i < o for i, r in enumerate(deprels) if r == "obl"), f"{where}: oblique after the object"


def test_trees_are_well_formed_and_realise_their_language(world):
    count = 0
    for code in world.codes():
        syntax = world.syntax(code)
        for split in world.splits(code):
            for row in world.rows("ud", code, split):
                where = f"{code}/{split}/{row['idx']}"
                check_tree(row["head"], where)
                check_order(syntax, row, where)
                for i, word in enumerate(row["tokens"]):
                    analysis = world.analyse(code, word, row["tokens"][:i])
                    assert (row["upos"][i], row["lemmas"][i], row["feats"][i]) == (
                        analysis["upos"], analysis["lemma"], analysis["feats"]), f"{where}: word {i + 1} {word!r}"
                assert row["text"] == " ".join(row["tokens"][:-1]) + row["tokens"][-1], where
                count += 1
    assert count == 3 * (SIZES.train + 2 * SIZES.dev) + 10 * 2 * SIZES.dev


# ---------------------------------------------------------------------------- NER
def entity_tags(world: World, code: str, tokens: list[str]) -> list[str]:
    tags: list[str] = []
    for i, word in enumerate(tokens):
        if word in world.names["first"]:
            tags.append("B-PER")
        elif word in world.names["last"]:
            assert tags and tags[-1][2:] == "PER", f"{code}: a last name without a first name: {tokens}"
            tags.append("I-PER")
        elif word in world.names["place"]:
            tags.append("B-LOC")
        elif word in world.names["org"]:
            tags.append("B-ORG")
        elif world.analyse(code, word, tokens[:i])["upos"] == "PROPN":  # an organisation's noun
            tags.append("I-ORG")
        else:
            tags.append("O")
    return tags


def test_ner_tags_follow_the_names(world):
    entities = Counter()
    names = {"train": set(), "eval": set()}
    for code in world.codes():
        for split in world.splits(code):
            for row in world.rows("ner", code, split, "conll"):
                assert row["ner_tags"] == entity_tags(world, code, row["tokens"]), f"{code}/{split}: {row['tokens']}"
                entities.update(t[2:] for t in row["ner_tags"] if t.startswith("B-"))
                names["train" if split == "train" else "eval"].update(
                    w for w, t in zip(row["tokens"], row["ner_tags"]) if t != "O" and w in set().union(
                        *world.names.values()))
    assert set(entities) == {"PER", "LOC", "ORG"}
    # test entities are unseen in task training (as MasakhaNER's are in CoNLL-2003), known from corpora
    assert names["eval"] and names["train"] and not names["eval"] & names["train"]
    assert names["eval"] <= set().union(*map(set, world.meta["evaluation_names"].values()))


# ---------------------------------------------------------------------------- NLI
def nli_label(world: World, code: str, premise: str, hypothesis: str) -> tuple[str, str]:
    """(label, why) from monotonicity (tasks module docstring), re-derived from the words."""
    p, h = words(premise)[:-1], words(hypothesis)[:-1]
    negation = world.word(code, "NEG")

    def upos(word: str) -> str:
        return world.analyse(code, word, [])["upos"]

    def concept(word: str) -> str:
        return world.lexicons[code][word.lower()]["concept"]

    def same(a: list[str], b: list[str]) -> bool:
        return [w.lower() for w in a] == [w.lower() for w in b]

    negated = any(w.lower() == negation for w in p)
    if negated != any(w.lower() == negation for w in h):
        assert same([w for w in p if w.lower() != negation], [w for w in h if w.lower() != negation]), \
            (premise, hypothesis)
        return "contradiction", "negation"
    if len(p) == len(h):
        diff = [(a, b) for a, b in zip(p, h) if a.lower() != b.lower()]
        assert len(diff) == 1 and not negated, (premise, hypothesis)
        [(a, b)] = diff
        assert upos(a) == upos(b) and world.concepts[concept(a)].get("antonym") == concept(b), (premise, hypothesis)
        return "contradiction", f"antonym {upos(a)}"

    def removed(longer: list[str], shorter: list[str]) -> list[str] | None:
        """The words of ``longer`` left over when ``shorter`` is one of its subsequences, else None."""
        rest, out = iter(shorter), []
        current = next(rest, None)
        for word in longer:
            if current is not None and word.lower() == current.lower():
                current = next(rest, None)
            else:
                out.append(word)
        return out if current is None else None

    dropped, added = removed(p, h), removed(h, p)
    change = dropped if dropped is not None else added
    assert change, (premise, hypothesis)
    assert {upos(w) for w in change} <= {"ADJ", "ADP", "DET", "NOUN", "PROPN", "NUM"}, (premise, hypothesis)
    oblique = any(upos(w) == "ADP" and concept(w) != "of" for w in change)
    if negated:  # only an event modifier (the oblique) moves in and out of a negated clause's scope
        assert oblique, (premise, hypothesis)
        return ("neutral", "negated, fewer") if dropped is not None else ("entailment", "negated, more")
    return ("entailment", "fewer") if dropped is not None else ("neutral", "more")


def test_nli_labels_follow_from_the_sentences(world):
    reasons = Counter()
    for code in world.codes():
        for split in world.splits(code):
            rows = world.rows("nli", code, split)
            assert {r["language"] for r in rows} == {code}
            for row in rows:
                label, why = nli_label(world, code, row["premise"], row["hypothesis"])
                assert row["label"] == label, f"{code}/{split}: {row}"
                reasons[(label, why)] += 1
            counts = Counter(r["label"] for r in rows)
            assert max(counts.values()) - min(counts.values()) <= 1 and len(counts) == 3
    assert set(reasons) >= {("entailment", "fewer"), ("neutral", "more"), ("contradiction", "negation"),
                            ("contradiction", "antonym VERB"), ("contradiction", "antonym ADJ"),
                            ("entailment", "negated, more"), ("neutral", "negated, fewer")}, reasons


# ---------------------------------------------------------------------------- SA
def sentiment(world: World, code: str, text: str) -> str:
    score, polar, negated = 0, 0, False
    verb = 0
    for i, word in enumerate(words(text)):
        analysis = world.analyse(code, word, words(text)[:i])
        polarity = int(world.concepts.get(analysis["concept"], {}).get("polarity", 0)) \
            if analysis["upos"] in ("ADJ", "VERB") else 0
        polar += polarity != 0
        if analysis["upos"] == "VERB":
            verb = polarity
        elif analysis["upos"] == "ADJ":
            score += polarity
        negated = negated or analysis["concept"] == "NEG"
    score += -verb if negated else verb
    assert score or not polar, f"{code}: a mixed sentence {text!r}"
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def test_sentiment_labels_follow_from_the_words(world):
    for code in world.codes():
        for split in world.splits(code):
            rows = world.rows("sa", code, split)
            for row in rows:
                assert row["label"] == sentiment(world, code, row["text"]), f"{code}/{split}: {row}"
            assert Counter(r["label"] for r in rows) == Counter(dict.fromkeys(("negative", "neutral", "positive"),
                                                                              len(rows) // 3))


# ---------------------------------------------------------------------------- QA
def located_words(text: str) -> list[tuple[str, int]]:
    """(word, character offset) of every word of a text, final punctuation split off."""
    out, offset = [], 0
    for piece in text.split(" "):
        if piece[-1] in ".?" and len(piece) > 1:
            out += [(piece[:-1], offset), (piece[-1], offset + len(piece) - 1)]
        else:
            out.append((piece, offset))
        offset += len(piece) + 1
    return out


def qa_answer(world: World, code: str, context: str, question: str) -> tuple[int, str, str]:
    """(start, text, question word) of the answer to a wh-in-situ question: the one context sentence
    that matches the question around its question word; the answer is what stands in its place (a
    where-oblique without its adposition)."""
    q = [w for w, _ in located_words(question)]
    assert q[-1] == "?"
    q = [w.lower() for w in q[:-1]]
    wh_words = {world.word(code, w): w for w in ("WHO", "WHAT", "WHERE")}
    (position,) = [i for i, w in enumerate(q) if w in wh_words]
    wh = wh_words[q[position]]
    prefix, suffix = q[:position], q[position + 1:]
    sentences, current = [], []
    for word, offset in located_words(context):
        if word == ".":
            sentences.append(current)
            current = []
        else:
            current.append((word, offset))
    assert not current, "every context sentence ends with a period"
    matches = []
    for sentence in sentences:
        lower = [w.lower() for w, _ in sentence]
        if len(lower) > len(prefix) + len(suffix) and lower[:len(prefix)] == prefix \
                and lower[len(lower) - len(suffix):] == suffix:
            first, last = len(prefix), len(sentence) - len(suffix) - 1
            kinds = [world.analyse(code, w, [x for x, _ in sentence[:i]])["upos"] for i, (w, _) in enumerate(sentence)]
            if wh == "WHERE":  # the oblique's adposition stands at one edge of it
                edges = [i for i in (first, last) if kinds[i] == "ADP"]
                assert len(edges) == 1, sentence
                first, last = (first + 1, last) if edges[0] == first else (first, last - 1)
            assert set(kinds[first:last + 1]) <= {"NOUN", "PROPN", "DET", "ADJ", "NUM", "ADP"}, sentence
            start, end = sentence[first][1], sentence[last][1] + len(sentence[last][0])
            matches.append((start, context[start:end], wh))
    assert len(matches) == 1, f"{code}: {len(matches)} sentences match {question!r} in {context!r}"
    return matches[0]


def test_qa_answers_follow_from_the_context(world):
    asked = Counter()
    for code in world.codes():
        for split in world.splits(code):
            rows = world.rows("qa", code, split, "squad")  # the reader checks every answer against its context
            for row in rows:
                (start,), (text,) = row["answers"]["answer_start"], row["answers"]["text"]
                found_start, found_text, wh = qa_answer(world, code, row["context"], row["question"])
                assert (start, text) == (found_start, found_text), row
                asked[wh] += 1
            assert len(rows) == world.meta["languages"][code]["splits"]["qa"][split]
    assert set(asked) == {"WHO", "WHAT", "WHERE"}, asked


# ---------------------------------------------------------------------------- determinism
def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_another_seed_other_files(world_dir, tmp_path):
    again = tmp_path / "again"  # in another process with another string-hash seed
    code = (f"from xlt.data.world import Sizes, write_world; write_world({str(again)!r}, seed=0, "
            f"sizes=Sizes(**{asdict(SIZES)!r}))")
    repo = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(filter(None, (str(repo), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": path}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=repo)
    first, second = _files(world_dir), _files(again)
    assert first.keys() == second.keys() and first == second
    description = json.loads(first["world.json"])
    assert set(description["files"]) == set(first) - {"world.json"}
    other = tmp_path / "other"
    write_world(other, seed=1, sizes=SIZES)
    third = _files(other)
    assert third.keys() == first.keys()
    data = [name for name in first if name.split("/")[0] in ("corpora", "ud", "ner", "nli", "sa", "qa", "parallel",
                                                              "lexicon")]
    assert all(first[name] != third[name] for name in data)


def test_written_world_is_atomic(tmp_path, monkeypatch):
    from xlt.data.world import world as world_module

    out = tmp_path / "w"
    real = world_module._write_into

    def crash(world, root):
        real(world, root)
        raise RuntimeError("killed")

    monkeypatch.setattr(world_module, "_write_into", crash)
    with pytest.raises(RuntimeError, match="killed"):
        write_world(out, seed=0, sizes=SIZES)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_world(out, seed=0, sizes=SIZES)
    with pytest.raises(DataError, match="already exists"):
        write_world(out, seed=1, sizes=SIZES)
    write_world(out, seed=1, sizes=SIZES, overwrite=True)
    assert load_description(out)["seed"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["w"]
    with pytest.raises(DataError, match="train=0"):
        Sizes(train=0)


# ---------------------------------------------------------------------------- typology
def test_typology_vectors_differ_exactly_where_the_parameters_do(world):
    typology = json.loads((world.root / "typology.json").read_text())
    assert typology["features"] == list(FEATURES)
    vectors = {code: np.array(v) for code, v in typology["vectors"].items()}
    owners = typology["owners"]
    assert owners == FEATURE_OWNERS
    for a, b in itertools.combinations(world.codes(), 2):
        la, lb = world.meta["languages"][a], world.meta["languages"][b]
        differing = {p for p in CHOICES if la["syntax"][p] != lb["syntax"][p]}
        if la["sounds"] != lb["sounds"]:
            differing.add("sounds")
        changed = {owners[FEATURES[i]] for i in np.flatnonzero(vectors[a] != vectors[b])}
        assert changed <= differing, (a, b, changed - differing)
        assert differing - {"sounds"} <= changed, (a, b, differing - changed)
    # every value of every parameter, one at a time, from each family's setting
    sounds = SoundSystem(frozenset("ptkaiu"), False, False, False, False)
    for code in ("qma", "qfa", "qia", "qla"):
        base = Syntax(**world.syntax(code))
        reference = typology_vector(base, sounds)
        for parameter, values in CHOICES.items():
            for value in values:
                if value == getattr(base, parameter):
                    continue
                changed = np.flatnonzero(typology_vector(base.replace(**{parameter: value}), sounds) != reference)
                assert len(changed) and {owners[FEATURES[i]] for i in changed} == {parameter}, (code, parameter, value)
    richer = SoundSystem(frozenset("ptkaiuq"), False, False, False, False)
    changed = np.flatnonzero(typology_vector(base, richer) != reference)
    assert {FEATURES[i] for i in changed} == {"INV_VOICELESS_UVULAR_PLOSIVE", "INV_PLACE_UVULAR", "P_UVULARS",
                                              "P_UVULAR_STOPS"}


def test_typology_resolves_through_xlt_typology(world):
    from xlt.typology import closest_language, load_uriel, uriel_vector

    real = load_uriel()
    assert real.feature_names == FEATURES  # the world's vectors have URIEL's layout
    assert not set(world.codes()) & set(real.codes)  # local-use codes no real language has
    table = load_uriel(str(world.root / "typology"))  # lang2vec's file format: XLT_URIEL_DIR=<world>/typology
    vectors = build_world(0, SIZES).typology_vectors()
    assert table.codes == tuple(sorted(world.codes()))
    for code in world.codes():
        assert np.array_equal(uriel_vector(code, table=table), vectors[code])
    seen = [d.code for d in LANGUAGES if d.mmt != "unseen"]
    for design in LANGUAGES:  # the closest-language fallback picks a relative (same word order) where there is one
        if design.mmt == "unseen" and design.family != "lone":
            closest = closest_language(design.code, seen, vectors=vectors)
            assert closest[:2] == design.code[:2], (design.code, closest)


# ---------------------------------------------------------------------------- vocabulary and roles
def test_related_languages_share_more_word_types(world):
    forms = {code: set(lexicon) for code, lexicon in world.lexicons.items()}
    family = {code: meta["family"] for code, meta in world.meta["languages"].items()}
    related, unrelated = [], []
    for a, b in itertools.combinations(world.codes(), 2):
        overlap = len(forms[a] & forms[b]) / len(forms[a] | forms[b])
        (related if family[a] == family[b] else unrelated).append(overlap)
    assert min(related) > max(unrelated), (min(related), max(unrelated))
    corpus = {code: {w.lower() for line in (world.root / f"corpora/{code}.txt").read_text().splitlines()
                     for w in words(line)} for code in world.codes()}
    shared = {(a, b): len(corpus[a] & corpus[b]) / len(corpus[a] | corpus[b])
              for a, b in itertools.combinations(world.codes(), 2)}
    related_mean = np.mean([v for (a, b), v in shared.items() if family[a] == family[b]])
    unrelated_mean = np.mean([v for (a, b), v in shared.items() if family[a] != family[b]])
    assert related_mean > 2 * unrelated_mean


def test_sizes_roles_and_no_evaluation_sentence_elsewhere(world):
    meta = world.meta
    assert meta["sources"] == ["qma", "qfa", "qia"] and meta["pivot"] == "qma"
    for code, language in meta["languages"].items():
        roles = language["roles"]
        corpus = (world.root / f"corpora/{code}.txt").read_text(encoding="utf-8").splitlines()
        assert len(corpus) == {"high": SIZES.corpus_high, "low": SIZES.corpus_low,
                               "unseen": SIZES.corpus_unseen}[roles["mmt"]]
        assert world.splits(code) == (["train", "dev", "test"] if roles["task"] == "source" else ["dev", "test"])
        evaluation = {split: {r["text"] for r in world.rows("ud", code, split)} for split in ("dev", "test")}
        assert len(evaluation["dev"]) == SIZES.dev and not evaluation["dev"] & evaluation["test"]
        held_out = evaluation["dev"] | evaluation["test"]
        assert not held_out & set(corpus), code
        if roles["task"] == "source":
            assert not held_out & {r["text"] for r in world.rows("ud", code, "train")}
        if code != meta["pivot"]:
            pair = world.root / f"parallel/{meta['pivot']}-{code}"
            train = {side: (pair / f"train.{side}").read_text(encoding="utf-8").splitlines()
                     for side in (meta["pivot"], code)}
            assert len(train[code]) == len(train[meta["pivot"]]) == (
                SIZES.parallel_supported if roles["nmt"] == "supported" else SIZES.parallel_unsupported)
            assert not held_out & set(train[code])
            for split in ("train", "dev", "test"):
                source = (pair / f"{split}.{meta['pivot']}").read_text(encoding="utf-8").splitlines()
                target = (pair / f"{split}.{code}").read_text(encoding="utf-8").splitlines()
                for s, t in zip(source, target, strict=True):  # translations keep names and numbers
                    anchors = [sorted(w for w in words(x) if w.isdigit() or any(w in n for n in world.names.values()))
                               for x in (s, t)]
                    assert anchors[0] == anchors[1], (s, t)
        assert meta["nmt_languages"][code]["nllb"] == (roles["nmt"] == "supported")


# ---------------------------------------------------------------------------- the real readers and task families
TASK_CONFIGS = ("pos", "ner", "dp", "nli", "sa", "qa")


def test_files_pass_the_real_readers_and_task_preprocessing(world, tiny_xlmr_path):
    import yaml

    from xlt.data.formats.parallel import read_parallel_text
    from xlt.data.locations import DataLocation, load_location
    from xlt.models.loading import load_tokenizer
    from xlt.tasks import build_task

    tokenizer = load_tokenizer(tiny_xlmr_path)
    repo = Path(__file__).resolve().parents[1]
    task_of = {"pos": "ud", "dp": "ud", "ner": "ner", "nli": "nli", "sa": "sa", "qa": "qa"}
    for name in TASK_CONFIGS:
        cfg = yaml.safe_load((repo / f"conf/task/{name}.yaml").read_text())
        family = build_task(cfg, tokenizer)
        for code, split in (("qma", "train"), ("qfd", "test"), ("qla", "dev")):
            path = world.path(task_of[name], code, split)
            fmt = "squad" if name == "qa" else None
            dataset = load_location(DataLocation(path=str(path), format=fmt), f"world.{name}.{code}",
                                    text_file=family.text_file_format())
            examples = family.preprocess(dataset, f"world.{name}.{code}")
            expected = world.meta["languages"][code]["splits"][task_of[name]][split]
            assert len(dataset) == expected and len(examples) >= expected, (name, code, split)
    corpus = load_location(DataLocation(path=str(world.root / "corpora/qmc.txt")), "corpus")
    assert len(corpus) == SIZES.corpus_unseen
    rows = [row for _, row in read_parallel_text(
        world.root / "parallel/qma-qfd/train.qma", {"target_suffix": "qfd"})]
    assert len(rows) == SIZES.parallel_unsupported and set(rows[0]) == {"source", "target"}
    from xlt.models.nmt import language_table  # the world's entries extend the NLLB language table

    table = language_table(world.meta["nmt_languages"])
    assert table["qmd"].adaptation_source == "qma" and not table["qmd"].nllb and table["qmc"].nllb


def test_command_line_writes_and_summarises(tmp_path, capsys):
    out = tmp_path / "cli"
    assert world_main([str(out), "--seed", "2", "--sizes", "tiny"]) == 0
    printed = capsys.readouterr().out
    assert "qla" in printed and "unsupported" in printed and load_description(out)["seed"] == 2
    assert world_main([str(out), "--sizes", "tiny"]) == 1
    assert "already exists" in capsys.readouterr().err
