"""MAD-G recipes (thesis chapter 3, Fig. 3.1).

``madg_train``: train the adapter generator (multilingual MLM, §3.4.3), generate the language adapter
of every training language (and of any extra language with a URIEL vector, ``generate``), and report
each training language's held-out MLM loss with the base model alone and with its generated adapter.
It trains no task: its results say ``"task": "mlm"``.

``madg`` (§3.3.3, §3.4.2): the generator; the generated source language adapter; a task adapter
(m = 48) trained on base + generated source adapter; inference on each target with its generated
adapter (MAD-G), with the source adapter (``protocol: source``: MAD-G-en, the source being English).
``protocol: ta_only`` is §3.4.2's TA-only: a task adapter trained and evaluated without any language
adapter (no generator stage at all). With a multi-source ``data.sources``
(§3.3.3) every source language's adapter is generated and the task adapter trains with each batch's
language's generated adapter active (the Fitter's mixture sampler and ``LanguageSwitch``, as any
multi-source task module); MAD-G-en then uses the first source's adapter. ``finetune`` fine-tunes each target's
adapter on a few words of its corpus before inference: from the generated adapter (MAD-G-ft) or
from a random one (rand-ft, §3.5.3). Targets need no corpus except for ``finetune``: generation
works for languages unseen in the generator's training (results say which were seen: a language is
seen when its URIEL code is one of the training languages', ``MadgConfig.seen_by_generator``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.errors import ConfigError
from xlt.eval.metrics import average
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.recipes.protocol import (
    check_protocol,
    inference_language,
    protocol_record,
    trains_with_source_modules,
)
from xlt.pipeline.runner import Stage, StageResult
from xlt.pipeline.stages.evaluation import evaluation_stage
from xlt.pipeline.stages.madg import (
    FinetuneConfig,
    finetuned_adapter_stage,
    generated_adapter_stage,
    generator_corpus,
    generator_stage,
    madg_config,
    mlm_evaluation_stage,
)
from xlt.pipeline.stages.task_module import task_module_stage
from xlt.typology import resolve_code


@dataclass
class MadgTrainConfig:
    name: str = "madg_train"
    generate: list[str] = field(default_factory=list)  # extra languages (URIEL codes) to generate adapters for
    evaluate: bool = True  # held-out MLM loss per training language: base vs base + generated adapter


@register_recipe("madg_train", MadgTrainConfig)
def plan_madg_train(exp: Any, cfg: MadgTrainConfig) -> Plan:
    madg = madg_config(exp)
    generator = generator_stage(exp)
    languages = madg.training_languages(exp.data.use_samples)
    adapters = {lang: generated_adapter_stage(exp, lang, generator) for lang in [*languages, *cfg.generate]}
    evaluations = {lang: mlm_evaluation_stage(exp, lang, generator_corpus(exp, madg, lang), adapters[lang])
                   for lang in languages} if cfg.evaluate else {}

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages_out = {lang: {k: v for k, v in results[stage.label].metrics.items() if k in ("loss", "loss_base")}
                         for lang, stage in evaluations.items()}
        return {"task": "mlm",  # the generator's multilingual MLM: no task (the task group is unused here)
                "languages": languages_out, "average": average(list(languages_out.values())),
                "generator": {k: v for k, v in results["generator"].metrics.items() if k.startswith("parameters/")},
                "generated": {lang: str(results[stage.label].path) for lang, stage in adapters.items()},
                "generator_languages": languages,
                "typology": {lang: {"uriel": resolve_code(lang, madg.aliases),
                                    "seen_by_generator": madg.seen_by_generator(lang, exp.data.use_samples)}
                             for lang in adapters}}

    return Plan([generator, *adapters.values(), *evaluations.values()], collect)


@dataclass
class MadgRecipeConfig:
    name: str = "madg"
    protocol: str = "target"  # target (MAD-G) | source (MAD-G-en) | ta_only (TA-only, §3.4.2) | ta_only_at_inference
    finetune: FinetuneConfig | None = None  # MAD-G-ft / rand-ft of the target adapters (§3.5.3)


@register_recipe("madg", MadgRecipeConfig)
def plan_madg(exp: Any, cfg: MadgRecipeConfig) -> Plan:
    madg = madg_config(exp)
    protocol = check_protocol(cfg.protocol)
    if cfg.finetune is not None and protocol != "target":
        raise ConfigError(f"recipe.finetune: fine-tuned adapters are used at inference only with "
                          f"recipe.protocol=target, not {protocol}")
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    generator = generator_stage(exp) if protocol != "ta_only" else None  # TA-only: no language adapter at all
    generated: dict[str, Stage] = {}

    def adapter(lang: str) -> Stage:
        assert generator is not None
        if lang not in generated:
            generated[lang] = generated_adapter_stage(exp, lang, generator)
        return generated[lang]

    source = exp.data.source_lang
    mixture = exp.data.mixture()
    training = {spec.lang: spec.lang if trains_with_source_modules(protocol) else None for spec in mixture}
    task = task_module_stage(exp, {lang: adapter(lang) if module else None for lang, module in training.items()})
    finetuned: dict[str, Stage] = {}
    evaluations: dict[str, Stage] = {}
    inference = {target: inference_language(protocol, target, source) for target in exp.data.targets}
    for target, lang in inference.items():
        if lang is None:
            lang_stage = None
        elif cfg.finetune is not None:
            init = adapter(target) if cfg.finetune.init == "generated" else None
            lang_stage = finetuned[target] = finetuned_adapter_stage(exp, target, cfg.finetune, generator, init)
        else:
            lang_stage = adapter(lang)
        evaluations[target] = evaluation_stage(exp, target, task, lang_stage)

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        typology = {lang: {"uriel": resolve_code(lang, madg.aliases),
                           "seen_by_generator": madg.seen_by_generator(lang, exp.data.use_samples)}
                    for lang in exp.data.targets}
        return {"languages": languages, "average": average(list(languages.values())), "typology": typology,
                "generator_languages": madg.training_languages(exp.data.use_samples) if generator else [],
                "sources": [spec.lang for spec in mixture], "protocol": protocol_record(protocol, training, inference)}

    language_stages = [generator, *generated.values()] if generator is not None else []
    return Plan([*language_stages, task, *finetuned.values(), *evaluations.values()], collect)
