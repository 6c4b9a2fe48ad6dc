"""Holistic cross-lingual transfer (thesis chapter 6, §6.3.1, §6.4.3): language modules, gold target
"shots", machine-translated task data and translate-test, as the configurations of Tables 6.2-6.4.

Recipe (§6.3.1): (1) language modules for the source and every target with a corpus (the zero-shot
recipe's ``lang/<l>`` stages: shared with chapter 4 where the configs coincide); (2) the source task
data translated into every target (``mt/<l>/<split>``), NLLB adapted first to a target it does not
support (``nmt/<src>-<l>``, Table 6.1's daggers, §6.3.3); (3) one multi-source task training over the
source, translated and gold few-shot data, single-language batches, each with its language's module
active for its step (``task`` or ``task/<l>``); then (4) each target evaluated with the task module and
its own language module (``eval/<l>``).

``recipe.configuration`` picks a row of the thesis (:data:`CONFIGURATIONS`); ``lang_module`` /
``task_module`` pick the PEFT family (adapter: MAD-X 2.0 language adapters and task adapters of
reduction factor 16; ltsft: language SFTs and task SFTs of density 8%). In every configuration:

- gold shots of a target are a source of their own (``<l>_shots``), drawn from the target's labelled
  split (xlt.pipeline.stages.shots), trained with the target's language module and upsampled
  ``recipe.shots.upsampling`` times (10; 1 for FS - UPSAMPLE), with no validation data: checkpoints of
  FS runs are selected on the source's validation data only (§6.4.3);
- translated data of a target (``<l>_translated``) trains with that target's language module and is
  never upsampled; TTRAIN-SINGLE validates on that target's translated validation split, TTRAIN-ALL
  (and FS + TTRAIN-ALL) on the source's and every target's translated validation split (each language
  is validated with its module; the mean selects);
- the "- LA" variants have no language module anywhere (no language-module stage is built);
- TTEST evaluates the ZS task module (the same artifact as ZS) with the source's language module on each
  target's test set translated into the source language (by NLLB adapted in the target -> source
  direction where NLLB lacks the target);
- a target with no language module (``data.languages.<l>.language_module: false``: Ngaju) trains and is
  evaluated without one, as in the zero-shot recipe; the thesis leaves it out of its averages with
  language adaptation (``data.targets`` without it reproduces those).

``recipe.shots.k = 0`` in a few-shot configuration is ZS (Appendix D.3's K = 0 row; the same artifacts).
A source with ``data.trim`` (SMSA) trains on its trimmed training and validation splits
(xlt.pipeline.stages.trimming), which are also what gets translated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from xlt.config import check_choice, check_number
from xlt.data.shots import SHOT_POLICIES
from xlt.errors import ConfigError
from xlt.eval.metrics import average
from xlt.pipeline.data_config import SourceSpec
from xlt.pipeline.recipes import Plan, register_recipe
from xlt.pipeline.recipes.zero_shot import module_summary
from xlt.pipeline.runner import Stage, StageResult
from xlt.pipeline.stages.evaluation import evaluation_stage
from xlt.pipeline.stages.language_module import language_module_stage
from xlt.pipeline.stages.nmt import translation_model
from xlt.pipeline.stages.shots import shot_data, shots_stage
from xlt.pipeline.stages.task_module import task_module_stage
from xlt.pipeline.stages.translation import translated, translation_stage
from xlt.pipeline.stages.trimming import trim_stage, trimmed


@dataclass(frozen=True)
class Configuration:
    """One row of Tables 6.2-6.3: which data sources the task module trains on, and how it is evaluated."""

    row: str  # the thesis's name
    description: str
    language_modules: bool = True  # False: the "- LA" ablations (no language module anywhere)
    shots: str = "none"  # none | single (one task module per target) | all (one for all targets)
    translated: str = "none"  # none | single (that target's only, no source data) | all (source + every target)
    shot_upsampling: int | None = None  # None: recipe.shots.upsampling (10); FS - UPSAMPLE: 1
    translate_test: bool = False

    @property
    def per_target(self) -> bool:
        """Whether each target gets a task module of its own (the -SINGLE configurations)."""
        return "single" in (self.shots, self.translated)


CONFIGURATIONS: dict[str, Configuration] = {
    "zs": Configuration("ZS", "zero-shot: source data, language modules (MAD-X / LT-SFT, §6.4.3)"),
    "zs_la": Configuration("ZS – LA", "zero-shot without language modules", language_modules=False),
    "fs_single": Configuration("FS-SINGLE", "source data + K gold shots of one target, a task module per target",
                               shots="single"),
    "fs_all": Configuration("FS-ALL", "source data + K gold shots of every target, one task module", shots="all"),
    "fs_la": Configuration("FS – LA", "FS-SINGLE without language modules", language_modules=False, shots="single"),
    "fs_upsample": Configuration("FS – UPSAMPLE", "FS-SINGLE without upsampling the shots", shots="single",
                                 shot_upsampling=1),
    "ttrain_single": Configuration("TTRAIN-SINGLE", "one target's translated data only, a task module per target, "
                                   "validated on its translated validation data", translated="single"),
    "ttrain_all": Configuration("TTRAIN-ALL", "source data + every target's translated data, validated on the "
                                "source and translated validation data", translated="all"),
    "ttrain_all_la": Configuration("TTRAIN-ALL – LA", "TTRAIN-ALL without language modules", language_modules=False,
                                   translated="all"),
    "fs_ttrain_all": Configuration("FS + TTRAIN-ALL", "source data + every target's translated data and K gold "
                                   "shots, one task module", shots="all", translated="all"),
    "ttest": Configuration("TTEST", "the ZS task module (source language module) on each target's test set "
                           "translated into the source language", translate_test=True),
}


@dataclass
class ShotsConfig:
    """``recipe.shots``: the gold target examples of the FS configurations (§6.4.3)."""

    k: int = 100  # per target (Figure 6.1: 0, 20, 100, 500); more than exist: all of them, with a note
    policy: str = "random"  # random (seeded) | stratified (by label) | first (the reference code's)
    upsampling: int = 10  # how many times each shot batch is repeated per epoch (§6.3.2)
    seed: int | None = None  # null: the run seed

    def validate(self, where: str) -> None:
        check_number(self.k, f"{where}.k", minimum=0, integer=True)
        check_choice(self.policy, f"{where}.policy", SHOT_POLICIES)
        check_number(self.upsampling, f"{where}.upsampling", minimum=1, integer=True)
        check_number(self.seed, f"{where}.seed", integer=True, optional=True)


@dataclass
class HolisticConfig:
    name: str = "holistic"
    configuration: str = "zs"  # a key of CONFIGURATIONS
    shots: ShotsConfig = field(default_factory=ShotsConfig)

    def validate(self, where: str) -> None:
        check_choice(self.configuration, f"{where}.configuration", CONFIGURATIONS)


class HolisticPlanner:
    """Builds the stages of one configuration, each stage once (shared by every task module using it)."""

    def __init__(self, exp: Any, cfg: HolisticConfig):
        self.exp, self.cfg = exp, cfg
        self.conf = CONFIGURATIONS[cfg.configuration]
        self.uses_language_modules = self.conf.language_modules and exp.lang_module.method != "none"
        self.lang_stages: dict[str, Stage] = {}
        self.adapted: dict[tuple[str, bool], Stage] = {}
        self.translations: dict[tuple[str, str], Stage] = {}
        self.shot_stages: dict[str, Stage] = {}
        self.trim_stages: dict[str, Stage] = {}
        self.sources = self._sources()
        self.source = self.sources[0]

    # ------------------------------------------------------------------ language modules
    def lang_stage(self, lang: str) -> Stage | None:
        """``lang``'s language module (None: none in this configuration, or the language has none)."""
        if not self.uses_language_modules or not self.exp.data.has_language_module(lang):
            return None
        if lang not in self.lang_stages:
            self.lang_stages[lang] = language_module_stage(self.exp, lang)
        return self.lang_stages[lang]

    def has_module(self, lang: str) -> bool:
        return self.lang_stage(lang) is not None

    # ------------------------------------------------------------------ data
    def _sources(self) -> list[SourceSpec]:
        """The data config's sources; with ``data.trim``, the source's trimmed splits instead."""
        sources = self.exp.data.mixture()
        if not self.exp.data.trim:
            return sources
        if len(sources) != 1:
            raise ConfigError("data.trim: trimming is defined for one source language (SMSA), not a mixture")
        source = sources[0]
        stages = {split: trim_stage(self.exp, source, split) for split in ("train", "validation")
                  if (source.train if split == "train" else source.validation)}
        self.trim_stages = {stage.label: stage for stage in stages.values()}
        return [replace(source, train=[trimmed(stages["train"])],
                        validation=[trimmed(stages["validation"])] if "validation" in stages else [])]

    def translation(self, lang: str, split: str) -> Stage:
        """``mt/<lang>/<split>``: the source's ``split`` translated into ``lang`` (``test``: ``lang``'s test
        set translated into the source language)."""
        if (lang, split) not in self.translations:
            exp, source = self.exp, self.source
            if split == "test":
                test = exp.data.target_location(lang, "test")
                if test is None:
                    raise ConfigError(f"data.target.test: no test set for target {lang!r} to translate")
                stage = translation_stage(exp, lang, "test", [test], lang, source.lang,
                                          translation_model(exp, lang, True, self.adapted),
                                          f"data.target.test ({lang})")
            else:
                locations = source.train if split == "train" else source.validation
                if not locations:
                    raise ConfigError(f"data.sources.{source.key}.{split}: nothing to translate into {lang!r}")
                stage = translation_stage(exp, lang, split, locations, source.lang, lang,
                                          translation_model(exp, lang, False, self.adapted),
                                          f"data.sources.{source.key}.{split}")
            self.translations[(lang, split)] = stage
        return self.translations[(lang, split)]

    def translated_source(self, lang: str) -> SourceSpec:
        """``<lang>_translated``: the source data translated into ``lang``, with ``lang``'s language module,
        never upsampled, validated on the translated validation split."""
        validation = [translated(self.translation(lang, "validation"))] if self.source.validation else []
        return SourceSpec(lang=lang, name=f"{lang}_translated", train=[translated(self.translation(lang, "train"))],
                          validation=validation, upsampling=1, language_module=self.has_module(lang))

    def shots_source(self, lang: str) -> SourceSpec:
        """``<lang>_shots``: K gold examples of ``lang``, with its language module, upsampled, not validated on."""
        shots = self.cfg.shots
        if lang not in self.shot_stages:
            seed = shots.seed if shots.seed is not None else self.exp.seed
            self.shot_stages[lang] = shots_stage(self.exp, lang, shots.k, shots.policy, seed)
        upsampling = self.conf.shot_upsampling or shots.upsampling
        return SourceSpec(lang=lang, name=f"{lang}_shots", train=[shot_data(self.shot_stages[lang])], validation=[],
                          upsampling=upsampling, language_module=self.has_module(lang))

    # ------------------------------------------------------------------ task modules
    def mixtures(self) -> dict[str, list[SourceSpec]]:
        """Task-module label -> its sources (``task``, or ``task/<l>`` per target for -SINGLE)."""
        conf, targets = self.conf, self.exp.data.targets
        shots = conf.shots if self.cfg.shots.k > 0 else "none"  # K = 0 is ZS
        if conf.translated == "single":
            return {f"task/{t}": [self.translated_source(t)] for t in targets}
        if shots == "single":
            return {f"task/{t}": [*self.sources, self.shots_source(t)] for t in targets}
        mixture = list(self.sources)
        if conf.translated == "all":
            mixture += [self.translated_source(t) for t in targets]
        if shots == "all":
            mixture += [self.shots_source(t) for t in targets]
        return {"task": mixture}

    def task_stage(self, label: str, mixture: list[SourceSpec]) -> Stage:
        """A task module on ``mixture``: each source's batches with its language's module (one stage per
        language, whether its data are gold, shots or translated)."""
        lang_stages = {spec.lang: self.lang_stage(spec.lang) if spec.language_module else None for spec in mixture}
        return task_module_stage(self.exp, lang_stages, mixture=mixture, label=label)


@register_recipe("holistic", HolisticConfig)
def plan_holistic(exp: Any, cfg: HolisticConfig) -> Plan:
    if not exp.data.targets:
        raise ConfigError("data.targets: no target languages")
    planner = HolisticPlanner(exp, cfg)
    conf = planner.conf
    mixtures = planner.mixtures()
    tasks = {label: planner.task_stage(label, mixture) for label, mixture in mixtures.items()}
    source = planner.source.lang
    evaluations: dict[str, Stage] = {}
    inference: dict[str, str | None] = {}
    for target in exp.data.targets:
        task = tasks.get(f"task/{target}") or tasks["task"]
        if conf.translate_test:  # the target's test set in the source language, with the source's module
            lang_stage, test = planner.lang_stage(source), translated(planner.translation(target, "test"))
            inference[target] = source if lang_stage is not None else None
        else:
            lang_stage, test = planner.lang_stage(target), None
            inference[target] = target if lang_stage is not None else None
        evaluations[target] = evaluation_stage(exp, target, task, lang_stage, test=test)

    def collect(results: dict[str, StageResult]) -> dict[str, Any]:
        languages = {lang: {k: v for k, v in results[stage.label].metrics.items() if k != "examples"}
                     for lang, stage in evaluations.items()}
        collected: dict[str, Any] = {
            "languages": languages, "average": average(list(languages.values())),
            "sources": [spec.lang for spec in planner.sources],
            "configuration": {"name": cfg.configuration, "row": conf.row, "description": conf.description,
                              "language_modules": planner.uses_language_modules},
            "task_modules": {label: _mixture_record(mixture, planner, results, tasks[label])
                             for label, mixture in mixtures.items()},
            "modules": module_summary(exp, results, planner.lang_stages),
            # each language module's monolingual corpus in words (Figure 6.2's x axis)
            "corpus_words": {lang: results[stage.label].metrics.get("corpus_words")
                             for lang, stage in planner.lang_stages.items()},
            "inference": {"task_module": {t: (tasks.get(f"task/{t}") or tasks["task"]).label for t in exp.data.targets},
                          "language_module": inference, "translate_test": conf.translate_test},
            "without_language_module": [t for t in exp.data.targets
                                        if planner.uses_language_modules and not exp.data.has_language_module(t)],
        }
        if planner.shot_stages:
            collected["shots"] = {lang: {k: results[stage.label].metrics.get(k)
                                         for k in ("requested", "taken", "available", "clipped", "note", "policy")}
                                  for lang, stage in planner.shot_stages.items()}
        if planner.translations:
            collected["translation"] = {stage.label: {"model": _model_name(stage), **{
                k: results[stage.label].metrics.get(k) for k in ("src", "tgt", "records", "segments",
                                                                 "unique_segments", "truncated", "backend")}}
                for stage in planner.translations.values()}
        if planner.adapted:
            collected["nmt_adaptation"] = {stage.label: {k: results[stage.label].metrics.get(k) for k in (
                "code", "init", "direction", "method", "train_pairs", "heldout_pairs", "val/chrf", "val/bleu")}
                for stage in planner.adapted.values()}
        if planner.trim_stages:
            collected["trimming"] = {label: {k: results[label].metrics.get(k) for k in (
                "train", "test", "kept", "removed", "removed_exact", "removed_near", "threshold")}
                for label in planner.trim_stages}
        return collected

    stages = [*planner.trim_stages.values(), *planner.lang_stages.values(), *tasks.values(), *evaluations.values()]
    return Plan(stages, collect)


def _model_name(stage: Stage) -> str:
    model = stage.inputs.get("model")
    return model.label if model is not None else "nmt (as configured)"


def _mixture_record(mixture: list[SourceSpec], planner: HolisticPlanner, results: dict[str, StageResult],
                    stage: Stage) -> dict[str, Any]:
    """What a task module trained on: per source its language, language module, upsampling, examples."""
    examples = results[stage.label].metrics.get("train_examples") or {}
    def module(spec: SourceSpec) -> str | None:
        return spec.lang if spec.language_module and planner.has_module(spec.lang) else None

    return {"sources": {spec.key: {"lang": spec.lang, "upsampling": spec.upsampling, "language_module": module(spec),
                                   "validated": bool(spec.validation), "examples": examples.get(spec.key)}
                        for spec in mixture}}
