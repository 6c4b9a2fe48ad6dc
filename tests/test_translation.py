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
    from xlt.config import parse

    with pytest.raises(ValueError, match=r"num_beams=0: must be an integer >= 1"):
        GenerationSettings(num_beams=0)
    with pytest.raises(ConfigError, match=r"nmt.generation: max_length=None: set max_length or max_new_tokens"):
        parse(GenerationSettings, {"max_length": None}, "nmt.generation")
    settings.max_new_tokens = 1
    with pytest.raises(ConfigError, match=r"nmt.generation.max_new_tokens=1"):
        settings.validate()

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
    with pytest.raises(ArtifactError, match="another translation job"):
        translate_records(records, ["premise", "hypothesis"], ReversingTranslator(), "eng_Latn", "grn_Latn",
                          tmp_path / "work", chunk_size=5, identity={"model": "another"})


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


# ----------------------------------------------------------------------------- NMT adaptation (task family)
def write_parallel(directory: Path, split: str, count: int, offset: int = 0) -> Path:
    """Spanish-like lines and their 'Bribri': every word reversed (a learnable mapping)."""
    lines = corpus_lines("es")[offset:offset + count]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{split}.es").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (directory / f"{split}.bzd").write_text(
        "".join(" ".join(word[::-1] for word in line.split()) + "\n" for line in lines), encoding="utf-8")
    return directory / f"{split}.es"


def test_parallel_text_reader(tmp_path):
    from xlt.data.locations import DataLocation, load_location, visible_columns

    source = write_parallel(tmp_path / "bribri-spanish", "dev", 5)
    (tmp_path / "bribri-spanish" / "dev.es").write_text("uno\n\ntres\ncuatro\ncinco\n", encoding="utf-8")
    dataset = load_location(DataLocation(path=str(source), format="parallel_text",
                                         options={"target_suffix": "bzd"}), "data.parallel.bzd")
    assert visible_columns(dataset.column_names) == ["source", "target"] and len(dataset) == 4  # blank pair skipped
    assert dataset[1]["_source"] == f"{source}:3"  # rows keep their line (for errors found later)
    assert {k: dataset[1][k] for k in ("source", "target")} == {
        "source": "tres", "target": " ".join(w[::-1] for w in corpus_lines("es")[2].split())}
    renamed = load_location(DataLocation(path=str(source), format="parallel_text",
                                         options={"target": "dev.bzd", "source_column": "es",
                                                  "target_column": "bzd"}), "x")
    assert visible_columns(renamed.column_names) == ["es", "bzd"]
    (tmp_path / "bribri-spanish" / "dev.bzd").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.es \(5 lines\) and .*dev.bzd \(2 lines\) are not line-aligned"):
        load_location(DataLocation(path=str(source), format="parallel_text", options={"target_suffix": "bzd"}), "x")
    with pytest.raises(DataError, match="needs options.target or options.target_suffix"):
        load_location(DataLocation(path=str(source), format="parallel_text"), "x")


TRANSLATION_TASK = {"family": "translation", "source_code": "spa_Latn", "target_code": "bzd_Latn",
                    "new_language_code": "bzd_Latn", "new_code_init": "copy:spa_Latn", "max_length": 32,
                    "generation": {"max_new_tokens": 20, "batch_size": 8},
                    "train": {"lr": 3e-3, "batch_size": 8, "max_epochs": 40, "eval_every": 40}}


def test_translation_family_fits_with_the_fitter_and_selects_by_chrf(cache_dir, tmp_path):
    import sacrebleu
    import torch

    from xlt.data.locations import DataLocation, load_location
    from xlt.models.loading import ModelConfig, load_tokenizer
    from xlt.models.nmt import code_id
    from xlt.tasks import build_task
    from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

    path = str(tiny_nmt(cache_dir))
    tokenizer = load_tokenizer(path)
    family = build_task(TRANSLATION_TASK, tokenizer)
    assert family.schedule.lr == 3e-3 and family.metric().primary == "chrf"

    def read(split: str, count: int, offset: int) -> list:
        source = write_parallel(tmp_path / "parallel", split, count, offset)
        location = DataLocation(path=str(source), format="parallel_text", options={"target_suffix": "bzd"})
        return family.preprocess(load_location(location, split), split)

    train, heldout = read("train", 64, 0), read("dev", 16, 64)
    bzd = code_id(tokenizer, "bzd_Latn")
    assert train[0]["labels"][0] == bzd and train[0]["labels"][-1] == tokenizer.eos_token_id
    assert tokenizer.convert_ids_to_tokens(train[0]["input_ids"][0]) == "spa_Latn"
    batch = family.collator()(train[:3])
    assert batch["labels"].shape[0] == 3 and (batch["labels"] == -100).any() == (len({len(e["labels"])
                                                                                     for e in train[:3]}) > 1)
    assert batch["references"] == [e["references"] for e in train[:3]]

    model = family.build_model(path, ModelConfig(name_or_path=path))
    embeddings = model.backbone.get_input_embeddings().weight
    assert torch.equal(embeddings[bzd], embeddings[code_id(tokenizer, "spa_Latn")])  # copy:spa_Latn
    assert model.head_parameters() == {}  # the body is the whole NMT model (output layer tied)

    def chrf() -> float:
        model.eval()
        collated = family.collator()(heldout)
        with torch.no_grad():
            hypotheses = model.translate(collated["input_ids"], collated["attention_mask"])
        assert not any("bzd_Latn" in h for h in hypotheses)
        return sacrebleu.corpus_chrf(hypotheses, [collated["references"]]).score

    before = chrf()
    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=160),
                    LoggerConfig(csv=False), tmp_path / "logs", "nmt", seed=0)
    result = fitter.fit(model, train, {"bzd": heldout}, family.collator(), family.schedule, "full")
    assert result.steps == 160 and result.best_step in (40, 80, 120, 160)  # validated every 40 steps
    assert set(result.metrics) >= {"val/chrf", "val/bleu", "val/bzd/chrf", "val/bzd/bleu"}
    # the selected state is restored, and its chrF is that of real greedy translations of the held-out pairs
    assert chrf() == pytest.approx(result.metrics["val/chrf"], abs=1e-3)
    assert result.metrics["val/chrf"] > before + 5  # it learnt something
    evaluated = fitter.evaluate(model, {"bzd": heldout}, family.collator(), 8)
    assert evaluated["bzd"]["chrf"] == pytest.approx(result.metrics["val/chrf"], abs=1e-3)


def test_translation_family_config_errors(cache_dir):
    from xlt.models.loading import load_tokenizer
    from xlt.tasks import build_task

    tokenizer = load_tokenizer(str(tiny_nmt(cache_dir)))
    with pytest.raises(ConfigError, match=r"task.target_code='bzd_Latn': not a language code"):
        build_task({**TRANSLATION_TASK, "new_language_code": None}, tokenizer)
    with pytest.raises(ConfigError, match=r"task.metric='ter'"):
        build_task({**TRANSLATION_TASK, "metric": "ter"}, tokenizer)
    with pytest.raises(ConfigError, match=r"task: missing required key 'source_code'"):
        build_task({"family": "translation", "target_code": "eng_Latn"}, tokenizer)
    with pytest.raises(ConfigError, match=r"task.generation: num_beams=0"):
        build_task({**TRANSLATION_TASK, "generation": {"num_beams": 0}}, tokenizer)


def test_translation_family_trains_with_ltsft(cache_dir, tmp_path):
    """LT-SFT instead of full fine-tuning (§6.3.3 option): the SFT covers the NMT body only."""
    from xlt.data.locations import DataLocation, load_location
    from xlt.methods import TrainRequest
    from xlt.methods.sparse.config import SparseModuleConfig
    from xlt.methods.sparse.procedure import train_sparse
    from xlt.models.loading import ModelConfig, load_tokenizer
    from xlt.tasks import build_task
    from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig

    path = str(tiny_nmt(cache_dir))
    family = build_task(TRANSLATION_TASK, load_tokenizer(path))
    source = write_parallel(tmp_path / "parallel", "train", 32)
    examples = family.preprocess(load_location(DataLocation(path=str(source), format="parallel_text",
                                                            options={"target_suffix": "bzd"}), "train"), "train")
    model = family.build_model(path, ModelConfig(name_or_path=path))
    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False, max_steps_per_phase=4),
                    LoggerConfig(csv=False), tmp_path / "logs", "nmt", seed=0)
    request = TrainRequest(model, examples, {"bzd": examples[:8]}, family.collator(), family.schedule, fitter,
                           seed=0, reference_params=None)
    module, summary = train_sparse(SparseModuleConfig(method="ltsft", num_trainable=2000), request)
    body = dict(model.body.named_parameters())
    assert set(module.sft.diffs) <= set(body) and "shared.weight" in body and not module.sft.abs
    assert module.sft.num_entries == 2000
    assert any(key.endswith("chrf") for key in summary)


def test_translation_family_reverse_direction_for_translate_test(cache_dir, tmp_path):
    """X -> source (translate-test): the new code is the input side's."""
    from xlt.data.locations import DataLocation, load_location
    from xlt.models.loading import load_tokenizer
    from xlt.tasks import build_task

    tokenizer = load_tokenizer(str(tiny_nmt(cache_dir)))
    family = build_task({**TRANSLATION_TASK, "source_code": "bzd_Latn", "target_code": "spa_Latn",
                         "source_field": "bzd", "target_field": "es"}, tokenizer)
    source = write_parallel(tmp_path / "parallel", "dev", 4)
    location = DataLocation(path=str(source), format="parallel_text",
                            options={"target_suffix": "bzd", "source_column": "es", "target_column": "bzd"})
    examples = family.preprocess(load_location(location, "dev"), "dev")
    assert tokenizer.convert_ids_to_tokens(examples[0]["input_ids"][0]) == "bzd_Latn"
    assert tokenizer.convert_ids_to_tokens(examples[0]["labels"][0]) == "spa_Latn"
    assert examples[0]["references"] == corpus_lines("es")[0]
