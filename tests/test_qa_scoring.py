"""Extractive QA scored by each set's own rules (§4.4.4): MLQA's validation sets of the multi-source
experiment by MLQA's official rules for their language (they select the checkpoints), the XQuAD test
sets by SQuAD's, through the data config's ``add_columns`` and the QA family."""

from __future__ import annotations

import pytest
import yaml

from xlt.data.locations import fingerprint, load_location
from xlt.errors import DataError
from xlt.eval.task_metrics import SquadScores
from xlt.models.loading import ModelConfig, load_tokenizer
from xlt.pipeline.data_config import parse_data_config
from xlt.tasks import build_task


@pytest.fixture(scope="module")
def qa(tiny_xlmr_path):
    task = yaml.safe_load(open("conf/task/qa.yaml"))
    return build_task(task, load_tokenizer(tiny_xlmr_path, ModelConfig(name_or_path=tiny_xlmr_path)))


@pytest.fixture(scope="module")
def data():
    return parse_data_config({**yaml.safe_load(open("conf/data/xquad_multisource.yaml")), "use_samples": True})


def test_mlqa_validation_sets_use_mlqa_rules_and_xquad_tests_squads(qa, data):
    specs = {spec.lang: spec for spec in data.mixture()}
    assert specs["en"].validation == []  # SQuAD validates nothing here
    for lang in ("ar", "de", "es", "hi", "vi", "zh"):
        [location] = specs[lang].validation
        assert location.add_columns == {"answer_scoring": f"mlqa:{lang}"}
        examples = qa.preprocess(load_location(location, f"data.sources.{lang}.validation"),
                                 f"data.sources.{lang}.validation")
        assert {e["answer_scoring"] for e in examples} == {f"mlqa:{lang}"}
        # the training sets (MLQA test, XQuAD) are not scored: no column added
        assert all(not train.add_columns for train in specs[lang].train)
    for lang in data.targets:
        location = data.target_location(lang, "test")
        assert not location.add_columns and "add_columns" not in fingerprint(location)
        examples = qa.preprocess(load_location(location, f"data.target.test ({lang})"), f"data.target.test ({lang})")
        assert {e["answer_scoring"] for e in examples} == {"squad"}
    # the collator carries each example's rules to the metric
    [location] = specs["zh"].validation
    examples = qa.preprocess(load_location(location, "zh"), "zh")[:3]
    batch = qa.collator()(examples)
    assert batch["answer_scoring"] == ["mlqa:zh"] * 3
    from lightning.fabric.utilities.apply_func import move_data_to_device

    assert move_data_to_device(batch, "cpu")["answer_scoring"] == ["mlqa:zh"] * 3  # Lightning moves batches so
    metric = SquadScores()
    golds = [["北京"]] * 3
    metric.update(batch["example_key"], [(1.0, "北京大学")] * 3, golds, batch["answer_scoring"])
    assert metric.compute()["f1"] == pytest.approx(2 / 3)  # SQuAD's rules: 0
    metric.reset()
    metric.update(batch["example_key"], [(1.0, "北京大学")] * 3, golds)
    assert metric.compute()["f1"] == 0.0


def test_a_bad_answer_scoring_value_names_the_example(qa, data):
    [location] = next(spec for spec in data.mixture() if spec.lang == "de").validation
    dataset = load_location(location, "mlqa.de")
    dataset = dataset.remove_columns("answer_scoring").add_column("answer_scoring", ["mlqa:xx"] * len(dataset))
    with pytest.raises(DataError, match=r"mlqa.de: example 0: answer scoring 'mlqa:xx': MLQA has no rules for 'xx'"):
        qa.preprocess(dataset, "mlqa.de")
    with pytest.raises(DataError, match="already have a column 'id'"):
        load_location(type(location)(**{**vars(location), "add_columns": {"id": "x"}}), "mlqa.de")
