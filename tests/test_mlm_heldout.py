"""The language modules' held-out MLM loss (§4.4.2): the whole held-out 5% / 1% of the corpus is
evaluated by default (``max_heldout_blocks: null``), a cap is an option, and the stage records how
many held-out blocks it evaluated."""

from __future__ import annotations

import pytest

from tests.helpers import compose_config
from xlt.data.blocks import MLMConfig
from xlt.data.locations import load_location
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import StageContext
from xlt.pipeline.stages.language_module import language_module_stage, language_training
from xlt.tasks.mlm import MLMFamily


def test_the_whole_heldout_part_is_evaluated_by_default():
    assert MLMConfig().max_heldout_blocks is None


@pytest.mark.parametrize("cap", [None, 3])
def test_language_module_stage_records_the_heldout_blocks_it_evaluated(cap, tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    overrides = ["+experiment=ltsft_americasnli", "+profile=smoke", "trainer.max_steps_per_phase=2"]
    if cap is not None:
        overrides.append(f"lang_module.mlm.max_heldout_blocks={cap}")
    exp = Experiment(compose_config(overrides, tmp_path / "root"), tmp_path / "run")
    assert exp.lang_module.mlm.max_heldout_blocks == cap  # conf/common/mlm_training.yaml: null
    mlm, _ = language_training(exp, "gn")
    family = MLMFamily(mlm, exp.tokenizer)
    where = "data.corpus (gn)"
    _, heldout = family.split_heldout(load_location(exp.data.corpus_location("gn"), where), where)
    every_block = len(family.preprocess(heldout, where))
    assert every_block > 3
    stage = language_module_stage(exp, "gn")
    evaluated = []
    fit = type(exp.fitter("probe")).fit

    def recording_fit(self, model, train, validation, *args, **kwargs):
        evaluated.append({lang: len(blocks) for lang, blocks in validation.items()})
        return fit(self, model, train, validation, *args, **kwargs)

    monkeypatch.setattr(type(exp.fitter("probe")), "fit", recording_fit)
    ctx = StageContext(stage, tmp_path / "out", tmp_path / "work", {}, tmp_path / "run")
    ctx.out_dir.mkdir()
    ctx.work_dir.mkdir()
    metrics = stage.build(ctx)
    expected = every_block if cap is None else cap
    assert metrics["heldout_blocks"] == expected
    corpus = load_location(exp.data.corpus_location("gn"), where)  # its size, for Figure 6.2 (thesis §6.5)
    assert metrics["corpus_lines"] == len(corpus)
    assert metrics["corpus_words"] == sum(len(text.split()) for text in corpus["text"]) > 0
    assert metrics["train_blocks"] == len(family.preprocess(family.split_heldout(corpus, where)[0], where))
    assert evaluated == [{"gn": expected}] * 2  # both LT-SFT phases validate on it
