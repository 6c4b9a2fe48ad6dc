"""Translation backends and the resumable translation engine (xlt.translation, thesis §6.4.2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.nmt_helpers import corpus_lines, tiny_nmt
from xlt.errors import ArtifactError, ConfigError, DataError
from xlt.translation import (
    CTranslate2Translator,
    GenerationSettings,
    TransformersTranslator,
    Translator,
    translate_records,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def diverse_nmt(cache_dir) -> Path:
    """A random tiny model whose greedy outputs differ from input to input (large initial weights)."""
    return tiny_nmt(cache_dir, init_std=1.0)


# ----------------------------------------------------------------------------- settings
def test_generation_settings_defaults_key_and_validation():
    settings = GenerationSettings()
    assert (settings.num_beams, settings.max_length, settings.batch_size) == (1, 128, 32)  # the reference's
    assert settings.decoding_steps == 127  # max_length counts the decoder start token too
    assert GenerationSettings(max_new_tokens=20).decoding_steps == 20
    assert "batch_size" not in settings.key()  # batching does not decide the translations
    assert GenerationSettings(max_length=50).key() == GenerationSettings(max_new_tokens=49).key()
    assert GenerationSettings(batch_size=4).key() == settings.key() != GenerationSettings(num_beams=4).key()
    with pytest.raises(ConfigError, match=r"nmt.generation.num_beams=0"):
        GenerationSettings(num_beams=0)
    with pytest.raises(ConfigError, match=r"nmt.generation: set max_length or max_new_tokens"):
        GenerationSettings(max_length=None)
    from xlt.config import parse

    with pytest.raises(ConfigError, match=r"nmt.generation: unknown key 'beams'"):
        parse(GenerationSettings, {"beams": 4}, "nmt.generation")


# ----------------------------------------------------------------------------- backends
def test_backends_give_the_same_greedy_output(diverse_nmt, cache_dir):
    texts = corpus_lines("es", 24) + ["Kadomon", "Kumana kuxarun kadomon xun buzun xunau . " * 12]
    settings = GenerationSettings(max_new_tokens=16, batch_size=8, max_input_length=64)
    hf = TransformersTranslator.load(str(diverse_nmt), settings, device="cpu")
    ct2 = CTranslate2Translator(diverse_nmt, cache_dir, settings, device="cpu", compute_type="float32")
    for target in ("eng_Latn", "ayr_Latn"):
        expected = hf.translate(texts, "spa_Latn", target)
        assert ct2.translate(texts, "spa_Latn", target) == expected
        assert len(set(expected)) > len(texts) // 2  # real, input-dependent outputs
        assert not any("_Latn" in text for text in expected)  # codes stripped
    assert hf.translate(texts[:3], "spa_Latn", "eng_Latn") != hf.translate(texts[:3], "spa_Latn", "ayr_Latn")
    # random models run to the length cap: equal outputs mean both count max_new_tokens alike
    assert max(len(ids) for ids in hf.tokenizer(expected, add_special_tokens=False)["input_ids"]) > 12
    assert hf.token_lengths(texts[-1:])[0] > 64  # the long input was truncated, identically in both


def test_backends_reject_unknown_codes(diverse_nmt):
    hf = TransformersTranslator.load(str(diverse_nmt), GenerationSettings(max_new_tokens=4), device="cpu")
    with pytest.raises(ConfigError, match=r"target language code='bzd_Latn'"):
        hf.translate(["Kadomon"], "spa_Latn", "bzd_Latn")


def test_ctranslate2_conversion_is_cached_by_content(diverse_nmt, tmp_path):
    import shutil

    from xlt.translation import convert_to_ctranslate2

    first = convert_to_ctranslate2(diverse_nmt, tmp_path)
    stamp = (first / "model.bin").stat().st_mtime_ns
    copy = tmp_path / "copy"
    shutil.copytree(diverse_nmt, copy)
    assert convert_to_ctranslate2(copy, tmp_path) == first  # same content: converted once
    assert (first / "model.bin").stat().st_mtime_ns == stamp
    assert convert_to_ctranslate2(diverse_nmt, tmp_path, quantization="int8") != first
    with pytest.raises(ConfigError, match="nmt.ctranslate2"):
        CTranslate2Translator(diverse_nmt, tmp_path, compute_type="float64", device="cpu")


# ----------------------------------------------------------------------------- engine
class ReversingTranslator(Translator):
    """A deterministic stand-in backend for the engine's bookkeeping tests: '<code>|<reversed text>'."""

    backend = "reverse"

    def __init__(self):
        super().__init__(None, GenerationSettings(max_input_length=6))
        self.seen: list[str] = []

    def token_lengths(self, texts):
        return [len(text.split()) for text in texts]

    def translate(self, texts, src_code, tgt_code):
        self.seen.extend(texts)
        return [f"{tgt_code}|{text[::-1]}" for text in texts]

    def _translate_batch(self, batch, tgt_code, target_id):  # pragma: no cover - translate is overridden
        raise AssertionError


def nli_records(count: int) -> list[dict]:
    """NLI-like rows: each premise three times, some hypotheses repeated, ids and labels."""
    premises = corpus_lines("es")
    records = []
    for number in range(count):
        premise = premises[(number // 3) % len(premises)]
        hypothesis = premises[(number * 7 + 1) % len(premises)] if number % 4 else "Kadomon xun ."
        records.append({"id": f"ex{number}", "premise": premise, "hypothesis": hypothesis,
                        "label": ["entailment", "neutral", "contradiction"][number % 3], "genre": number % 5})
    return records


def test_engine_translates_fields_keeps_columns_and_dedupes(tmp_path):
    records = nli_records(60)
    records[5]["hypothesis"] = ""  # blank and missing texts stay as they are
    records[6]["hypothesis"] = None
    translator = ReversingTranslator()
    output, stats = translate_records(records, ["premise", "hypothesis"], translator, "eng_Latn", "ayr_Latn",
                                      tmp_path / "work", chunk_size=7)
    assert len(output) == len(records)
    for source, translated in zip(records, output):
        assert set(translated) == set(source)
        assert (translated["id"], translated["label"], translated["genre"]) == (
            source["id"], source["label"], source["genre"])
        assert translated["premise"] == "ayr_Latn|" + source["premise"][::-1]
        if source["hypothesis"]:
            assert translated["hypothesis"] == "ayr_Latn|" + source["hypothesis"][::-1]
    assert output[5]["hypothesis"] == "" and output[6]["hypothesis"] is None
    unique = {r[f] for r in records for f in ("premise", "hypothesis") if r[f]}
    assert sorted(translator.seen) == sorted(unique)  # every distinct text exactly once
    assert stats.segments == 118 and stats.unique_segments == len(unique) == stats.translated
    assert stats.truncated == sum(len(text.split()) > 6 for text in unique)
    assert records[0]["premise"] == corpus_lines("es")[0]  # the input is not modified


def test_engine_sorts_chunks_by_length(tmp_path):
    translator = ReversingTranslator()
    calls: list[list[str]] = []
    original = translator.translate
    translator.translate = lambda texts, s, t: (calls.append(list(texts)), original(texts, s, t))[1]
    records = [{"text": " ".join(["w"] * n) + f" {n}"} for n in (3, 9, 1, 7, 5, 2)]
    translate_records(records, ["text"], translator, "ind_Latn", "jav_Latn", tmp_path, chunk_size=2)
    lengths = [[len(text.split()) for text in chunk] for chunk in calls]
    assert lengths == [[10, 8], [6, 4], [3, 2]]  # longest first, so padding is minimal


def test_engine_resumes_after_an_interruption_without_losing_or_repeating_rows(tmp_path):
    records = nli_records(90)
    reference, _ = translate_records(records, ["premise", "hypothesis"], ReversingTranslator(), "eng_Latn",
                                     "grn_Latn", tmp_path / "reference", chunk_size=5)

    class Preempted(Exception):
        pass

    def preempt_after_three(done, total):
        if done == 3:
            raise Preempted

    first = ReversingTranslator()
    with pytest.raises(Preempted):
        translate_records(records, ["premise", "hypothesis"], first, "eng_Latn", "grn_Latn", tmp_path / "work",
                          chunk_size=5, after_chunk=preempt_after_three)
    progress = json.loads((tmp_path / "work" / "progress.json").read_text())
    assert progress["chunks_done"] == 3 and len(first.seen) == 15
    second = ReversingTranslator()
    output, stats = translate_records(records, ["premise", "hypothesis"], second, "eng_Latn", "grn_Latn",
                                      tmp_path / "work", chunk_size=5)
    assert output == reference
    assert stats.resumed == 15 and stats.translated == stats.unique_segments - 15
    assert not set(first.seen) & set(second.seen)  # nothing translated twice
    # another job's work dir is refused, not mixed in
    with pytest.raises(ArtifactError, match="another translation job"):
        translate_records(records, ["premise", "hypothesis"], ReversingTranslator(), "eng_Latn", "quy_Latn",
                          tmp_path / "work", chunk_size=5)


def test_engine_bad_records(tmp_path):
    with pytest.raises(DataError, match=r"train.jsonl: record 1 has no field 'hypothesis'"):
        translate_records([{"premise": "a", "hypothesis": "b"}, {"premise": "c"}], ["premise", "hypothesis"],
                          ReversingTranslator(), "eng_Latn", "ayr_Latn", tmp_path, where="train.jsonl")
    with pytest.raises(DataError, match=r"record 0 field 'text' is int"):
        translate_records([{"text": 3}], ["text"], ReversingTranslator(), "eng_Latn", "ayr_Latn", tmp_path)


KILLED_JOB = """
import json, sys, time
from xlt.translation import GenerationSettings, TransformersTranslator, translate_records
records = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
translator = TransformersTranslator.load(sys.argv[1], GenerationSettings(max_new_tokens=12, batch_size=4), device="cpu")
translate_records(records, ["premise", "hypothesis"], translator, "spa_Latn", "eng_Latn", sys.argv[3], chunk_size=6,
                  after_chunk=lambda done, total: time.sleep(0.5))
"""


@pytest.mark.slow
def test_killed_translation_job_resumes_exactly(diverse_nmt, tmp_path):
    records = nli_records(36)
    (tmp_path / "input.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (tmp_path / "job.py").write_text(KILLED_JOB)
    work = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, str(tmp_path / "job.py"), str(diverse_nmt),
                                str(tmp_path / "input.jsonl"), str(work)], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((work / "parts").glob("part-*.jsonl"))) < 2:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    progress = json.loads((work / "progress.json").read_text())
    assert 2 <= progress["chunks_done"] < progress["chunks"]  # killed mid-job

    settings = GenerationSettings(max_new_tokens=12, batch_size=4)
    translator = TransformersTranslator.load(str(diverse_nmt), settings, device="cpu")
    resumed, stats = translate_records(records, ["premise", "hypothesis"], translator, "spa_Latn", "eng_Latn",
                                       work, chunk_size=6)
    assert stats.resumed >= 12 and stats.resumed + stats.translated == stats.unique_segments
    fresh, _ = translate_records(records, ["premise", "hypothesis"], translator, "spa_Latn", "eng_Latn",
                                 tmp_path / "fresh", chunk_size=6)
    assert resumed == fresh
    assert [(r["id"], r["label"]) for r in resumed] == [(r["id"], r["label"]) for r in records]
