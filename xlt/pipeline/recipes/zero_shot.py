"""Zero-shot cross-lingual transfer with composable modules (thesis §4.3.2, Algorithm 1;
MAD-X set-up of §2.3.4): language modules for the source and every target, a task module
trained on base + source language module, and inference with base + task module + target
language module (or the TA-only / source-LA variants).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.errors import ConfigError
from xlt.eval.metrics import average
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.stage import Stage, StageResult
from xlt.pipeline.stages import evaluation_stage, language_module_stage, task_module_stage
from xlt.typology import closest_language


@dataclass
class ZeroShotConfig:
    name: str = "zero_shot"
    source_language_module: bool = True  # train the task module on base + source language module
    inference_language_module: str = "target"  # target | source | none (TA-only, §4.4.1)
    # The languages that have a language module; any other language uses the module of the pool language
    # closest to it by cosine similarity of URIEL vectors (MAD-X's fallback, §3.4.2). None: every language.
    language_module_pool: list[str] | None = None
    typology_aliases: dict[str, str] = field(default_factory=dict)  # code -> URIEL code (xlt.typology)


@register_recipe("zero_shot", ZeroShotConfig)
def plan_zero_shot(exp: Any, cfg: ZeroShotConfig) -> Plan:
    if cfg.inference_language_module not in ("target", "source", "none"):
        raise ConfigError(f"recipe.inference_language_module={cfg.inference_language_module!r}: "
                          "expected target, source or none")
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    uses_language_modules = exp.lang_module.method != "none"
    lang_stages: dict[str, Stage] = {}
    pool = cfg.language_module_pool
    if pool is not None and not pool:
        raise ConfigError("recipe.language_module_pool: empty (null means: every language has its own module)")
    module_language = {lang: lang if pool is None or lang in pool else
                       closest_language(lang, pool, aliases=cfg.typology_aliases)
                       for lang in [exp.data.source_lang, *exp.data.targets]}

    def lang_stage(lang: str) -> Stage | None:
        if not uses_language_modules:
            return None
        lang = module_language[lang]
        if lang not in lang_stages:
            lang_stages[lang] = language_module_stage(exp, lang)
        return lang_stages[lang]

    source = exp.data.source_lang
    task = task_module_stage(exp, lang_stage(source) if cfg.source_language_module else None)
    evaluations = {}
    for target in exp.data.targets:
        at_inference = {"target": target, "source": source, "none": None}[cfg.inference_language_module]
        evaluations[target] = evaluation_stage(exp, target, task, lang_stage(at_inference) if at_inference else None)

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        collected = {"languages": languages, "average": average(list(languages.values()))}
        if pool is not None and uses_language_modules:
            collected["language_modules"] = module_language  # which language's module served each language
        return collected

    return Plan([*lang_stages.values(), task, *evaluations.values()], collect)
