"""Readers, locations, bundled samples and collators."""

from __future__ import annotations

import filecmp
import json

import pytest
import torch

from xlt.data.collators import MLMCollator
from xlt.data.locations import DataLocation, effective, fingerprint, load_location, parse_location, row_origins
from xlt.data.readers import read_file
from xlt.data.sampling import EpochBatchSampler
from xlt.data.synthetic import SAMPLES_DIR, generate
from xlt.errors import ConfigError, DataError


def test_tsv_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("language\tpremise\thypothesis\tlabel\naym\ta\tb\tneutral\naym\tonly-two\n")
    with pytest.raises(DataError, match=r"test\.tsv:3: expected 4 fields"):
        list(read_file(path, None))


def test_jsonl_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(DataError, match=r"train\.jsonl:3: invalid JSON"):
        list(read_file(path, "jsonl"))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_location(DataLocation(path=str(tmp_path / "nope.tsv")), "data.source.train")
    (tmp_path / "x.weird").write_text("x")
    with pytest.raises(DataError, match="unknown format"):
        list(read_file(tmp_path / "x.weird", None))


def test_location_columns_filter_and_cap():
    location = DataLocation(path=str(SAMPLES_DIR / "americasnli/test.tsv"), filter={"language": "gn"}, max_examples=7)
    dataset = load_location(location, "t")
    assert len(dataset) == 7 and set(dataset["language"]) == {"gn"}
    mnli = load_location(DataLocation(path=str(SAMPLES_DIR / "multinli/multinli_1.0_train.jsonl"),
                                      columns={"premise": "sentence1", "label": "gold_label"}), "t")
    assert {"premise", "label"} <= set(mnli.column_names) and "-" in set(mnli["label"])


def test_sample_substitution_requires_a_sample():
    with pytest.raises(ConfigError, match="no bundled sample"):
        effective(DataLocation(hub="x/y"), True, None, "data.source.train")
    sample = effective(DataLocation(hub="x/y", sample=DataLocation(path="corpora/en.txt")), True, None, "w")
    assert sample.path == str(SAMPLES_DIR / "corpora/en.txt")


def test_committed_samples_are_reproducible(tmp_path):
    generate(tmp_path)
    for path in SAMPLES_DIR.rglob("*"):
        if path.is_file():
            twin = tmp_path / path.relative_to(SAMPLES_DIR)
            assert twin.exists() and filecmp.cmp(path, twin, shallow=False), path


class _Tok:
    pad_token_id, mask_token_id = 0, 1

    def __len__(self):
        return 50


def test_mlm_masking_is_seeded_per_example_and_spares_specials():
    collate = MLMCollator(_Tok(), 0.15)
    examples = [{"input_ids": [2] + list(range(5, 45)) + [3], "attention_mask": [1] * 42,
                 "special_tokens_mask": [1] + [0] * 40 + [1], "example_seed": s} for s in range(64)]
    first, again = collate(examples), collate(examples)
    assert torch.equal(first["input_ids"], again["input_ids"]) and torch.equal(first["labels"], again["labels"])
    masked = first["labels"] != -100
    assert not masked[:, 0].any() and not masked[:, -1].any()
    assert 0.10 < masked.float().mean() < 0.20
    assert torch.equal(first["labels"][masked], torch.tensor(examples[0]["input_ids"]).expand(64, -1)[masked])
    other = collate([{**e, "example_seed": e["example_seed"] + 1000} for e in examples])
    assert not torch.equal(other["labels"], first["labels"])


def test_epoch_batch_sampler_order_depends_only_on_seed_and_epoch():
    a, b = EpochBatchSampler(23, 5, seed=3), EpochBatchSampler(23, 5, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    assert sorted(i for batch in a for _, i in batch) == list(range(23))
    b.set_epoch(3)
    assert list(a) != list(b)


def test_mixture_sampler_follows_lightnings_epoch_and_resumes_mid_epoch():
    from xlt.data.mixture import MixtureBatchSampler

    sampler = MixtureBatchSampler([10, 7], 3, [1, 2], seed=5)
    epoch0 = list(sampler)
    sampler.sampler.set_epoch(1)  # what Lightning calls each epoch
    epoch1 = list(sampler)
    assert epoch1 != epoch0 and all(batch[0][0] == 1 for batch in epoch1)
    sampler.resume_at(1, 4)
    assert list(sampler) == epoch1[4:]
    assert list(sampler) == epoch1  # the skip applies once


@pytest.mark.parametrize("key", ["columns", "filter", "options"])
def test_null_columns_filter_and_options_are_empty(key):
    node = {"path": str(SAMPLES_DIR / "americasnli/test.tsv"), key: None}
    location = parse_location(node, "data.target.test (quy)")
    assert getattr(location, key) == {}
    assert fingerprint(location) == fingerprint(parse_location({"path": node["path"]}, "w"))  # same artifacts
    assert len(load_location(location, "data.target.test (quy)")) == 600
    with pytest.raises(ConfigError, match=rf"^data\.target\.test \(quy\): {key}: expected a mapping, got list"):
        parse_location({**node, key: ["language"]}, "data.target.test (quy)")


def test_a_path_wins_over_the_hub_fields(caplog):
    node = {"hub": "masakhane/masakhaner", "revision": "refs/convert/parquet", "data_dir": "hau", "split": "test",
            "name": "x", "path": "/data/masakhaner2/hau/test.txt", "sample": {"path": "masakhaner/hau/test.txt"}}
    with caplog.at_level("INFO", logger="xlt.data.locations"):
        location = parse_location(node, "data.target.test (hau)")
        parse_location(node, "data.target.test (hau)")  # resolved again: logged once
    assert location.path == "/data/masakhaner2/hau/test.txt" and location.sample.path == "masakhaner/hau/test.txt"
    assert (location.hub, location.name, location.split, location.revision, location.data_dir) == (None,) * 5
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["data.target.test (hau): reading the local path /data/masakhaner2/hau/test.txt instead of "
                        "the hub dataset (dropped hub=masakhane/masakhaner, name=x, split=test, "
                        "revision=refs/convert/parquet, data_dir=hau)"]
    with pytest.raises(ConfigError, match="give either hub or path"):
        parse_location({"split": "test"}, "w")


def test_rows_carry_their_origin_through_filter_and_columns(tmp_path):
    location = DataLocation(path=str(SAMPLES_DIR / "americasnli/test.tsv"), filter={"language": "gn"},
                            columns={"text": "premise"})
    dataset = load_location(location, "t")
    lines = (SAMPLES_DIR / "americasnli/test.tsv").read_text(encoding="utf-8-sig").splitlines()
    origins = row_origins(dataset[:3], "t", 0)
    for origin, premise in zip(origins, dataset[:3]["text"]):
        file, line = origin.rsplit(":", 1)
        assert file == str(SAMPLES_DIR / "americasnli/test.tsv") and lines[int(line) - 1].split("\t")[1] == premise
    assert int(origins[0].rsplit(":", 1)[1]) > 60  # not the row's index after filtering
    hub_file = tmp_path / "rows.jsonl"  # a hub builder (json) over a local file: rows keep their split index
    hub_file.write_text("".join(json.dumps({"language": lang, "text": str(i)}) + "\n"
                                for i, lang in enumerate(["aym", "gn", "aym", "gn"])))
    hub = load_location(DataLocation(hub="json", data_files=str(hub_file), split="train", filter={"language": "gn"}),
                        "data.target.test (gn)")
    assert row_origins(hub[:], "data.target.test (gn)", 0) == ["data.target.test (gn): row 1",
                                                               "data.target.test (gn): row 3"]
    assert row_origins({"text": ["a"]}, "t", 5) == ["t: example 5"]  # built in memory: its position


def test_hub_text_builder_strips_a_byte_order_mark(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes("\ufeffKuna rimay .\r\nIskay .\r\n".encode())
    dataset = load_location(DataLocation(hub="text", data_files=str(corpus), split="train"), "data.corpus (quy)")
    assert dataset["text"] == ["Kuna rimay .", "Iskay ."]


def test_bundled_samples_carry_real_file_quirks_and_read_cleanly(caplog):
    raw = {path: path.read_bytes() for path in SAMPLES_DIR.rglob("*") if path.is_file()}
    assert sum(data.startswith(b"\xef\xbb\xbf") for data in raw.values()) >= 5
    assert sum(b"\r\n" in data for data in raw.values()) >= 5
    swa, yor = SAMPLES_DIR / "masakhaner/swa/test.txt", SAMPLES_DIR / "masakhaner/yor/test.txt"
    assert b"\n O\n" in raw[swa] and b"\n\tO\r\n" in raw[yor] and raw[yor].startswith(b"\xef\xbb\xbf")
    with caplog.at_level("WARNING"):
        rows = list(read_file(yor, "conll"))
    assert rows[0]["tokens"][0].isalpha() and all(t.strip() for row in rows for t in row["tokens"])
    assert [r.getMessage().split(": ")[0] for r in caplog.records] == [str(yor)]
    tsv = load_location(DataLocation(path=str(SAMPLES_DIR / "americasnli/test.tsv"), filter={"language": "quy"}), "t")
    assert tsv.column_names[0] == "language" and len(tsv) == 60
    for path in raw:
        if path.suffix == ".conllu":
            assert all(not token.startswith("\ufeff") for row in read_file(path, None) for token in row["tokens"])
