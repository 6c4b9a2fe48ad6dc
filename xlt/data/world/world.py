"""Build the world from a seed and write it as one directory, atomically.

Layout (``LAYOUT``; ``{lang}`` a language code, ``{split}`` ``train``/``dev``/``test``)::

    world.json                     parameters, roles, sizes, concept inventory, names, file hashes
    typology.json                  289 URIEL features per language (+ which parameter sets each)
    typology/feature_predictions.npz   the same in lang2vec's file format (XLT_URIEL_DIR=<world>/typology)
    lexicon/{lang}.tsv             every surface form with its analysis (form lemma concept upos feats)
    corpora/{lang}.txt             monolingual corpus, one sentence per line, sized by resource role
    ud/{lang}/{split}.conllu       POS and DP (UD CoNLL-U)
    ner/{lang}/{split}.txt         NER (MasakhaNER columns, IOB2)
    nli/{lang}/{split}.tsv         NLI (AmericasNLI TSV)
    sa/{lang}/{split}.csv          SA (NusaX-senti CSV)
    qa/{lang}/{split}.json         extractive QA (SQuAD v1.1 JSON)
    parallel/{pivot}-{lang}/{split}.{pivot|lang}   line-aligned parallel text

Task sources (the high-resource languages) get ``train``, ``dev`` and ``test`` splits; every other
language ``dev`` (its few-shot pool, as AmericasNLI's validation split is in §6.4.3) and ``test``.
``dev`` and ``test`` are the same content in every language; nothing in a training split, corpus
or parallel corpus repeats a dev or test sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from xlt.data.world import formats
from xlt.data.world.concepts import NAME_LISTS, concept_table, names
from xlt.data.world.grammar import Clause, Question, Realiser, Sampler, Sentence
from xlt.data.world.languages import FAMILIES, LANGUAGES, PIVOT, Language, build_languages, rng_for
from xlt.data.world.tasks import (
    TASKS,
    NLIExample,
    QAContext,
    Reserve,
    clauses,
    nli_examples,
    qa_contexts,
    sa_examples,
    sentences,
)
from xlt.data.world.typology import FEATURE_OWNERS, FEATURES, write_uriel_directory
from xlt.errors import DataError

FORMAT = "xlt-world"
FORMAT_VERSION = 1
LAYOUT = {
    "corpus": "corpora/{lang}.txt",
    "lexicon": "lexicon/{lang}.tsv",
    "ud": "ud/{lang}/{split}.conllu",
    "ner": "ner/{lang}/{split}.txt",
    "nli": "nli/{lang}/{split}.tsv",
    "sa": "sa/{lang}/{split}.csv",
    "qa": "qa/{lang}/{split}.json",
    "parallel": "parallel/{pivot}-{lang}/{split}.{side}",
    "typology": "typology.json",
    "uriel_dir": "typology",
}
NAME_RATES = {"ud": 0.2, "ner": 0.6, "nli": 0.15, "sa": 0.15, "qa": 0.25}  # names among persons/places/orgs
CORPUS_QUESTION_RATE = 0.05  # corpora hold some questions, as text does (the QA task asks them)


@dataclass(frozen=True)
class Sizes:
    """Sentences (corpora, parallel pairs), examples (tasks) or questions (QA) per language and split.

    The defaults keep the thesis's proportions at a CPU's scale: a high-resource corpus 8x a
    low-resource one (the tiny encoder's pretraining imbalance), small corpora for unseen
    languages (what language adaptation gets), source training sets 10x the target test sets,
    and large parallel corpora only for the pairs the translation model supports (the unsupported
    languages get an adaptation corpus about the size of NusaX-MT's 629 pairs, Table D.2)."""

    corpus_high: int = 20000
    corpus_low: int = 2500
    corpus_unseen: int = 2500
    parallel_supported: int = 4000
    parallel_unsupported: int = 500
    parallel_dev: int = 200
    parallel_test: int = 200
    train: int = 3000
    dev: int = 300
    test: int = 300

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DataError(f"world sizes: {f.name}={value!r}: expected a positive integer")

    def corpus(self, mmt_role: str) -> int:
        return {"high": self.corpus_high, "low": self.corpus_low, "unseen": self.corpus_unseen}[mmt_role]

    def parallel(self, nmt_role: str) -> int:
        return self.parallel_supported if nmt_role == "supported" else self.parallel_unsupported


SIZE_PRESETS = {
    "default": Sizes(),
    "small": Sizes(corpus_high=4000, corpus_low=500, corpus_unseen=500, parallel_supported=800,
                   parallel_unsupported=100, parallel_dev=50, parallel_test=50, train=600, dev=100, test=100),
    "tiny": Sizes(corpus_high=60, corpus_low=20, corpus_unseen=20, parallel_supported=20, parallel_unsupported=8,
                  parallel_dev=6, parallel_test=6, train=30, dev=9, test=9),
}


@dataclass
class World:
    seed: int
    sizes: Sizes
    languages: dict[str, Language]

    @property
    def pivot(self) -> str:
        return PIVOT

    def codes(self, mmt: str | None = None, nmt: str | None = None, task: str | None = None) -> list[str]:
        """Codes of the languages with the given roles (all by default), in the design order."""
        return [c for c, lang in self.languages.items()
                if (mmt is None or lang.design.mmt == mmt) and (nmt is None or lang.design.nmt == nmt)
                and (task is None or lang.design.task == task)]

    @property
    def sources(self) -> list[str]:
        return self.codes(task="source")

    def splits(self, code: str) -> tuple[str, ...]:
        return ("train", "dev", "test") if self.languages[code].design.task == "source" else ("dev", "test")

    def typology_vectors(self) -> dict[str, np.ndarray]:
        """{code: t_l} (289 URIEL features): the vectors MAD-G and the closest-language fallback use
        (``xlt.typology.closest_language(..., vectors=world.typology_vectors())``)."""
        return {code: lang.vector.copy() for code, lang in self.languages.items()}

    def nmt_languages(self) -> dict[str, dict[str, object]]:
        """{code: {flores, name, nllb, adaptation_source}}: the world's entries in the form of
        ``xlt/models/nllb_languages.yaml`` (overrides for :func:`xlt.models.nmt` language tables)."""
        table: dict[str, dict[str, object]] = {}
        for code, lang in self.languages.items():
            entry: dict[str, object] = {"flores": f"{code}_Latn", "name": lang.design.name,
                                        "nllb": lang.design.nmt == "supported"}
            if lang.design.nmt == "unsupported":
                entry["adaptation_source"] = self.pivot
            table[code] = entry
        return table

    def describe(self) -> dict[str, object]:
        """world.json without its file list."""
        languages = {}
        for code, lang in self.languages.items():
            d = lang.design
            languages[code] = {
                "name": d.name, "family": d.family, "syntax": d.syntax.as_json(),
                "deviations": dict(d.deviations), "sound_changes": [c.describe() for c in lang.changes],
                "sounds": lang.sounds.as_json(), "roles": {"mmt": d.mmt, "nmt": d.nmt, "task": d.task},
                "flores": f"{code}_Latn", "corpus_sentences": self.sizes.corpus(d.mmt),
                "splits": {task: {split: self.split_size(split) for split in self.splits(code)}
                           for task in TASKS},
                "parallel": None if code == self.pivot else {
                    "train": self.sizes.parallel(d.nmt), "dev": self.sizes.parallel_dev,
                    "test": self.sizes.parallel_test},
                "affixes": {"plural": lang.lexicon.plural_affix if d.syntax.plural != "none" else None,
                            "accusative": lang.lexicon.accusative_suffix if d.syntax.case != "none" else None},
            }
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "seed": self.seed, "sizes": asdict(self.sizes),
            "pivot": self.pivot, "sources": self.sources, "layout": LAYOUT,
            "families": {name: {"syntax": f.syntax.as_json(), "phonology": f.phonology,
                                "members": [d.code for d in LANGUAGES if d.family == name]}
                         for name, f in FAMILIES.items()},
            "languages": languages,
            "nmt_languages": self.nmt_languages(),
            "concepts": concept_table(),
            "names": {kind: list(names(kind)) for kind in NAME_LISTS},
            "evaluation_names": {kind: list(names(kind, "eval")) for kind in NAME_LISTS},
        }

    def split_size(self, split: str) -> int:
        return {"train": self.sizes.train, "dev": self.sizes.dev, "test": self.sizes.test}[split]


def build_world(seed: int = 0, sizes: Sizes | None = None) -> World:
    """The world's languages (lexicons, sound systems, typology) for ``seed``; data are drawn when
    written (:func:`write_world`)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"world seed={seed!r}: expected a non-negative integer")
    return World(seed, sizes or Sizes(), build_languages(seed))


# ---------------------------------------------------------------------------- content
@dataclass
class Content:
    """The language-neutral content of every file, drawn once per world."""

    evaluation: dict[str, dict[str, list]]  # task -> split -> examples (the same in every language)
    training: dict[str, dict[str, list]]  # task -> source language -> examples
    corpora: dict[str, list[Clause | Question]]
    parallel_eval: dict[str, list[Clause]]
    parallel_train: dict[str, list[Clause]]


def _task_examples(task: str, sampler: Sampler, n: int, used: Reserve, taken: Reserve | None = None) -> list:
    if task in ("ud", "ner"):
        return clauses(sampler, n, used, taken)
    if task == "nli":
        return nli_examples(sampler, n, used, taken)
    if task == "sa":
        return sa_examples(sampler, n, used, taken)
    return qa_contexts(sampler, n, used, taken)


def draw_content(world: World) -> Content:
    seed, sizes = world.seed, world.sizes
    used = Reserve()
    evaluation: dict[str, dict[str, list]] = {}
    for task in TASKS:
        evaluation[task] = {split: _task_examples(task, Sampler(rng_for(seed, "eval", task, split), NAME_RATES[task],
                                                                "eval"), n, used)
                            for split, n in (("dev", sizes.dev), ("test", sizes.test))}
    parallel_eval = {split: clauses(Sampler(rng_for(seed, "eval", "parallel", split)), n, used)
                     for split, n in (("dev", sizes.parallel_dev), ("test", sizes.parallel_test))}
    training = {task: {code: _task_examples(task, Sampler(rng_for(seed, "train", task, code), NAME_RATES[task],
                                                          "train"), sizes.train, used, Reserve())
                       for code in world.sources}
                for task in TASKS}
    corpora = {code: sentences(Sampler(rng_for(seed, "corpus", code)), sizes.corpus(lang.design.mmt), used,
                               CORPUS_QUESTION_RATE)
               for code, lang in world.languages.items()}
    parallel_train = {code: clauses(Sampler(rng_for(seed, "parallel", code)), sizes.parallel(lang.design.nmt), used,
                                    Reserve())
                      for code, lang in world.languages.items() if code != world.pivot}
    return Content(evaluation, training, corpora, parallel_eval, parallel_train)


# ---------------------------------------------------------------------------- realisation into files
def _realise(realiser: Realiser, item: Clause | Question) -> Sentence:
    return realiser.realise(item.clause, item) if isinstance(item, Question) else realiser.realise(item)


def _qa_articles(realiser: Realiser, code: str, split: str, contexts: list[QAContext]) -> list[dict]:
    articles = []
    for i, context in enumerate(contexts):
        realised = [realiser.realise(c) for c in context.clauses]
        starts, text = [], ""
        for sentence in realised:
            text += " " if text else ""
            starts.append(len(text))
            text += sentence.text
        qas = []
        for j, (index, question) in enumerate(context.questions):
            start, answer = realised[index].span_text(question.target)
            qas.append({"answers": [{"answer_start": starts[index] + start, "text": answer}],
                        "question": realiser.realise(question.clause, question).text,
                        "id": f"{code}-{split}-{i:05d}-{j}"})
        articles.append({"title": f"{code}-{split}-{i:05d}", "paragraphs": [{"context": text, "qas": qas}]})
    return articles


def task_file(task: str, code: str, split: str, realiser: Realiser, examples: list) -> str:
    """The text of one task file."""
    if task == "ud":
        return formats.conllu((realiser.realise(c) for c in examples), f"{code}-{split}")
    if task == "ner":
        return formats.conll_ner(realiser.realise(c) for c in examples)
    if task == "nli":
        rows = ((realiser.realise(e.premise).text, realiser.realise(e.hypothesis).text, e.label)
                for e in examples if isinstance(e, NLIExample))
        return formats.americasnli_tsv(code, rows)
    if task == "sa":
        return formats.nusax_csv((realiser.realise(clause).text, label) for clause, label in examples)
    return formats.squad_json(_qa_articles(realiser, code, split, examples))


EXTENSIONS = {"ud": "conllu", "ner": "txt", "nli": "tsv", "sa": "csv", "qa": "json"}


def _write_into(world: World, root: Path) -> dict[str, str]:
    """Every file of the world under ``root``; returns {relative path: sha256}."""
    hashes: dict[str, str] = {}

    def put(relative: str, text: str | bytes) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8") if isinstance(text, str) else text
        path.write_bytes(data)
        hashes[relative] = hashlib.sha256(data).hexdigest()

    content = draw_content(world)
    realisers = {code: Realiser(lang.syntax, lang.lexicon) for code, lang in world.languages.items()}
    for code, lang in world.languages.items():
        realiser = realisers[code]
        rows = sorted(lang.lexicon.analyses())
        put(f"lexicon/{code}.tsv", "form\tlemma\tconcept\tupos\tfeats\n" + "".join("\t".join(r) + "\n" for r in rows))
        put(f"corpora/{code}.txt", formats.lines(_realise(realiser, s).text for s in content.corpora[code]))
        for task in TASKS:
            for split in world.splits(code):
                examples = (content.training[task][code] if split == "train" else content.evaluation[task][split])
                put(f"{task}/{code}/{split}.{EXTENSIONS[task]}", task_file(task, code, split, realiser, examples))
        if code != world.pivot:
            pair = f"parallel/{world.pivot}-{code}"
            sets = {"train": content.parallel_train[code], **content.parallel_eval}
            for split, items in sets.items():
                for side in (world.pivot, code):
                    put(f"{pair}/{split}.{side}", formats.lines(realisers[side].realise(c).text for c in items))
    vectors = world.typology_vectors()
    typology = {"features": list(FEATURES), "owners": FEATURE_OWNERS,
                "vectors": {code: [int(v) for v in vector] for code, vector in vectors.items()}}
    put("typology.json", json.dumps(typology, ensure_ascii=False) + "\n")
    npz = write_uriel_directory(root / "typology", vectors)
    hashes[str(npz.relative_to(root))] = hashlib.sha256(npz.read_bytes()).hexdigest()
    return hashes


def write_world(out_dir: str | Path, seed: int = 0, sizes: Sizes | None = None, overwrite: bool = False) -> World:
    """Write the world of ``seed`` to ``out_dir`` atomically: everything is written into a hidden
    sibling directory that is renamed into place when complete (``world.json``, with every file's
    sha256, is its last file), so a crash never leaves a directory that looks like a world.
    An existing non-empty ``out_dir`` is replaced only with ``overwrite``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError(f"{out}: already exists and is not empty (overwrite it with --overwrite)")
    world = build_world(seed, sizes)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        hashes = _write_into(world, temporary)
        description = {**world.describe(), "files": dict(sorted(hashes.items()))}
        (temporary / "world.json").write_text(json.dumps(description, ensure_ascii=False, indent=1) + "\n",
                                              encoding="utf-8")
        if out.exists():
            previous = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, previous)
            os.rename(temporary, out)
            shutil.rmtree(previous)
        else:
            os.rename(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return world


def load_description(directory: str | Path) -> dict:
    """A written world's ``world.json`` (DataError if the directory holds no complete world)."""
    path = Path(directory) / "world.json"
    if not path.is_file():
        raise DataError(f"{directory}: not a written world (no world.json)")
    description = json.loads(path.read_text(encoding="utf-8"))
    if description.get("format") != FORMAT:
        raise DataError(f"{path}: format {description.get('format')!r}, expected {FORMAT!r}")
    return description


def world_fingerprint(directory: str | Path) -> str:
    """The world's content: the hash of its ``world.json`` (which records every file's sha256)."""
    load_description(directory)
    return hashlib.sha256((Path(directory) / "world.json").read_bytes()).hexdigest()[:32]
