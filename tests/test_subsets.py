"""Seeded subsets where the thesis samples (xlt.data.sampling): the MAD-G generator's articles of a whole
Wikipedia dump (§3.4.3), MAD-G-ft's 1k..100k words (§3.5.3) and chapter 3's 12,000 / 600 source sentences
(§3.4.3); ``first`` keeps the reference code's first N."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest

from tests.helpers import compose_config
from xlt.config import parse
from xlt.data.locations import DataLocation
from xlt.data.readers import PLAIN_TEXT, TextFileFormat
from xlt.data.sampling import first_words, sample_words, subset_order, subset_rng
from xlt.errors import ConfigError
from xlt.methods.madg.config import MadgConfig
from xlt.pipeline.data_config import parse_data_config
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.stages.madg import FinetuneConfig, finetune_texts, generator_texts
from xlt.pipeline.stages.task_module import _source_examples


# ---------------------------------------------------------------------------- the primitives
def test_subset_order_is_seeded_covers_everything_and_has_the_exact_size():
    draw = subset_order(1000, 100, "random", subset_rng(1, "x", "fo"))
    assert len(draw) == len(set(draw.tolist())) == 100 and 0 <= draw.min() and draw.max() < 1000
    assert np.array_equal(draw, subset_order(1000, 100, "random", subset_rng(1, "x", "fo")))  # same seed, same
    assert set(draw.tolist()) != set(subset_order(1000, 100, "random", subset_rng(2, "x", "fo")).tolist())
    assert set(draw.tolist()) != set(subset_order(1000, 100, "random", subset_rng(1, "x", "gv")).tolist())
    assert (draw >= 900).any()  # not a prefix: the end of the input is drawn from too
    assert np.array_equal(subset_order(1000, 100, "first", subset_rng(1)), np.arange(100))
    assert len(subset_order(50, 100, "random", subset_rng(1))) == 50  # fewer items than N: all of them
    assert len(subset_order(50, None, "random", subset_rng(1))) == 50
    bigger = subset_order(1000, 300, "random", subset_rng(1, "x", "fo"))
    assert np.array_equal(bigger[:100], draw)  # a larger N extends the smaller sample


def corpus(lines: int, words: int = 5) -> list[str]:
    """Texts of two lines each (an article's paragraphs), every word unique: 'L<line>w<word>'."""
    paragraphs = [" ".join(f"L{i}w{j}" for j in range(words)) for i in range(lines)]
    return ["\n".join(paragraphs[i:i + 2]) for i in range(0, lines, 2)]


def test_sample_words_is_seeded_exact_and_drawn_from_the_whole_corpus():
    texts = corpus(400)  # 2,000 words in 400 lines
    sample = sample_words(texts, 103, subset_rng(7, "madg-ft", "fo"))
    words = " ".join(sample).split()
    assert len(words) == 103 and len(set(words)) == 103
    assert sample == sample_words(texts, 103, subset_rng(7, "madg-ft", "fo"))
    assert sample != sample_words(texts, 103, subset_rng(8, "madg-ft", "fo"))
    lines = {int(word[1:].split("w")[0]) for word in words}
    assert max(lines) >= 300 and len(lines) >= 20  # lines from all over, not the first 21
    smaller = " ".join(sample_words(texts, 40, subset_rng(7, "madg-ft", "fo"))).split()
    assert words[:40] == smaller  # nested: 1k words are the start of the 3k sample
    assert len(" ".join(sample_words(texts, 5000, subset_rng(7))).split()) == 2000  # a smaller corpus: all of it
    assert first_words(texts, 12) == ["L0w0 L0w1 L0w2 L0w3 L0w4 L1w0 L1w1 L1w2 L1w3 L1w4", "L2w0 L2w1"]  # a prefix


# ---------------------------------------------------------------------------- the three uses
def test_madg_ft_words_are_a_seeded_sample_shared_by_both_inits():
    dump = datasets.Dataset.from_dict({"text": corpus(400)})
    generated = finetune_texts(dump, FinetuneConfig(words=100, init="generated"), 42, "fo")
    rand = finetune_texts(dump, FinetuneConfig(words=100, init="random"), 42, "fo")
    assert generated == rand  # MAD-G-ft and rand-ft fine-tune on the same data (§3.5.3)
    assert len(" ".join(generated).split()) == 100
    assert generated != finetune_texts(dump, FinetuneConfig(words=100), 43, "fo")
    assert generated != finetune_texts(dump, FinetuneConfig(words=100), 42, "gv")
    assert max(int(w[1:].split("w")[0]) for w in " ".join(generated).split()) >= 300
    first = finetune_texts(dump, FinetuneConfig(words=100, subset="first"), 42, "fo")
    assert " ".join(first).split() == [f"L{i}w{j}" for i in range(20) for j in range(5)]
    with pytest.raises(ConfigError, match="recipe.finetune.subset='last'"):
        FinetuneConfig(subset="last")


def test_generator_reads_a_seeded_order_of_the_whole_dump():
    dump = datasets.Dataset.from_dict({"text": [f"article {i}" for i in range(1000)]})

    def read(cfg: MadgConfig, seed: int, lang: str, count: int) -> list[int]:
        texts = generator_texts(dump, cfg, seed, lang)
        return [int(next(texts).split()[1]) for _ in range(count)]

    random = read(MadgConfig(), 42, "kv", 50)  # the articles the first max_sequences blocks come from
    assert random == read(MadgConfig(), 42, "kv", 50) and random != read(MadgConfig(), 43, "kv", 50)
    assert random != read(MadgConfig(), 42, "se", 50)  # seeded by the language, not its position in the list
    assert max(random) >= 900 and len(set(random)) == 50
    assert read(MadgConfig(corpus_subset="first"), 42, "kv", 50) == list(range(50))
    capped = [int(t.split()[1]) for t in generator_texts(dump, MadgConfig(max_articles=100), 42, "kv")]
    assert len(capped) == len(set(capped)) == 100 and max(capped) >= 900
    first = [int(t.split()[1]) for t in generator_texts(dump, MadgConfig(max_articles=100, corpus_subset="first"),
                                                           42, "kv")]
    assert first == list(range(100))
    with pytest.raises(ConfigError, match="lang_module.corpus_subset='all'"):
        parse(MadgConfig, {"method": "madg", "corpus_subset": "all"}, "lang_module")


class Rows:
    """A task family's preprocessing reduced to the rows (the selection is what is tested here)."""

    @staticmethod
    def preprocess(dataset: datasets.Dataset, where: str) -> list[dict]:
        return [dict(row) for row in dataset]

    @staticmethod
    def text_file_format() -> TextFileFormat:
        return PLAIN_TEXT


def test_source_sentences_are_a_seeded_sample_of_all_the_train_files(tmp_path):
    locations = []
    for part in range(2):  # e.g. cs_pdt's four train files: one pool
        path = tmp_path / f"train-{part}.jsonl"
        path.write_text("".join(json.dumps({"id": part * 500 + i}) + "\n" for i in range(500)))
        locations.append(DataLocation(path=str(path)))

    def ids(subset: str, seed: int, lang: str = "en", cap: int | None = 120) -> list[int]:
        rows = _source_examples(Rows, locations, cap, "data.sources.en.train", subset,
                                subset_rng(seed, "source", lang, "train"))
        return [row["id"] for row in rows]

    sample = ids("random", 42)
    assert len(sample) == len(set(sample)) == 120 and sample == sorted(sample)  # kept in file order
    assert sample == ids("random", 42) and sample != ids("random", 43) and sample != ids("random", 42, "cs")
    assert max(sample) >= 900 and min(sample) < 500  # from both files, up to the end
    assert ids("first", 42) == list(range(120))
    assert ids("random", 42, cap=None) == ids("first", 42, cap=None) == list(range(1000))
    node = {"name": "x", "sources": {"en": {"train": {"path": "t"}, "subset": "sample"}}}
    with pytest.raises(ConfigError, match="data.sources.en.subset='sample'"):
        parse_data_config(node)


# ---------------------------------------------------------------------------- the option is in the artifact keys
def test_the_subset_rule_is_part_of_every_stage_key(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))

    def stages(*overrides: str) -> dict:
        cfg = compose_config(["+experiment=madg_ft_ud", "+profile=smoke", *overrides], tmp_path)
        plan = plan_experiment(Experiment(cfg, tmp_path / "run"))
        return {stage.label: stage for stage in plan.stages}

    default = stages()
    assert default["task"].spec["sources"][0]["subset"] == "random"  # chapter 3 samples its source sentences
    assert default["lang_ft/fo"].spec["finetune"]["subset"] == "random"
    assert default["generator"].spec["module"]["corpus_subset"] == "random"
    changed = {"task": stages("data.source_defaults.subset=first"),
               "lang_ft/fo": stages("recipe.finetune.subset=first"),
               "generator": stages("lang_module.corpus_subset=first")}
    for label, plan in changed.items():
        assert plan[label].key != default[label].key, label
    assert stages("seed=7")["task"].key != default["task"].key  # the sample is the seed's


def test_chapter_4_configs_keep_the_first_examples(tmp_path):
    """Chapter 4's reference code takes the first max_train_samples: its configs keep ``first``."""
    exp = Experiment(compose_config(["+experiment=ltsft_ud_dp_multisource", "+profile=smoke"], tmp_path), tmp_path)
    assert {spec.subset for spec in exp.data.mixture()} == {"first"}
