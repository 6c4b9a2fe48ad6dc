"""Zero-shot cross-lingual transfer with composable modules (thesis §4.3.2, Algorithm 1;
MAD-X set-up of §2.3.4): language modules for the source(s) and every target, a task module
trained on base + source language module (multi-source, §4.4.4: each batch with its own
language's module), and inference with base + task module + target language module.
``recipe.protocol`` (:mod:`xlt.pipeline.recipes.protocol`) chooses the variants: the source's module at
inference, TA-only of §3.4.2 (no language module anywhere) or of §4.4.1 (none at inference). Languages
marked ``data.languages.<l>.language_module: false`` (no usable corpus) go without one.
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
from xlt.pipeline.stages.language_module import language_module_stage
from xlt.pipeline.stages.task_module import task_module_stage
from xlt.typology import closest_language


def module_summary(exp: Any, results: dict[str, StageResult], lang_stages: dict[str, Stage]) -> dict[str, Any]:
    """Method, configured budget and trained K/density of the task and language modules (for reports)."""
    summary = {}
    for role, cfg, stages in (("task_module", exp.task_module, [s for s in results.values()
                                                                 if s.stage.kind == "task_module"]),
                              ("lang_module", exp.lang_module, [results[s.label] for s in lang_stages.values()])):
        entry = {"method": cfg.method, "density": getattr(cfg, "density", None),
                 "num_trainable": getattr(cfg, "num_trainable", None)}
        trained = [r.metrics for r in stages if "density" in r.metrics]
        if trained:
            entry["trained_k"] = trained[0].get("k")
            entry["trained_density"] = sum(m["density"] for m in trained) / len(trained)
        summary[role] = entry
    return summary


@dataclass
class ZeroShotConfig:
    name: str = "zero_shot"
    protocol: str = "target"  # target | source | ta_only (§3.4.2) | ta_only_at_inference (§4.4.1): protocol.py
    # The languages that have a language module; any other language uses the module of the pool language
    # closest to it by cosine similarity of URIEL vectors (MAD-X's fallback, §3.4.2). None: every language.
    language_module_pool: list[str] | None = None
    typology_aliases: dict[str, str] = field(default_factory=dict)  # code -> URIEL code (xlt.typology)


@register_recipe("zero_shot", ZeroShotConfig)
def plan_zero_shot(exp: Any, cfg: ZeroShotConfig) -> Plan:
    protocol = check_protocol(cfg.protocol)
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    uses_language_modules = exp.lang_module.method != "none" and protocol != "ta_only"
    lang_stages: dict[str, Stage] = {}
    pool = cfg.language_module_pool
    if pool is not None and not pool:
        raise ConfigError("recipe.language_module_pool: empty (null means: every language has its own module)")
    module_language = {lang: lang if pool is None or lang in pool else
                       closest_language(lang, pool, aliases=cfg.typology_aliases)
                       for lang in [*(spec.lang for spec in exp.data.mixture()), *exp.data.targets]}

    def lang_stage(lang: str) -> Stage | None:
        if not uses_language_modules or not exp.data.has_language_module(lang):
            return None
        lang = module_language[lang]
        if lang not in lang_stages:
            lang_stages[lang] = language_module_stage(exp, lang)
        return lang_stages[lang]

    def served_by(lang: str | None) -> str | None:  # whose module a language gets (None: no module)
        return module_language[lang] if lang is not None and lang_stage(lang) is not None else None

    source = exp.data.source_lang
    mixture = exp.data.mixture()
    training = {spec.lang: served_by(spec.lang) if trains_with_source_modules(protocol) and spec.language_module
                else None for spec in mixture}
    task = task_module_stage(exp, {lang: lang_stage(lang) if module else None for lang, module in training.items()})
    evaluations = {}
    inference = {}
    for target in exp.data.targets:
        at_inference = inference_language(protocol, target, source)
        inference[target] = served_by(at_inference)
        evaluations[target] = evaluation_stage(exp, target, task, lang_stage(at_inference) if inference[target]
                                               else None)

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        collected = {"languages": languages, "average": average(list(languages.values())),
                     "sources": [spec.lang for spec in mixture], "modules": module_summary(exp, results, lang_stages),
                     "protocol": protocol_record(protocol, training, inference)}
        if pool is not None and uses_language_modules:
            collected["language_modules"] = module_language  # which language's module served each language
        return collected

    return Plan([*lang_stages.values(), task, *evaluations.values()], collect)
