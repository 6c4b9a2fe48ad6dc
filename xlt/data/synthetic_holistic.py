"""Bundled samples for chapter 6 (holistic transfer) in the real files' formats (see xlt.data.synthetic).

- **AmericasNLP 2021 parallel data** (``americasnlp2021/<language>-spanish/{train,dev}.{es,<code>}``, the
  NMT adaptation corpora of Table D.2 for the seven AmericasNLI languages NLLB lacks): line-aligned plain
  text, Spanish beside the language, with the repository's irregular names (the Wixarika training file
  is ``train.wix`` beside ``dev.hch``, Raramuri's ``train.tnh`` beside ``dev.tar``; the Otomi directory is
  ``hñähñu-spanish``) and a pair with a blank side (which the reader skips).
- **NusaX-MT** (``nusax-mt/<language>/{train,valid}.csv``: ``id,lang,source,target``, Indonesian ->
  the language) for the three NusaX languages NLLB lacks; fields with commas are quoted, as in the real
  files.
- **NusaX-senti few-shot splits** (``nusax/<language>/{train,valid}.csv``: ``id,text,label``) beside the
  test files, with the same byte-order marks and CRLF line endings as each language's test file, and
  NusaX's Indonesian test set (``nusax/indonesian/test.csv``), which SMSA is trimmed against.
- **SMSA as published** (IndoNLU ``smsa_doc-sentiment-prosa/{train,valid}_preprocess.tsv``: no header,
  ``text<TAB>label`` with label words): it contains some of NusaX's Indonesian test sentences, as they are
  and lightly edited (case, punctuation, one word), which the trimming stage must find.

No shot split shares an example with its language's test file (checked when they are written).
Regenerate with ``python -m xlt.data.synthetic --set holistic``.
"""

from __future__ import annotations

import random
from pathlib import Path

from xlt.data.near_duplicates import normalise_text
from xlt.data.synthetic import SAMPLE_SETS, Language, Scene, _seed, _write, render
from xlt.data.synthetic_tasks import NUSAX, NUSAX_BOM, NUSAX_CRLF, SENTIMENTS, sentiment_examples

# AmericasNLI languages NLLB-200 lacks (Table 6.1's daggers): directory and file suffixes (train, dev)
AMERICASNLP = {"bzd": ("bribri-spanish", "bzd", "bzd"), "cni": ("ashaninka-spanish", "cni", "cni"),
               "hch": ("wixarika-spanish", "wix", "hch"), "nah": ("nahuatl-spanish", "nah", "nah"),
               "oto": ("hñähñu-spanish", "oto", "oto"), "shp": ("shipibo_konibo-spanish", "shp", "shp"),
               "tar": ("raramuri-spanish", "tnh", "tar")}
NUSAX_MT = ("mad", "nij", "bbc")  # NusaX languages NLLB-200 lacks
NUSAX_SHOTS = {"train": 40, "valid": 10}  # the real splits: 500 and 100 rows per language
SMSA_LABELS = {"negative": "negative", "neutral": "neutral", "positive": "positive"}


def parallel_pairs(source: str, target: str, split: str, n: int) -> list[tuple[str, str]]:
    """``n`` sentence pairs: one scene rendered in each language."""
    languages = Language.make(source), Language.make(target)
    rng = random.Random(_seed("parallel", source, target, split))
    pairs = []
    for _ in range(n):
        scene = Scene.random(rng)
        pairs.append((render(scene, languages[0], rng), render(scene, languages[1], rng)))
    return pairs


def write_americasnlp(out: Path) -> None:
    for code, (directory, train_suffix, dev_suffix) in AMERICASNLP.items():
        for split, n, suffix in (("train", 60, train_suffix), ("dev", 16, dev_suffix)):
            pairs = parallel_pairs("es", code, split, n)
            if split == "train":
                pairs[7] = (pairs[7][0], "")  # a line left empty on one side
            _write(out / "americasnlp2021" / directory / f"{split}.es", "".join(f"{s}\n" for s, _ in pairs))
            _write(out / "americasnlp2021" / directory / f"{split}.{suffix}", "".join(f"{t}\n" for _, t in pairs))


def _csv_field(text: str) -> str:
    return f'"{text}"' if "," in text or '"' in text else text


def write_nusax_mt(out: Path) -> None:
    for code in NUSAX_MT:
        for split, n in (("train", 40), ("valid", 10)):
            lines = ["id,lang,source,target"]
            for i, (source, target) in enumerate(parallel_pairs("ind", code, split, n)):
                if i % 5 == 2:  # a sentence with a comma: quoted, as the real files quote such fields
                    source, target = source.replace(" .", ", ya ."), target.replace(" .", ", ya .")
                lines.append(f"{100 * (split == 'valid') + i},{NUSAX[code]},{_csv_field(source)},{_csv_field(target)}")
            _write(out / "nusax-mt" / NUSAX[code] / f"{split}.csv", "\n".join(lines) + "\n")


def write_nusax_shots(out: Path) -> None:
    """Train and validation splits of every NusaX language (and Indonesian's test set), none overlapping
    the language's test file."""
    for code, name in {**NUSAX, "ind": "indonesian"}.items():
        test = sentiment_examples(code, "test", 20)
        if code == "ind":
            lines = ["id,text,label"] + [f"{i},{text},{label}" for i, (text, label) in enumerate(test)]
            _write(out / "nusax" / name / "test.csv", "\n".join(lines) + "\n")
            continue
        held = {normalise_text(text) for text, _ in test}
        start = 1000
        for split, n in NUSAX_SHOTS.items():
            rows = [(text, label) for text, label in sentiment_examples(code, f"shots-{split}", n + 5)
                    if normalise_text(text) not in held][:n]
            lines = ["id,text,label"] + [f"{start + i},{text},{label}" for i, (text, label) in enumerate(rows)]
            start += 1000
            _write(out / "nusax" / name / f"{split}.csv", "\n".join(lines) + "\n", bom=code in NUSAX_BOM,
                   crlf=code in NUSAX_CRLF)


def edited(text: str, how: int) -> str:
    """A light edit of a sentence: case, punctuation, or one word replaced."""
    words = text.split()
    if how == 0:
        return text.lower()
    if how == 1:
        return text.rstrip(" .") + " !!"
    words[len(words) // 2] = words[len(words) // 2][::-1]
    return " ".join(words)


def write_smsa(out: Path) -> None:
    """IndoNLU's SMSA TSVs, holding 6 of the Indonesian NusaX test sentences as they are and 6 edited."""
    test = sentiment_examples("ind", "test", 20)
    for split, n in (("train", 300), ("valid", 60)):
        rows = list(sentiment_examples("ind", split, n))
        if split == "train":
            rng = random.Random(_seed("smsa-leak"))
            leaked = rng.sample(range(len(test)), 12)
            for number, index in enumerate(leaked):
                text, label = test[index]
                rows.insert(25 * number + 3, (text if number < 6 else edited(text, number % 3), label))
        assert all(label in SENTIMENTS for _, label in rows)
        lines = [f"{text}\t{SMSA_LABELS[label]}" for text, label in rows]
        _write(out / "smsa" / f"{split}_preprocess.tsv", "\n".join(lines) + "\n")


def write_holistic(out: Path) -> None:
    write_americasnlp(out)
    write_nusax_mt(out)
    write_nusax_shots(out)
    write_smsa(out)


SAMPLE_SETS["holistic"] = write_holistic
