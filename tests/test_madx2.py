"""MAD-X 2.0 (no adapter in the last layer) where the thesis uses it, chapters 4 and 6 (§4.4.1, §6.4.2), and
the original MAD-X (an adapter in every layer) in chapter 3 (§3.4.2) (issue 10, item 4)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.helpers import compose_config, experiments
from tests.test_adapters import random_adapter, tiny, write_adapterhub
from xlt.methods.adapters.bottleneck import LANGUAGE, PfeifferAdapter, find_sites
from xlt.methods.adapters.config import AdapterModuleConfig
from xlt.methods.adapters.procedure import train_adapter
from xlt.pipeline.experiment import Experiment

# chapters 4 and 6: the MAD-X baseline experiment and the adapter variants of every LT-SFT experiment
CHAPTER_4_ADAPTER_VARIANTS = [name for name in experiments() if name.startswith("ltsft_")]
CHAPTER_3_MADX = [name for name in experiments() if name.startswith("madx_ud_")]
CHAPTER_3_MADG = [name for name in experiments() if name.startswith("madg_")]


def _modules(overrides: list[str], tmp_path) -> dict:
    cfg = OmegaConf.to_container(compose_config(overrides, tmp_path), resolve=True)
    return {"lang_module": cfg["lang_module"], "task_module": cfg["task_module"]}


def test_the_experiment_lists_cover_the_thesis_chapters():
    assert len(CHAPTER_4_ADAPTER_VARIANTS) == 8 and len(CHAPTER_3_MADX) == 4 and len(CHAPTER_3_MADG) == 9


@pytest.mark.parametrize("overrides", [["+experiment=madx_americasnli"],
                                       *(([f"+experiment={name}", "lang_module=adapter", "task_module=adapter"])
                                         for name in CHAPTER_4_ADAPTER_VARIANTS)])
def test_chapter_4_and_6_adapters_are_madx_2(overrides, tmp_path):
    modules = _modules(overrides, tmp_path)
    assert modules["lang_module"]["method"] == modules["task_module"]["method"] == "adapter"
    assert modules["lang_module"]["leave_out"] == modules["task_module"]["leave_out"] == [-1]


@pytest.mark.parametrize("experiment", CHAPTER_3_MADX + CHAPTER_3_MADG)
def test_chapter_3_adapters_have_every_layer(experiment, tmp_path):
    modules = _modules([f"+experiment={experiment}"], tmp_path)
    assert modules["task_module"]["method"] == "adapter" and modules["task_module"]["leave_out"] == []
    if experiment.startswith("madx_"):
        assert modules["lang_module"]["method"] == "adapter" and modules["lang_module"]["leave_out"] == []


@pytest.mark.parametrize(("experiment", "last_layer_adapted"), [("madx_americasnli", False), ("madx_ud_pos", True)])
def test_the_adapters_the_experiments_build(experiment, last_layer_adapted, tmp_path, cache_dir, monkeypatch):
    """Adapters built from the composed configs: MAD-X 2.0 has none in the last layer, chapter 3 one in each."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = Experiment(compose_config([f"+experiment={experiment}", "+profile=smoke"], tmp_path), tmp_path / "run")
    from transformers import AutoModel

    sites = find_sites(AutoModel.from_pretrained(exp.model_path))
    layers = len(sites.layer_norms)
    for cfg in (exp.lang_module, exp.task_module):
        adapter = PfeifferAdapter(cfg.shape(sites.hidden_size, layers))
        assert (str(layers - 1) in adapter.layers) == last_layer_adapted
        assert sorted(adapter.adapted_layers()) == list(range(layers if last_layer_adapted else layers - 1))


def test_an_imported_adapterhub_adapter_loses_its_last_layer_under_madx_2(tmp_path):
    from types import SimpleNamespace

    hub = random_adapter(layers=(0, 1, 2), invertible=True)  # AdapterHub's MAD-X adapters: every layer
    write_adapterhub(tmp_path / "hub", hub)
    model = SimpleNamespace(backbone=tiny("bert"))  # three layers
    request = SimpleNamespace(model=model, meta={"kind": "language", "lang": "gn", "base_hash": "h"},
                              fitter=None, seed=0)
    cfg = AdapterModuleConfig(reduction_factor=4, invertible=True, leave_out=[-1],
                              pretrained={"gn": str(tmp_path / "hub")})
    module, summary = train_adapter(cfg, request)
    assert module.adapter.level == LANGUAGE and module.adapter.shape.layers == (0, 1)
    assert sorted(module.adapter.layers) == ["0", "1"] and module.adapter.invertible is not None
    assert summary["num_parameters"] == module.adapter.num_parameters() < hub.num_parameters()
