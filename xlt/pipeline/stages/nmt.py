"""``nmt/<from>-<to>``: the NMT model adapted to a language it does not support (thesis §6.3.3, §6.4.2,
Table D.2), and the NMT model a translation stage uses.

Adaptation: the language's FLORES code becomes a new special token of the NLLB tokenizer and gets an
embedding row (``nmt.adaptation.init``: a related code's row, ``copy:spa_Latn`` for AmericasNLI and
``copy:ind_Latn`` for NusaX, or the mean of the code rows); the model is then fine-tuned through the
translation task family (xlt.tasks.translation) on the parallel corpus ``data.parallel`` (Spanish -> X
for AmericasNLI, Indonesian -> X for NusaX): full fine-tuning (the thesis) or LT-SFT, 5 epochs of batch
8 at lr 2e-5 decayed linearly to 0, sequences of 256 tokens, chrF and BLEU of greedy translations of the
held-out pairs after every epoch, the best epoch kept. ``reverse`` trains the X -> source direction
(translate-test, §6.4.3). The artifact is the adapted model, saved with ``save_pretrained`` beside its
tokenizer (which holds the new code), so translation stages load it like any NLLB model
(:func:`xlt.pipeline.base_model.produced_model`).

Which model translates a language (:func:`translation_model`): NLLB itself when the language table marks
the language as supported, else the model adapted to it (Table 6.1's daggers).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import torch

from xlt.config import as_dict
from xlt.data.locations import DataLocation, fingerprint
from xlt.errors import ConfigError
from xlt.methods import METHODS, TrainRequest
from xlt.models.loading import load_tokenizer
from xlt.models.nmt import NllbLanguage, code_id
from xlt.paths import SAMPLES_DIR
from xlt.pipeline.base_model import BaseModel, produced_model
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import read_rows
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data
from xlt.tasks.translation import TranslationFamily, TranslationTaskConfig

NMT_STAGE_VERSION = 1
_NMT_MODELS: WeakKeyDictionary[Experiment, BaseModel] = WeakKeyDictionary()  # one per experiment


def nmt_base_model(exp: Experiment) -> BaseModel:
    """The configured NMT model (``nmt``) as a base model: a hub model by id and revision, a local directory
    by its files, the tiny stand-in by its recipe and build (codes and corpora included)."""
    if exp in _NMT_MODELS:
        return _NMT_MODELS[exp]
    cfg = exp.nmt
    model_cfg = cfg.model_config()
    samples = sorted((Path(exp.paths.samples) if exp.paths.samples else SAMPLES_DIR).joinpath("corpora").glob("*.txt"))
    path = cfg.resolve_path(exp.paths.cache, samples)
    spec: dict[str, Any] = {"nmt": model_cfg.identity(exp.paths.cache), "dtype": cfg.dtype}
    if model_cfg.is_tiny:
        spec["build"] = Path(path).name  # the codes and the tokenizer corpora's hash
    _NMT_MODELS[exp] = BaseModel(model_cfg, spec, location=path)
    return _NMT_MODELS[exp]


def language_entry(exp: Experiment, lang: str, where: str = "nmt.languages") -> NllbLanguage:
    table = exp.nmt.table()
    if lang not in table:
        raise ConfigError(f"{where}: no entry for language {lang!r} (its FLORES code and NLLB support; known: "
                          f"{', '.join(sorted(table))})")
    return table[lang]


def adaptation_directions(exp: Experiment, lang: str, reverse: bool) -> tuple[str, str]:
    """(from, to) xlt codes of an adaptation: the corpus's source language -> ``lang``, or back."""
    entry = language_entry(exp, lang)
    if entry.nllb:
        raise ConfigError(f"nmt.languages.{lang}: NLLB supports {lang!r} ({entry.flores}); no adaptation needed")
    if entry.adaptation_source is None:
        raise ConfigError(f"nmt.languages.{lang}.adaptation_source: NLLB lacks {lang!r} and no adaptation source "
                          "language (the other side of its parallel corpus, Table D.2) is known")
    return (lang, entry.adaptation_source) if reverse else (entry.adaptation_source, lang)


def nmt_adaptation_stage(exp: Experiment, lang: str, reverse: bool = False) -> Stage:
    """NLLB adapted to ``lang`` on ``data.parallel``: adaptation source -> ``lang`` (``reverse``: back)."""
    cfg = exp.nmt.adaptation
    source, target = adaptation_directions(exp, lang, reverse)
    table = exp.nmt.table()
    locations = exp.data.parallel_locations(lang)
    for split in ("train", "validation"):
        if not locations.get(split):
            raise ConfigError(f"data.parallel.{split}: NLLB lacks {lang!r}, so it is adapted on a parallel corpus "
                              f"(train and held-out validation pairs, Table D.2): none given for {lang!r}")
        for location in locations[split]:
            check_exists(location, f"data.parallel.{split} ({lang})")
    fields = ("target", "source") if reverse else ("source", "target")
    task = TranslationTaskConfig(
        source_code=table[source].flores, target_code=table[target].flores, source_field=fields[0],
        target_field=fields[1], max_length=cfg.max_length, metric=cfg.metric,
        new_language_code=table[lang].flores, new_code_init=cfg.init, generation=cfg.generation, train=cfg.train)
    base = nmt_base_model(exp)
    spec = {**base.spec, "lang": lang, "task": as_dict(task), "method": cfg.method, "density": cfg.density,
            "num_trainable": cfg.num_trainable,
            "parallel": {split: [fingerprint(x) for x in found] for split, found in locations.items()},
            **exp.training_spec()}
    label = f"nmt/{source}-{target}"
    return Stage("nmt_model", label, spec, partial(_build_adaptation, exp, lang, task, locations, base),
                 base.inputs(), version=NMT_STAGE_VERSION,
                 validate=partial(_check_adaptation, lang, locations))


def _check_adaptation(lang: str, locations: dict[str, list[DataLocation]]) -> None:
    for split, found in locations.items():
        for location in found:
            dataset = check_data(location, f"data.parallel.{split} ({lang})")
            missing = [c for c in ("source", "target") if c not in dataset.column_names]
            if missing:
                raise ConfigError(f"data.parallel.{split} ({lang}): the pairs need columns source and target "
                                  f"(missing {missing}; rename with columns: {{source: ..., target: ...}})")


def _build_adaptation(exp: Experiment, lang: str, task: TranslationTaskConfig,
                      locations: dict[str, list[DataLocation]], base: BaseModel, ctx: StageContext) -> dict[str, Any]:
    from datasets import Dataset

    cfg = exp.nmt.adaptation
    path = base.path(ctx)
    tokenizer = load_tokenizer(path)  # its own copy: the family adds the new code to it
    family = TranslationFamily(task, tokenizer)
    pairs = {split: family.preprocess(Dataset.from_list(read_rows(found, f"data.parallel.{split} ({lang})")),
                                      f"data.parallel.{split} ({lang})")
             for split, found in locations.items()}
    torch.manual_seed(exp.seed)
    model = family.build_model(path, base.config)  # + the code's token and initialised embedding row
    fitter = exp.fitter(ctx.stage.label, ctx.work_dir)
    validation = {lang: pairs["validation"]}
    if cfg.method == "full":  # §6.4.2: full fine-tuning
        result = fitter.fit(model, pairs["train"], validation, family.collator(), task.train, "adaptation")
        summary: dict[str, Any] = {"steps": result.steps, "best_step": result.best_step, **result.metrics}
    else:  # LT-SFT over the whole NMT body (the option §6.3.3's recipe leaves open)
        method = METHODS["ltsft"]
        module_cfg = method.config(method="ltsft", density=cfg.density, num_trainable=cfg.num_trainable)
        request = TrainRequest(model, pairs["train"], validation, family.collator(), task.train, fitter, exp.seed,
                               exp.nmt.num_parameters, {"kind": "nmt", "lang": lang}, config_key="nmt.adaptation")
        _, summary = method.train(module_cfg, request)  # leaves theta0 + the trained SFT in the model
    model.backbone.save_pretrained(ctx.out_dir)
    tokenizer.save_pretrained(ctx.out_dir)
    code = task.new_language_code
    assert code is not None
    return {**summary, "code": code, "code_id": code_id(tokenizer, code), "init": task.new_code_init,
            "direction": f"{task.source_code}->{task.target_code}", "method": cfg.method,
            "train_pairs": len(pairs["train"]), "heldout_pairs": len(pairs["validation"])}


def translation_model(exp: Experiment, lang: str, reverse: bool, adapted: dict[tuple[str, bool], Stage]
                      ) -> BaseModel:
    """The model that translates into ``lang`` (``reverse``: out of it): NLLB if it supports the language,
    else NLLB adapted to it (the stage memoised in ``adapted``, so every user shares one)."""
    if language_entry(exp, lang).nllb:
        return nmt_base_model(exp)
    if (lang, reverse) not in adapted:
        adapted[(lang, reverse)] = nmt_adaptation_stage(exp, lang, reverse)
    stage = adapted[(lang, reverse)]
    return produced_model(stage, exp.nmt.model_config(), {"lang": lang, "direction": stage.label})
