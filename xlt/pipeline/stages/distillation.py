"""BiStillation's stages (thesis §5.3-5.4), one source-target pair at a time:

- ``vocabulary/<t>`` (``vocabulary``): the teacher tokens kept for the pair (§5.3.2: max of the unigram
  probabilities on the two corpora >= the threshold), with #V before and after (Table 5.2);
- ``student_init/<t>`` (``student_init``): the trimmed teacher reduced to L_T / LRF layers, copied from
  layers s, 2s, ..., L_T (or randomly initialised: Scratch), with its trimmed tokenizer; #L, D, #V, #P;
- ``student/<t>`` (``student``): stage 1, general bilingual distillation (§5.3.2, §5.4.2): the student
  learns L_attn + L_hidden from the frozen trimmed teacher on MLM-masked single-language batches (source
  or target with equal probability), the teacher wearing that batch's language SFT (trimmed the same way);
  the checkpoint with the smallest held-out loss is kept (Scratch, §5.4.1: the random student trained by its own
  MLM loss instead, no teacher). The artifact is the student (``save_pretrained``,
  tokenizer and ``vocabulary.json`` beside it): a base model later stages build on
  (:func:`student_model`), keyed by teacher, pair, LRF, initialisation, threshold and the SFTs (its inputs);
- ``task/<t>`` (``task_distillation``): stage 2 of BiStil-TF (§5.3.3): the student's task SFT trained by the
  task module's method (LT-SFT) on the loss L_attn + L_hidden + L_pred against the teacher = trimmed base +
  source language SFT + the task SFT of the undistilled pipeline (the ``task_module`` stage, shared).
  BiStil-ST trains the student's task module with the ordinary ``task_module`` stage instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from xlt.data.blocks import MLMConfig
from xlt.data.collators import MLMCollator
from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.data.mixture import SamplingConfig
from xlt.errors import ConfigError
from xlt.methods import METHODS, TrainRequest
from xlt.pipeline.base_model import BaseModel, produced_model
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_corpus, load_module
from xlt.pipeline.stages.language_module import language_module_spec
from xlt.pipeline.stages.task_module import _check_task_module, _source_examples
from xlt.schedule import Schedule
from xlt.tasks import build_task

if TYPE_CHECKING:
    import datasets

VOCABULARY_FILE = "vocabulary.json"
# Stage 1 draws each batch's language with equal probability (§5.3.2): p(l) ~ n_l^0
EQUAL_LANGUAGES = SamplingConfig(policy="smoothed", alpha=0.0)


@dataclass
class DistillationConfig:
    """``recipe.distillation``: stage 1's schedule and MLM inputs (§5.4.2): 200,000 steps of batch 8 x 256
    tokens, lr 1e-4 decaying linearly, no warm-up; 5% of each corpus held out and evaluated every 1,000
    steps (high-resource languages: 1%, every 5,000), the smallest loss kept."""

    train: Schedule = field(default_factory=lambda: Schedule(lr=1e-4, batch_size=8, max_steps=200000,
                                                             eval_every=1000))
    mlm: MLMConfig = field(default_factory=MLMConfig)


def corpus_texts(dataset: datasets.Dataset) -> Iterator[str]:
    """The ``text`` column, streamed in chunks."""
    for chunk in dataset.iter(batch_size=1000):
        yield from chunk["text"]


def _corpus(exp: Experiment, lang: str) -> DataLocation:
    location = exp.data.corpus_location(lang)
    check_exists(location, f"data.corpus ({lang})")
    return location


# --------------------------------------------------------------------------------------------- vocabulary
def vocabulary_stage(exp: Experiment, source: str, target: str, threshold: float) -> Stage:
    """The vocabulary of the ``source``-``target`` student (§5.3.2)."""
    locations = {lang: _corpus(exp, lang) for lang in (source, target)}
    spec = {**exp.base_model.spec, "pair": [source, target], "threshold": threshold,
            "corpora": {lang: fingerprint(location) for lang, location in locations.items()}}
    return Stage("vocabulary", f"vocabulary/{target}", spec, partial(_build_vocabulary, exp, locations, threshold),
                 validate=partial(_check_corpora, locations))


def _check_corpora(locations: Mapping[str, DataLocation]) -> None:
    for lang, location in locations.items():
        check_corpus(location, f"data.corpus ({lang})")


def _build_vocabulary(exp: Experiment, locations: Mapping[str, DataLocation], threshold: float,
                      ctx: StageContext) -> dict[str, Any]:
    from transformers import AutoConfig

    from xlt.models.vocabulary import select_vocabulary

    source, target = (load_location(location, f"data.corpus ({lang})") for lang, location in locations.items())
    config = AutoConfig.from_pretrained(exp.model_path, **({"revision": exp.model.revision}
                                                           if exp.model.revision and not exp.model.is_tiny else {}))
    reduction = select_vocabulary(exp.tokenizer, corpus_texts(source), corpus_texts(target), threshold, config=config,
                                  where="recipe.vocabulary_threshold")
    reduction.save(ctx.out_dir / VOCABULARY_FILE)
    return reduction.summary()


# --------------------------------------------------------------------------------------------- student init
def student_init_stage(exp: Experiment, vocabulary: Stage, target: str, lrf: int, initialisation: str) -> Stage:
    """The trimmed teacher's student with L_T / ``lrf`` layers (§5.3.2; ``initialisation="scratch"``: the
    Scratch baseline of §5.4.1, same shape, random)."""
    spec = {**exp.base_model.spec, "lrf": lrf, "initialisation": initialisation, "seed": exp.seed}
    return Stage("student_init", f"student_init/{target}", spec,
                 partial(_build_student_init, exp, lrf, initialisation), {"vocabulary": vocabulary})


def _build_student_init(exp: Experiment, lrf: int, initialisation: str, ctx: StageContext) -> dict[str, Any]:
    from xlt.models.loading import body_of, load_masked_lm
    from xlt.models.student import init_student, model_dimensions, teacher_layer_indices
    from xlt.models.vocabulary import VocabularyReduction, trim_model, trim_tokenizer

    reduction = VocabularyReduction.load(ctx.inputs["vocabulary"] / VOCABULARY_FILE)
    teacher = load_masked_lm(exp.model_path, exp.model)
    dimensions = {"teacher": model_dimensions(body_of(teacher)).to_dict()}
    trim_model(teacher, reduction)
    dimensions["trimmed_teacher"] = model_dimensions(body_of(teacher)).to_dict()
    student = init_student(teacher, lrf, initialisation, seed=exp.seed, where="recipe")
    dimensions["student"] = model_dimensions(body_of(student)).to_dict()
    student.save_pretrained(ctx.out_dir)
    trim_tokenizer(exp.tokenizer, reduction).save_pretrained(ctx.out_dir)
    reduction.save(ctx.out_dir / VOCABULARY_FILE)
    layers = [i + 1 for i in teacher_layer_indices(dimensions["teacher"]["layers"], lrf, "recipe.lrf")]
    return {**dimensions, "lrf": lrf, "initialisation": initialisation,
            "teacher_layers_copied": layers if initialisation == "teacher" else []}


# --------------------------------------------------------------------------------------------- stage 1
OBJECTIVES = ("distillation", "mlm")


def bilingual_distillation_stage(exp: Experiment, init: Stage, source: str, target: str,
                                 lang_stages: Mapping[str, Stage | None], cfg: DistillationConfig,
                                 objective: str = "distillation") -> Stage:
    """Stage 1 (§5.3.2): the student of ``init`` distilled from the teacher on the two corpora, the teacher
    wearing each batch's language module (``lang_stages``: language -> its module's stage, or None).

    ``objective="mlm"``: Scratch's training instead (§5.4.1: "we train bilingual models from scratch instead of
    distilling them from a pre-trained MMT"; the reference code's ``bilingual_mlm.py``): the same student,
    schedule, batches and held-out blocks, but masked language modelling with the student's own MLM head and no
    teacher, so the student gets none of the MMT's cross-lingual alignment (§5.5); no language modules."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r}: expected one of {OBJECTIVES}")
    locations = {lang: _corpus(exp, lang) for lang in (source, target)}
    mlm, schedule = distillation_training(exp, cfg, [source, target])
    teacher_modules = objective == "distillation" and any(lang_stages.values())
    spec = {"teacher": exp.base_model.spec, "pair": [source, target], "schedule": dataclasses.asdict(schedule),
            "mlm": dataclasses.asdict(mlm), "corpora": {lang: fingerprint(loc) for lang, loc in locations.items()},
            "high_resource": {lang: exp.data.is_high_resource(lang) for lang in locations},
            "lang_module": language_module_spec(exp, [source, target]) if teacher_modules else None,
            "sampling": dataclasses.asdict(EQUAL_LANGUAGES), **exp.training_spec(),
            **({"objective": objective} if objective != "distillation" else {})}
    inputs = {"init": init, **({f"lang/{lang}": stage for lang, stage in lang_stages.items() if stage is not None}
                               if teacher_modules else {})}
    return Stage("student", f"student/{target}", spec, partial(_build_bilingual_distillation, exp, locations, mlm,
                                                                schedule, objective), inputs,
                 validate=partial(_check_corpora, locations))


def distillation_training(exp: Experiment, cfg: DistillationConfig, languages: list[str]) -> tuple[MLMConfig, Schedule]:
    """Stage 1's MLM settings and schedule: ``trainer.mlm_max_seq_length`` caps the blocks (smoke profile); the
    validation interval is the high-resource one (5,000 steps) only when both languages are high-resource."""
    mlm, schedule = cfg.mlm, cfg.train
    if exp.trainer.mlm_max_seq_length and exp.trainer.mlm_max_seq_length < mlm.max_seq_length:
        mlm = dataclasses.replace(mlm, max_seq_length=exp.trainer.mlm_max_seq_length)
    if all(exp.data.is_high_resource(lang) for lang in languages) and mlm.high_resource_eval_every:
        schedule = dataclasses.replace(schedule, eval_every=mlm.high_resource_eval_every)
    return mlm, schedule


def trimmed_teacher_modules(exp: Experiment, directories: Mapping[str, Path], untrimmed_hash: str, reduction: Any,
                            trimmed_hash: str) -> dict[str, Any]:
    """The language (or task) SFTs of ``directories`` checked against the untrimmed teacher and trimmed with
    ``reduction`` for the trimmed one (§5.3.2), by name."""
    from xlt.methods.core.sft import SFTModule
    from xlt.methods.core.trim import trim_sft

    modules = {}
    for name, directory in directories.items():
        kind = "task_module" if name == "task" else "lang_module"
        module = load_module(getattr(exp, kind).method, directory)
        if not isinstance(module, SFTModule):
            raise ConfigError(f"{kind}.method={getattr(exp, kind).method!r}: BiStil trims the teacher's modules "
                              "with the student's vocabulary; only SFTs (ltsft, rand_sft, bitfit, full) can be")
        module.check_base(untrimmed_hash, where=str(directory))
        trimmed = SFTModule(trim_sft(module.sft, reduction, base_hash=trimmed_hash))
        trimmed.check_base(trimmed_hash, where=f"{directory} (trimmed)")
        modules[name] = trimmed
    return modules


def trimmed_teacher(exp: Experiment, body: Any, reduction: Any) -> tuple[Any, str, str]:
    """The configured model's ``body`` (as loaded) trimmed in place with eager attention: (body, its untrimmed
    base hash, its trimmed base hash)."""
    from xlt.models.loading import base_weights_hash
    from xlt.models.student import prepare_for_distillation
    from xlt.models.vocabulary import trim_model

    untrimmed = exp.base_hash(body, exp.model_path)
    trim_model(body, reduction)
    return prepare_for_distillation(body), untrimmed, base_weights_hash(body)


def _build_bilingual_distillation(exp: Experiment, locations: Mapping[str, DataLocation], mlm: MLMConfig,
                                  schedule: Schedule, objective: str, ctx: StageContext) -> dict[str, Any]:
    from xlt.distillation.procedure import BilingualDistillation, teacher_language_modules
    from xlt.models.loading import DTYPES, body_of, load_encoder
    from xlt.models.student import load_for_distillation, model_dimensions
    from xlt.models.vocabulary import VocabularyReduction
    from xlt.tasks.mlm import MLMFamily
    from xlt.training.multisource import MultiSourceTrain

    init_dir = ctx.inputs["init"]
    reduction = VocabularyReduction.load(init_dir / VOCABULARY_FILE)
    tokenizer = exp.tokenizer_of(str(init_dir))
    train: dict[str, Any] = {}
    validation: dict[str, Any] = {}
    heldout_blocks: dict[str, int] = {}
    for lang, location in locations.items():
        where = f"data.corpus ({lang})"
        fraction = mlm.high_resource_heldout_fraction if exp.data.is_high_resource(lang) else mlm.heldout_fraction
        family = MLMFamily(dataclasses.replace(mlm, heldout_fraction=fraction), tokenizer)
        lines, heldout = family.split_heldout(load_location(location, where), where)
        train[lang] = family.preprocess(lines, where)
        if heldout is not None:
            validation[lang] = family.preprocess(heldout, where)[:mlm.max_heldout_blocks]
        heldout_blocks[lang] = len(validation.get(lang, []))
    collate = MLMCollator(tokenizer, mlm.mlm_probability)
    if objective == "mlm":  # Scratch: the student's own MLM loss, no teacher (§5.4.1)
        from xlt.models.loading import load_masked_lm
        from xlt.tasks.models.mlm import MaskedLanguageModel

        student = load_masked_lm(str(init_dir), student_config(exp))
        modules: dict[str, Any] = {}
        model = MaskedLanguageModel(student, None, MLMFamily(mlm, tokenizer).metric)
        examples = MultiSourceTrain(train, {}, {}, EQUAL_LANGUAGES)
    else:
        teacher, untrimmed_hash, trimmed_hash = trimmed_teacher(exp, load_encoder(exp.model_path, exp.model),
                                                                reduction)
        directories = {name.split("/", 1)[1]: path for name, path in ctx.inputs.items() if name.startswith("lang/")}
        modules = trimmed_teacher_modules(exp, directories, untrimmed_hash, reduction, trimmed_hash)
        student = load_for_distillation(str(init_dir), dtype=DTYPES[exp.model.dtype], **exp.model.extra)
        model = BilingualDistillation(student, teacher)
        examples = MultiSourceTrain(train, {}, teacher_language_modules(modules), EQUAL_LANGUAGES)
    result = exp.fitter(ctx.stage.label, ctx.work_dir).fit(model, examples, validation, collate, schedule, objective)
    student.save_pretrained(ctx.out_dir)
    tokenizer.save_pretrained(ctx.out_dir)
    reduction.save(ctx.out_dir / VOCABULARY_FILE)
    return {"steps": result.steps, "best_step": result.best_step, "lr": schedule.lr,
            **{key: value for key, value in result.metrics.items()},
            **{f"batches/{lang}": n for lang, n in result.batches.items()},
            "train_blocks": {lang: len(blocks) for lang, blocks in train.items()}, "heldout_blocks": heldout_blocks,
            "teacher_modules": sorted(modules), "objective": objective,
            "student": model_dimensions(body_of(student)).to_dict()}


def student_config(exp: Experiment) -> Any:
    """How a student is loaded: the configured model's dtype and loading options, no hub id or revision (it
    is a local directory; SFTs built on it record that directory as their base)."""
    return dataclasses.replace(exp.model, name_or_path=None, revision=None, num_parameters=None)


def student_model(exp: Experiment, stage: Stage, how: dict[str, Any]) -> BaseModel:
    """The student that ``stage`` (stage 1) writes, as the base model of the stages after it."""
    return produced_model(stage, student_config(exp), how)


# --------------------------------------------------------------------------------------------- stage 2
def task_distillation_stage(exp: Experiment, student: BaseModel, teacher_task: Stage, teacher_lang: Stage | None,
                            target: str, temperature: float) -> Stage:
    """BiStil-TF's task module of ``student`` (§5.3.3): trained by the task module's method with the loss
    L_attn + L_hidden + L_pred against the teacher = trimmed base + ``teacher_lang`` (the source language
    module) + ``teacher_task`` (the undistilled task module, head included)."""
    mixture = exp.data.mixture()
    if len(mixture) != 1:
        raise ConfigError("data.sources: BiStil distils for one source language (§5.3); use a single-source "
                          "data config")
    spec = {**student.spec, "module": exp.module_spec(exp.task_module), "task": exp.task_cfg,
            "sources": {"train": [fingerprint(x) for x in mixture[0].train],
                        "validation": [fingerprint(x) for x in mixture[0].validation],
                        "max_train_examples": mixture[0].max_train_examples,
                        "max_validation_examples": mixture[0].max_validation_examples, "subset": mixture[0].subset},
            "temperature": temperature, **exp.training_spec()}
    inputs = {**student.inputs(), "teacher_task": teacher_task,
              **({"teacher_lang": teacher_lang} if teacher_lang is not None else {})}
    return Stage("task_distillation", f"task/{target}", spec,
                 partial(_build_task_distillation, exp, student, temperature), inputs,
                 validate=partial(_check_task_module, exp, mixture))


def _build_task_distillation(exp: Experiment, base: BaseModel, temperature: float, ctx: StageContext) -> dict[str, Any]:
    from xlt.data.sampling import subset_rng
    from xlt.distillation.procedure import TaskDistillation, student_task_model
    from xlt.models.vocabulary import VocabularyReduction

    path = base.path(ctx)
    spec = exp.data.mixture()[0]
    family = build_task(exp.task_cfg, exp.tokenizer_of(path))
    where = f"data.source ({spec.lang})"
    train = _source_examples(family, spec.train, spec.max_train_examples, f"{where}.train", spec.subset,
                             subset_rng(exp.seed, "source", spec.lang, "train"))
    validation = {}
    if spec.validation:
        validation[spec.lang] = _source_examples(family, spec.validation, spec.max_validation_examples,
                                                 f"{where}.validation", spec.subset,
                                                 subset_rng(exp.seed, "source", spec.lang, "validation"))
    reduction = VocabularyReduction.load(Path(path) / VOCABULARY_FILE)
    # the teacher: trimmed base + source language SFT + task SFT (head included), frozen
    teacher_family = build_task(exp.task_cfg, exp.tokenizer)
    teacher = teacher_family.build_model(exp.model_path, exp.model)
    _, untrimmed_hash, trimmed_hash = trimmed_teacher(exp, teacher.body, reduction)
    directories = {"task": ctx.inputs["teacher_task"],
                   **({"lang": ctx.inputs["teacher_lang"]} if "teacher_lang" in ctx.inputs else {})}
    modules = trimmed_teacher_modules(exp, directories, untrimmed_hash, reduction, trimmed_hash)
    if "lang" in modules:
        modules["lang"].attach(teacher, with_head=False)
    modules["task"].attach(teacher, with_head=True)
    torch.manual_seed(exp.seed)  # the student's new head: the same in every run (and resumed run)
    student = student_task_model(family, path, base.config)
    base_hash = exp.base_hash(student.body, path)
    model = TaskDistillation(student, teacher, temperature)
    meta = {"base_model": base.name(ctx), "base_hash": base_hash, "kind": "task", "task": family.name,
            "source": spec.lang, "distilled_from": ctx.stage.inputs["teacher_task"].key, "temperature": temperature}
    request = TrainRequest(model, train, validation, family.collator(), family.schedule,
                           exp.fitter(ctx.stage.label, ctx.work_dir), exp.seed, base.config.num_parameters, meta)
    try:
        module, summary = METHODS[exp.task_module.method].train(exp.task_module, request)
    finally:
        model.release()
    module.save(ctx.out_dir)
    return {**summary, "train_examples": {spec.lang: len(train)}, "temperature": temperature}

