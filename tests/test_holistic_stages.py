"""Chapter 6's stages built on their own (smoke profile, tiny models): gold shots, SMSA trimming, the NMT model
adapted to a new language, and a translation stage that resumes after its job is killed (thesis §6.3-6.4)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, launch_env, read_json
from tests.test_holistic import experiment
from xlt.data.near_duplicates import normalise_text
from xlt.errors import DataError
from xlt.paths import SAMPLES_DIR
from xlt.pipeline.runner import Runner, Stage
from xlt.pipeline.stages.nmt import nmt_adaptation_stage, nmt_base_model
from xlt.pipeline.stages.shots import shots_stage
from xlt.pipeline.stages.translation import translation_stage
from xlt.pipeline.stages.trimming import trim_stage


def build(exp, stage: Stage, run_dir: Path):
    return Runner(exp.store, run_dir, announce=lambda _: None).run([stage])[stage.label]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def dev_rows(lang: str) -> list[dict]:
    with open(SAMPLES_DIR / "americasnli" / "dev.tsv", encoding="utf-8-sig", newline="") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["language"] == lang]


def test_shots_stage_samples_from_the_targets_own_split(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir)
    pool = [(r["premise"], r["hypothesis"], r["label"]) for r in dev_rows("aym")]

    def shots(k: int, policy: str = "random", seed: int = 42):
        result = build(exp, shots_stage(exp, "aym", k, policy, seed), tmp_path / "run")
        return [(r["premise"], r["hypothesis"], r["label"]) for r in read_jsonl(result.path / "shots.jsonl")], \
            result.metrics

    twenty, metrics = shots(20)
    assert len(twenty) == 20 and set(twenty) <= set(pool) and not metrics["clipped"]
    assert twenty == [row for row in pool if row in twenty]  # kept in the split's order
    assert set(twenty) <= set(shots(25)[0])  # nested: one seeded permutation cut at K
    assert shots(20, seed=7)[0] != twenty  # seeded
    assert shots(20, "first")[0] == pool[:20]  # the reference code's choice
    stratified, metrics = shots(12, "stratified")
    assert len(stratified) == 12 and metrics["labels"] == {"contradiction": 4, "entailment": 4, "neutral": 4}
    everything, metrics = shots(500)  # more than exist: all of them, with a note
    assert sorted(everything) == sorted(pool) and metrics["clipped"] and metrics["taken"] == 30
    assert "500 shots requested but only 30" in metrics["note"]


def test_shots_overlapping_the_test_set_are_refused(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir, "data.target.test.sample.path=americasnli/dev.tsv")
    with pytest.raises(DataError, match=r"data.target.shots \(aym\): 20 example\(s\) also in the test set "
                                        r"data.target.test \(aym\)"):
        build(exp, shots_stage(exp, "aym", 20, "random", 0), tmp_path / "run")


def test_nusax_shots_come_from_train_and_validation(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir, name="holistic_nusax")
    result = build(exp, shots_stage(exp, "mad", 1000, "random", 0), tmp_path / "run")
    assert result.metrics["available"] == 50 and result.metrics["taken"] == 50  # 40 train + 10 validation
    test = (SAMPLES_DIR / "nusax" / "madurese" / "test.csv").read_text(encoding="utf-8-sig")
    assert not {normalise_text(r["text"]) for r in read_jsonl(result.path / "shots.jsonl")} & \
        {normalise_text(line.split(",", 1)[1].rsplit(",", 1)[0]) for line in test.splitlines()[1:]}


def test_smsa_trimming_stage_removes_the_nusax_test_sentences(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir, name="holistic_nusax")
    source = exp.data.mixture()[0]
    result = build(exp, trim_stage(exp, source, "train"), tmp_path / "run")
    metrics = result.metrics
    # the bundled SMSA sample holds 12 of the 20 Indonesian NusaX test sentences: 10 equal after normalisation
    # (as they are, lower-cased, other punctuation), 2 with a word changed
    assert (metrics["train"], metrics["removed"], metrics["removed_exact"], metrics["removed_near"]) == (312, 12, 10, 2)
    assert metrics["kept"] == 300 and metrics["unmatched_tests"] == 8
    assert {row["why"] for row in metrics["removed_rows"]} >= {"equal after normalisation"}
    assert all(row["similarity"] >= 0.85 for row in metrics["removed_rows"])
    # the reference rule (each test sentence's nearest neighbour) would also drop 8 unrelated rows
    assert metrics["nearest_not_removed"] == 8
    kept = read_jsonl(result.path / "train.jsonl")
    assert len(kept) == 300 and set(kept[0]) == {"text", "label"}
    report = read_json(result.path / "trim_report.json")
    assert len(report["examples"]) == 12 and len(report["nearest"]) == 20


def test_nmt_adaptation_adds_a_code_that_survives_save_and_starts_generation(tmp_path, cache_dir):
    import torch

    from xlt.models.nmt import code_id, language_codes, load_nmt

    exp = experiment(tmp_path, cache_dir)
    base = nmt_base_model(exp)
    result = build(exp, nmt_adaptation_stage(exp, "bzd"), tmp_path / "run")
    assert result.stage.label == "nmt/es-bzd"
    metrics = result.metrics
    assert metrics["code"] == "bzd_Latn" and metrics["init"] == "copy:spa_Latn"
    assert metrics["train_pairs"] == 59 and metrics["heldout_pairs"] == 16  # the pair with a blank side skipped
    assert "val/chrf" in metrics and "val/bleu" in metrics and metrics["direction"] == "spa_Latn->bzd_Latn"
    model, tokenizer = load_nmt(str(result.path), device="cpu")
    assert "bzd_Latn" in language_codes(tokenizer) and "bzd_Latn" not in language_codes(
        load_nmt(base.location, device="cpu")[1])
    new = code_id(tokenizer, "bzd_Latn")
    assert new == metrics["code_id"] and model.get_input_embeddings().weight.shape[0] > new
    tokenizer.src_lang = "spa_Latn"
    inputs = tokenizer(["Kadomon kuxarun ."], return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**inputs, forced_bos_token_id=new, max_new_tokens=5)
    assert generated[0, 0].item() == model.generation_config.decoder_start_token_id and generated[0, 1].item() == new

    reverse = build(exp, nmt_adaptation_stage(exp, "bzd", reverse=True), tmp_path / "run")
    assert reverse.stage.label == "nmt/bzd-es" and reverse.metrics["direction"] == "bzd_Latn->spa_Latn"


def test_nmt_adaptation_with_ltsft(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir, "nmt.adaptation.method=ltsft", "nmt.adaptation.density=0.05")
    result = build(exp, nmt_adaptation_stage(exp, "bzd"), tmp_path / "run")
    assert result.metrics["method"] == "ltsft" and result.metrics["k"] > 0
    assert {"phase1/steps", "phase2/steps"} <= set(result.metrics)
    assert (result.path / "config.json").exists() and (result.path / "tokenizer.json").exists()


CHILD = """
import sys, time
from pathlib import Path
from tests.test_holistic import experiment
from tests.test_holistic_stages import build, validation_translation
from xlt.translation import backends

original = backends.TransformersTranslator._translate_batch
def slow(self, *args):
    time.sleep(0.3)
    return original(self, *args)
backends.TransformersTranslator._translate_batch = slow
tmp, cache = Path(sys.argv[1]), Path(sys.argv[2])
exp = experiment(tmp, cache, "nmt.chunk_size=16", "nmt.generation.batch_size=8")
build(exp, validation_translation(exp), tmp / "run")
"""


def validation_translation(exp) -> Stage:
    source = exp.data.mixture()[0]
    return translation_stage(exp, "aym", "validation", source.validation, "en", "aym", nmt_base_model(exp),
                             "data.sources.en.validation")


def test_translation_stage_resumes_after_its_job_is_killed(tmp_path, cache_dir):
    exp = experiment(tmp_path, cache_dir, "nmt.chunk_size=16", "nmt.generation.batch_size=8")
    stage = validation_translation(exp)
    progress = exp.store.work_dir(stage.kind, stage.key) / "chunks-16" / "progress.json"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(cache_dir)], cwd=REPO,
                             env=launch_env(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if progress.exists() and json.loads(progress.read_text())["chunks_done"] >= 2:
                break
            if child.poll() is not None:
                pytest.fail(f"the translation finished before it was killed: {child.stdout.read()[-2000:]}")
            time.sleep(0.1)
        else:
            pytest.fail("no progress")
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    done = json.loads(progress.read_text())
    assert 2 <= done["chunks_done"] < done["chunks"]
    assert not exp.store.is_done(stage.kind, stage.key)

    resumed = build(exp, stage, tmp_path / "run")
    metrics = resumed.metrics
    assert metrics["resumed"] >= 32 and metrics["translated"] + metrics["resumed"] == metrics["unique_segments"]
    rows = read_jsonl(resumed.path / "validation.jsonl")
    fresh_exp = experiment(tmp_path / "fresh", cache_dir, "nmt.chunk_size=16", "nmt.generation.batch_size=8")
    fresh = build(fresh_exp, validation_translation(fresh_exp), tmp_path / "fresh" / "run")
    assert fresh.stage.key == stage.key and fresh.metrics["resumed"] == 0
    assert rows == read_jsonl(fresh.path / "validation.jsonl")  # nothing dropped, duplicated or reordered
    source = [json.loads(line) for line in (SAMPLES_DIR / "multinli" / "multinli_1.0_dev_matched.jsonl")
              .read_text().splitlines()]
    assert len(rows) == len(source) == metrics["records"]
    assert [(r["pairID"], r["label"]) for r in rows] == [(s["pairID"], s["gold_label"]) for s in source]
    assert all(r["premise"] != s["sentence1"] for r, s in zip(rows, source))  # translated
