"""Readers, locations, bundled samples and collators."""

from __future__ import annotations

import filecmp

import pytest
import torch

from xlt.data.collators import MLMCollator
from xlt.data.locations import DataLocation, effective, load_location
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
