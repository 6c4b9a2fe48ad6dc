"""Bundled samples of the POS/DP, NER, QA, multi-source NLI and SA datasets (Table 4.1, §4.4.4,
Table 6.1), generated from the scene grammar of :mod:`xlt.data.synthetic` in the real file formats:

- UD 2.7 CoNLL-U treebanks (``ud/UD_<Lang>-<TB>/<tb>-ud-<split>.conllu``): dependency trees with
  UPOS and universal relations, ``# sent_id``/``# text`` comments, multiword tokens (fused
  preposition + determiner in some languages) and empty nodes (enhanced ellipsis in others);
- CoNLL-2003 (``conll2003/{train,valid}.txt``: ``token POS chunk NER``, IOB1, ``-DOCSTART-``) and
  MasakhaNER (``masakhaner/<lang>/test.txt``: ``token TAG``, IOB2) with PER/ORG/LOC, MISC and DATE,
  and MasakhaNER 2.0's empty-token lines in some languages;
- SQuAD v1.1, MLQA and XQuAD JSON whose questions ask for a scene's agent (who), patient (what) or
  place (where);
- XNLI-1.0 ``xnli.{dev,test}.tsv``, NusaX-senti ``<language>/test.csv`` and the thesis's trimmed
  SMSA ``smsa-trimmed/{train,validation}.tsv`` (sentiment follows the verb, flipped by negation);
- a plain-text corpus per language that needs a language module.

Every language renders the same scenes with its own word forms and order, so transfer is possible
and the labels are consistent across languages. Some files carry the quirks of published files (a
UTF-8 byte-order mark, CRLF line endings; ``*_BOM``, ``*_CRLF``, ``MASAKHANER_QUIRKS``). Registered
in ``SAMPLE_SETS``; regenerate with ``python -m xlt.data.synthetic``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlt.data.synthetic import (
    CONSONANTS,
    DETERMINERS,
    NEGATION,
    PREPOSITION,
    SAMPLE_SETS,
    VOWELS,
    Language,
    Scene,
    _proto_root,
    _seed,
    _write,
    nli_examples,
    write_corpus,
)

# ---------------------------------------------------------------------------- languages and datasets
# UD 2.7 treebanks of Table B.1: code -> (treebank, repository directory)
UD_TARGETS = {
    "ar": ("ar_pud", "UD_Arabic-PUD"), "bm": ("bm_crb", "UD_Bambara-CRB"), "bxr": ("bxr_bdt", "UD_Buryat-BDT"),
    "yue": ("yue_hk", "UD_Cantonese-HK"), "zh": ("zh_gsd", "UD_Chinese-GSD"), "myv": ("myv_jr", "UD_Erzya-JR"),
    "fo": ("fo_farpahc", "UD_Faroese-FarPaHC"), "ja": ("ja_gsd", "UD_Japanese-GSD"),
    "olo": ("olo_kkpp", "UD_Livvi-KKPP"), "mt": ("mt_mudt", "UD_Maltese-MUDT"), "gv": ("gv_cadhan", "UD_Manx-Cadhan"),
    "sme": ("sme_giella", "UD_North_Sami-Giella"), "kpv": ("kpv_lattice", "UD_Komi_Zyrian-Lattice"),
    "sa": ("sa_ufal", "UD_Sanskrit-UFAL"), "hsb": ("hsb_ufal", "UD_Upper_Sorbian-UFAL"),
    "ug": ("ug_udt", "UD_Uyghur-UDT"),
}
UD_SOURCES = {
    "en": ("en_ewt", "UD_English-EWT"), "eu": ("eu_bdt", "UD_Basque-BDT"), "cs": ("cs_pdt", "UD_Czech-PDT"),
    "et": ("et_edt", "UD_Estonian-EDT"), "fr": ("fr_gsd", "UD_French-GSD"), "el": ("el_gdt", "UD_Greek-GDT"),
    "hi": ("hi_hdtb", "UD_Hindi-HDTB"), "ko": ("ko_gsd", "UD_Korean-GSD"), "fa": ("fa_perdt", "UD_Persian-PerDT"),
    "tr": ("tr_boun", "UD_Turkish-BOUN"), "vi": ("vi_vtb", "UD_Vietnamese-VTB"),
}
MASAKHANER = ["hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor"]
XNLI = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]
MLQA = ["ar", "de", "es", "hi", "vi", "zh"]  # MLQA languages besides English (also in XQuAD)
XQUAD_TARGETS = ["el", "ro", "ru", "th", "tr"]
NUSAX = {"ace": "acehnese", "ban": "balinese", "bbc": "toba_batak", "bjn": "banjarese", "bug": "buginese",
         "jav": "javanese", "mad": "madurese", "min": "minangkabau", "nij": "ngaju", "sun": "sundanese"}
NO_CORPUS = {"nij"}  # Table 6.1: no satisfactory monolingual corpus for Ngaju

POSITIVE_VERBS = {"likes", "finds", "builds", "buys"}
NEGATIVE_VERBS = {"hates", "loses", "breaks", "drops"}

EXTRA_CONCEPTS = ["who", "what", "where", "monday", "friday", "winter", "bank", "company", "council"]
FIRST_NAMES = ["Amara", "Kofi", "Lina", "Tomas", "Juma", "Sela", "Nadia", "Oren", "Wanjiru", "Ilse", "Baraka", "Mira"]
LAST_NAMES = ["Okafor", "Berg", "Mwangi", "Castell", "Diallo", "Novak", "Haddad", "Tanaka"]
LOCATIONS = ["Kisumu", "Tano", "Velmor", "Rukan", "Dessa", "Orlun", "Mbeya", "Kaldor"]
ORG_NAMES = ["Kona", "Zenith", "Umoja", "Baltic", "Sahel", "Nova"]
NATIONALITIES = ["Kenyan", "Italian", "Malian", "Czech", "Peruvian"]


def extra_word(language: Language, concept: str) -> str:
    """A word for a concept outside the base lexicon, made with the language's own sound changes."""
    if language.code == "en":
        return concept
    rng = random.Random(_seed("language", language.code))  # replays Language.make's draws
    changes = {c: rng.choice(CONSONANTS) for c in rng.sample(CONSONANTS, 5)}
    changes.update({v: rng.choice(VOWELS) for v in rng.sample(VOWELS, 2)})
    suffix = rng.choice(["", "", "n", "k", "a", "i", "th"])
    form = "".join(changes.get(ch, ch) for ch in _proto_root(concept)) + suffix
    taken = set(language.words.values())
    extra = random.Random(_seed("extra", language.code, concept))
    while form in taken:
        form += extra.choice(VOWELS)
    return form


def _flag(code: str, what: str, probability: float) -> bool:
    return random.Random(_seed(what, code)).random() < probability


# ---------------------------------------------------------------------------- annotated sentences
@dataclass
class Token:
    form: str
    upos: str
    deprel: str
    head: str | None  # key of the head token (None: the root)
    key: str
    ner: str = "O"
    lemma: str = ""


@dataclass
class Entities:
    """Which named entities a scene carries (NER and UD sentences)."""

    person: list[str] | None = None
    location: str | None = None
    organisation: list[str] | None = None
    nationality: str | None = None
    date: str | None = None  # a concept of EXTRA_CONCEPTS

    @classmethod
    def random(cls, rng: random.Random, misc: bool = False, date: bool = False) -> Entities:
        entities = cls()
        if rng.random() < 0.5:
            entities.person = [rng.choice(FIRST_NAMES)] + ([rng.choice(LAST_NAMES)] if rng.random() < 0.5 else [])
        if rng.random() < 0.4:
            entities.location = rng.choice(LOCATIONS)
        if rng.random() < 0.3:
            entities.organisation = [rng.choice(ORG_NAMES), "bank" if rng.random() < 0.5 else "company"]
        if misc and rng.random() < 0.3:
            entities.nationality = rng.choice(NATIONALITIES)
        if date and rng.random() < 0.3:
            entities.date = rng.choice(["monday", "friday", "winter"])
        return entities


def annotate(scene: Scene, language: Language, rng: random.Random, entities: Entities | None = None) -> list[Token]:
    """The scene's sentence as tokens with UPOS, heads, relations and NER tags (IOB2)."""
    w = language.words
    entities = entities or Entities()

    def noun_phrase(role: str, noun: str, adjective: str | None, deprel: str, head: str) -> list[Token]:
        tokens = [Token(w[rng.choice(DETERMINERS)], "DET", "det", role, f"{role}.det")]
        modifiers = []
        if adjective:
            modifiers.append(Token(w[adjective], "ADJ", "amod", role, f"{role}.adj"))
        if role == "S" and entities.nationality:
            modifiers.insert(0, Token(entities.nationality, "ADJ", "amod", role, f"{role}.nat", "B-MISC"))
        core = Token(w[noun], "NOUN", deprel, head, role)
        return tokens + (modifiers + [core] if language.adjective_first else [core] + modifiers)

    def name(role: str, parts: list[str], label: str, deprel: str, head: str) -> list[Token]:
        out = [Token(parts[0], "PROPN", deprel, head, role, f"B-{label}")]
        for i, part in enumerate(parts[1:]):
            out.append(Token(part, "PROPN", "flat", role, f"{role}.{i}", f"I-{label}"))
        return out

    if entities.person:
        subject = name("S", entities.person, "PER", "nsubj", "V")
    else:
        subject = noun_phrase("S", scene.subject, scene.subject_adj, "nsubj", "V")
    if entities.organisation:
        parts = [entities.organisation[0], extra_word(language, entities.organisation[1]).capitalize()]
        obj = name("O", parts, "ORG", "obj", "V")
    else:
        obj = noun_phrase("O", scene.obj, scene.object_adj, "obj", "V")
    verb = ([Token(w[NEGATION], "PART", "advmod", "V", "neg")] if scene.negated else [])
    verb.append(Token(w[scene.verb], "VERB", "root", None, "V"))
    parts = {"S": subject, "V": verb, "O": obj}
    tokens = [t for slot in language.order for t in parts[slot]]
    if scene.place or entities.location:
        tokens.append(Token(w[PREPOSITION], "ADP", "case", "P", "P.case"))
        if entities.location:
            tokens.append(Token(entities.location, "PROPN", "obl", "V", "P", "B-LOC"))
        else:
            tokens.append(Token(w["the"], "DET", "det", "P", "P.det"))
            tokens.append(Token(w[scene.place], "NOUN", "obl", "V", "P"))
    if entities.date:
        tokens.append(Token(extra_word(language, entities.date), "NOUN", "obl", "V", "date", "B-DATE"))
    tokens.append(Token(".", "PUNCT", "punct", "V", "punct"))
    tokens[0].form = tokens[0].form[0].upper() + tokens[0].form[1:]
    for token in tokens:
        token.lemma = token.form.lower() if token.upos != "PROPN" else token.form
    return tokens


def heads_of(tokens: list[Token]) -> list[int]:
    position = {t.key: i + 1 for i, t in enumerate(tokens)}
    return [0 if t.head is None else position[t.head] for t in tokens]


def iob1(tags: list[str]) -> list[str]:
    """IOB2 to IOB1 (CoNLL-2003's original scheme): B- only right after an entity of the same type."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") and not (i and tags[i - 1] != "O" and tags[i - 1][2:] == tag[2:]):
            tag = "I-" + tag[2:]
        out.append(tag)
    return out


# ---------------------------------------------------------------------------- UD CoNLL-U
def _conllu_sentence(tokens: list[Token], sent_id: str, fuse: bool, empty_node: bool) -> str:
    heads = heads_of(tokens)
    surface: list[str] = []
    ranges: dict[int, tuple[int, str]] = {}
    i = 0
    while i < len(tokens):
        if fuse and tokens[i].upos == "ADP" and i + 1 < len(tokens) and tokens[i + 1].upos == "DET":
            fused = tokens[i].form + tokens[i + 1].form
            ranges[i] = (i + 1, fused)
            surface.append(fused)
            i += 2
        else:
            surface.append(tokens[i].form)
            i += 1
    text = " ".join(surface[:-1]) + surface[-1] if surface[-1] == "." else " ".join(surface)
    lines = [f"# sent_id = {sent_id}", f"# text = {text}"]
    verb = next(i for i, t in enumerate(tokens) if t.deprel == "root")
    for i, token in enumerate(tokens):
        if i in ranges:
            end, fused = ranges[i]
            lines.append(f"{i + 1}-{end + 1}\t{fused}\t_\t_\t_\t_\t_\t_\t_\t_")
        misc = "SpaceAfter=No" if i + 1 < len(tokens) and tokens[i + 1].form == "." else "_"
        deps = f"{heads[i]}:{token.deprel}" if empty_node else "_"
        columns = [str(i + 1), token.form, token.lemma, token.upos, "_", "_", str(heads[i]), token.deprel, deps, misc]
        lines.append("\t".join(columns))
        if empty_node and i == verb:  # an elided second predicate (enhanced UD)
            lines.append(f"{i + 1}.1\t{token.form}\t{token.lemma}\tVERB\t_\t_\t_\t_\t{i + 1}:conj\t_")
    return "\n".join(lines) + "\n"


def ud_sentences(code: str, split: str, n: int) -> list[list[Token]]:
    language = Language.make(code)
    rng = random.Random(_seed("ud", code, split))
    sentences = []
    for _ in range(n):
        scene = Scene.random(rng)
        scene.negated = rng.random() < 0.15
        entities = Entities(person=[rng.choice(FIRST_NAMES)]) if rng.random() < 0.2 else None
        sentences.append(annotate(scene, language, rng, entities))
    return sentences


# real-file quirks of some sample files: a UTF-8 byte-order mark, CRLF line endings
UD_BOM = {"bxr", "ja", "fr"}
UD_CRLF = {"mt", "ja", "et"}


def write_treebank(out: Path, code: str, treebank: str, directory: str, splits: dict[str, int]) -> None:
    fuse = code != "en" and _flag(code, "fuse", 0.5)
    enhanced = _flag(code, "enhanced", 0.3)
    for split, n in splits.items():
        rng = random.Random(_seed("ud-empty", code, split))
        text = f"# newdoc id = {treebank}-{split}\n"
        for i, tokens in enumerate(ud_sentences(code, split, n)):
            empty = enhanced and rng.random() < 0.2
            text += _conllu_sentence(tokens, f"{treebank}-{split}-{i + 1:04d}", fuse, empty) + "\n"
        _write(out / "ud" / directory / f"{treebank}-ud-{split}.conllu", text, bom=code in UD_BOM,
               crlf=code in UD_CRLF)


def write_ud(out: Path) -> None:
    write_treebank(out, "en", *UD_SOURCES["en"], {"train": 120, "dev": 20})
    for code, (treebank, directory) in UD_SOURCES.items():
        if code != "en":
            write_treebank(out, code, treebank, directory, {"train": 24, "dev": 6})
    for code, (treebank, directory) in UD_TARGETS.items():
        write_treebank(out, code, treebank, directory, {"test": 16})


# ---------------------------------------------------------------------------- NER
PTB = {"DET": "DT", "ADJ": "JJ", "NOUN": "NN", "PROPN": "NNP", "VERB": "VBZ", "PART": "RB", "ADP": "IN", "PUNCT": "."}


def ner_sentences(code: str, split: str, n: int, misc: bool, date: bool) -> list[list[Token]]:
    language = Language.make(code)
    rng = random.Random(_seed("ner", code, split))
    out = []
    for _ in range(n):
        scene = Scene.random(rng)
        out.append(annotate(scene, language, rng, Entities.random(rng, misc=misc, date=date)))
    return out


def write_conll2003(out: Path) -> None:
    """``token POS chunk NER`` in IOB1 with ``-DOCSTART-`` lines (as the files the thesis used); the
    last sentence has no blank line after it, and ``valid.txt`` has CRLF line endings."""
    for split, n in (("train", 300), ("valid", 50)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for i, tokens in enumerate(ner_sentences("en", split, n, misc=True, date=False)):
            if i and i % 25 == 0:
                lines += ["-DOCSTART- -X- -X- O", ""]
            tags = iob1([t.ner for t in tokens])
            for token, tag in zip(tokens, tags):
                chunk = "O" if token.upos == "PUNCT" else ("B-VP" if token.upos == "VERB" else "I-NP")
                lines.append(f"{token.form} {PTB.get(token.upos, 'NN')} {chunk} {tag}")
            lines.append("")
        _write(out / "conll2003" / f"{split}.txt", "\n".join(lines), crlf=split == "valid")


# Quirks of the published MasakhaNER files, so that the readers and the smoke runs meet them: a
# byte-order mark, CRLF line endings, and MasakhaNER 2.0's lines with an empty token before the tag
# (" O", "\tO"), which are skipped with a warning.
MASAKHANER_QUIRKS: dict[str, dict[str, Any]] = {
    "hau": {"bom": True}, "ibo": {"crlf": True}, "swa": {"empty_token": " O"},
    "yor": {"bom": True, "crlf": True, "empty_token": "\tO"},
}


def write_masakhaner(out: Path) -> None:
    """``token TAG`` (IOB2, with DATE) per line, a blank line between sentences (none after the last);
    the quirks of ``MASAKHANER_QUIRKS``: an empty-token line after the second word of every 7th sentence."""
    for code in MASAKHANER:
        quirks = MASAKHANER_QUIRKS.get(code, {})
        lines = []
        for i, tokens in enumerate(ner_sentences(code, "test", 25, misc=False, date=True)):
            words = [f"{t.form} {t.ner}" for t in tokens]
            if quirks.get("empty_token") and i % 7 == 3:
                words.insert(2, quirks["empty_token"])
            lines += words + [""]
        _write(out / "masakhaner" / code / "test.txt", "\n".join(lines), bom=quirks.get("bom", False),
               crlf=quirks.get("crlf", False))


# ---------------------------------------------------------------------------- QA
def _surface(tokens: list[Token]) -> tuple[str, list[int]]:
    """Text of the tokens (no space before the final period) and each token's character offset."""
    text, offsets = "", []
    for token in tokens:
        if text and token.form != ".":
            text += " "
        offsets.append(len(text))
        text += token.form
    return text, offsets


def qa_paragraphs(code: str, split: str, paragraphs: int, prefix: str) -> list[dict]:
    """SQuAD-format articles: 3 scenes per context, one question per scene about its agent, patient or place."""
    language = Language.make(code)
    rng = random.Random(_seed("qa", code, split))
    articles = []
    for p in range(paragraphs):
        context, qas = "", []
        for s in range(3):
            scene = Scene.random(rng)
            tokens = annotate(scene, language, rng, Entities.random(rng) if rng.random() < 0.3 else None)
            sentence, offsets = _surface(tokens)
            base = len(context) + (1 if context else 0)
            context = f"{context} {sentence}" if context else sentence
            roles = ["S", "O"] + (["P"] if any(t.key == "P" for t in tokens) else [])
            role = rng.choice(roles)
            members = [i for i, t in enumerate(tokens) if t.key == role or t.head == role
                       and t.deprel in ("det", "amod", "flat", "case")]
            if role == "P":
                members = [i for i in members if tokens[i].upos != "ADP"]
            first, last = min(members), max(members)
            answer = sentence[offsets[first]:offsets[last] + len(tokens[last].form)]
            word = extra_word(language, {"S": "who", "O": "what", "P": "where"}[role])
            rest = [t.form.lower() if i == 0 else t.form for i, t in enumerate(tokens)
                    if not first <= i <= last and t.upos not in ("PUNCT",) and not (role == "P" and t.upos == "ADP")]
            question = " ".join([word.capitalize(), *rest]) + " ?"
            qas.append({"answers": [{"answer_start": base + offsets[first], "text": answer}],
                        "question": question, "id": f"{prefix}-{code}-{split}-{p}-{s}"})
        articles.append({"title": f"{prefix}_{code}_{p}", "paragraphs": [{"context": context, "qas": qas}]})
    return articles


def _write_squad(path: Path, articles: list[dict], version: str, bom: bool = False) -> None:
    _write(path, json.dumps({"data": articles, "version": version}, ensure_ascii=False, separators=(",", ":")),
           bom=bom)


XQUAD_BOM = {"el", "th"}  # XQuAD JSON files that start with a byte-order mark (a real-file quirk)


def write_qa(out: Path) -> None:
    _write_squad(out / "squad" / "train-v1.1.json", qa_paragraphs("en", "train", 70, "squad"), "1.1")
    _write_squad(out / "squad" / "dev-v1.1.json", qa_paragraphs("en", "dev", 10, "squad"), "1.1")
    for code in MLQA:
        for split, n in (("test", 12), ("dev", 4)):
            path = out / "mlqa" / split / f"{split}-context-{code}-question-{code}.json"
            _write_squad(path, qa_paragraphs(code, f"mlqa-{split}", n, "mlqa"), "1.0")
    for code in MLQA + XQUAD_TARGETS:
        _write_squad(out / "xquad" / f"xquad.{code}.json", qa_paragraphs(code, "xquad", 8, "xquad"), "1.1",
                     bom=code in XQUAD_BOM)


# ---------------------------------------------------------------------------- XNLI
XNLI_COLUMNS = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
                "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre", "label1", "label2",
                "label3", "label4", "label5", "sentence1_tokenized", "sentence2_tokenized", "match"]


def write_xnli(out: Path) -> None:
    """XNLI-1.0 ``xnli.{dev,test}.tsv``: every language in one file, the 19 real columns."""
    for split, n in (("dev", 6), ("test", 20)):
        lines = ["\t".join(XNLI_COLUMNS)]
        for code in XNLI:
            for i, (premise, hypothesis, label) in enumerate(nli_examples(code, n, f"xnli-{split}")):
                row = [code, label, "", "", "", "", premise, hypothesis, str(i), str(1000 + i),
                       ["facetoface", "fiction", "government"][i % 3], label, label, label, label, label,
                       premise, hypothesis, "True"]
                lines.append("\t".join(row))
        _write(out / "xnli" / f"xnli.{split}.tsv", "\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- sentiment
SENTIMENTS = ("negative", "neutral", "positive")  # NusaX order


def sentiment(scene: Scene) -> str:
    polarity = 1 if scene.verb in POSITIVE_VERBS else -1 if scene.verb in NEGATIVE_VERBS else 0
    if scene.negated:
        polarity = -polarity
    return SENTIMENTS[polarity + 1]


def sentiment_examples(code: str, split: str, n: int) -> list[tuple[str, str]]:
    language = Language.make(code)
    rng = random.Random(_seed("sa", code, split))
    rows = []
    for i in range(n):
        scene = Scene.random(rng)
        if i % 3 != 1:  # two thirds polar
            scene.verb = rng.choice(sorted(POSITIVE_VERBS | NEGATIVE_VERBS))
        scene.negated = rng.random() < 0.2
        text, _ = _surface(annotate(scene, language, rng))
        rows.append((text, sentiment(scene)))
    return rows


NUSAX_BOM = {"ban", "mad"}  # NusaX CSVs with a byte-order mark before the ``id`` header (real-file quirk)
NUSAX_CRLF = {"mad", "bug"}


def write_sentiment(out: Path) -> None:
    """NusaX-senti ``<language>/test.csv`` (``id,text,label``) and the thesis's SMSA-trimmed TSVs
    (``text<TAB>label``, integer labels already in NusaX order; ``validation.tsv`` with CRLF line
    endings)."""
    for code, name in NUSAX.items():
        lines = ["id,text,label"] + [f"{i},{text},{label}" for i, (text, label) in
                                      enumerate(sentiment_examples(code, "test", 20))]
        _write(out / "nusax" / name / "test.csv", "\n".join(lines) + "\n", bom=code in NUSAX_BOM,
               crlf=code in NUSAX_CRLF)
    for split, n in (("train", 300), ("validation", 60)):
        lines = ["text\tlabel"] + [f"{text}\t{SENTIMENTS.index(label)}" for text, label in
                                   sentiment_examples("ind", split, n)]
        _write(out / "smsa-trimmed" / f"{split}.tsv", "\n".join(lines) + "\n", crlf=split == "validation")


# ---------------------------------------------------------------------------- corpora
def corpus_languages() -> list[str]:
    """Every language these experiments train a language module for, besides the AmericasNLI set."""
    codes = set(UD_TARGETS) | set(UD_SOURCES) | set(MASAKHANER) | set(XNLI) | set(MLQA) | set(XQUAD_TARGETS)
    codes |= (set(NUSAX) - NO_CORPUS) | {"ind"}
    return sorted(codes - {"en"})


def write_corpora(out: Path) -> None:
    for code in corpus_languages():
        write_corpus(out, code, lines=100)


SAMPLE_SETS.update({
    "ud": write_ud,
    "ner": lambda out: (write_conll2003(out), write_masakhaner(out)),
    "qa": write_qa,
    "xnli": write_xnli,
    "sentiment": write_sentiment,
    "task_corpora": write_corpora,
})
