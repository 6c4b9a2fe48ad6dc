"""The thesis's findings, measured on the synthetic world (issue 15, item 5): ``make fidelity``.

A finding is a claim of the thesis that one configuration beats another (``a > b``), measured through the
real recipes on the world (``+world=synthetic``): each of its *runs* is a list of Hydra overrides, run by
:func:`xlt.pipeline.run.run_experiment` in this process, and its *measure* turns the runs' ``results.json``
into the two numbers compared (e.g. the average POS accuracy of ZS-LA and of ZS over the same targets).
Every run of a seed shares the seed's world, encoder and artifact store, so stages that two findings share
(the language modules, the single-source task module) are built once.

Over the seeds (each seed its own world, encoder and fine-tuning seed), a finding *holds* when
``mean(a) - mean(b)`` exceeds the pooled standard deviation ``sqrt((std(a)^2 + std(b)^2) / 2)`` (sample
standard deviations; with one seed nothing is decided); a claim ``a >= b`` holds unless ``b`` beats ``a`` by
more than it. A finding that names its ``chance`` score is "uninformative" when neither side beats chance by more
than the pooled standard deviation: two models that learned nothing would otherwise "match". The table prints
the thesis's figures beside ours.

Every run is capped by a :class:`Budget` (:data:`BUDGETS`): ``design``, the world profile's step caps, or
``hour``, a quarter of them, so that three seeds fit in an hour on 2 cores (the findings command's default).
:func:`default_findings` is what the command measures when no finding is named.

Findings register themselves in :data:`FINDINGS` from the modules of this package, one per chapter
(``chapter3.py``, ``chapter4.py``, ``chapter5.py``: BiStil, ``chapter6.py``: few-shot and translate-train,
``chapter7.py``). The design (tasks, targets,
budgets: :data:`WORLD_FINDINGS_BASE`, and each chapter module's) was fixed from its rationale before anything
was measured, and is not to be tuned until findings pass.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlt.registry import Registry

# The task every chapter 3/4 finding is measured on, and the base of every run. POS tagging: its labels
# depend on exactly what the world varies between languages (lexicon, morphology, word order), it is the
# cheapest task per example, and chapter 4 reports it beside NLI (Table 4.3). One source, qma (the world's
# English, SVO); targets: its low-resource seen sibling qmb and the unseen SVO languages qmc (close
# relative), qmd (distant relative), qla (isolate), plus the unseen sibling of each other order type (qfc,
# qic), which multi-source training is for.
WORLD_FINDINGS_BASE = ["+experiment=ltsft_ud_pos", "+world=synthetic"]
SEEN_LOW = ["qmb"]
UNSEEN_SVO = ["qmc", "qmd", "qla"]
OTHER_ORDERS = ["qfc", "qic"]
TARGETS = [*SEEN_LOW, *UNSEEN_SVO, *OTHER_ORDERS]


@dataclass
class Finding:
    """``a`` beats ``b``: ``measure`` maps {run name: results.json} to (a, b), in metric points (0-100)."""

    name: str
    chapter: int
    claim: str  # "ZS-LA > ZS"
    thesis: str  # the thesis's figures for the same comparison
    runs: dict[str, list[str]]  # run name -> overrides (after WORLD_FINDINGS_BASE and the seed's)
    measure: Callable[[Mapping[str, dict[str, Any]]], tuple[float, float]]
    labels: tuple[str, str] = ("a", "b")
    base: list[str] = field(default_factory=lambda: list(WORLD_FINDINGS_BASE))  # experiment + world profile
    at_least: bool = False  # a claim "a >= b": holds unless b beats a by more than the pooled std
    world_lm: bool = False  # its runs need the world's causal LM and instruction data (chapter 7)
    chance: float | None = None  # what a model that learned nothing scores (e.g. 100/3 for 3 balanced answers)
    default: bool = True  # measured by the findings command unless findings are named (see DEFAULT_FINDINGS)


FINDINGS: Registry[Finding] = Registry("finding", "xlt.report.findings", "finding")


def finding(entry: Finding) -> Finding:
    return FINDINGS.add(entry.name, entry)


def default_findings() -> list[str]:
    """What the findings command measures when no finding is named: every registered finding but those marked
    ``default=False``, chapter 4's first (its language and task modules are the ones the others reuse)."""
    return sorted((name for name, entry in FINDINGS.items() if entry.default),
                  key=lambda name: FINDINGS[name].chapter != 4)


@dataclass(frozen=True)
class Budget:
    """The training budget of every finding's runs: the step caps of the world profile's fine-tuning.

    ``design`` is the profile's own (conf/world/synthetic.yaml): language modules (and MAD-G's generator) at
    most 500 steps per phase, task modules at most 600, BiStil's stage 1 twice the language modules' cap (§5.4.2:
    "to equal the total length of the two phases of LT-SFT training"). ``hour`` is the design with every cap
    cut to a quarter, so that three seeds fit in an hour on two cores (docs/fidelity.md: the arithmetic); the
    pretrained world models, the data, the rates, the densities, the targets and the translation model's
    adaptation (5 epochs, about a minute) are the design's. A run's other settings are untouched, so the
    ``design`` budget composes exactly the configurations the design's runs had (stage 1's 1,000 steps, which the
    profile cannot set, included), hence the same artifact keys.
    """

    name: str
    language_steps: int  # language modules, MAD-G's generator: at most this many steps per phase
    task_steps: int  # task modules (every phase), BiStil's task distillation and students' task SFTs

    @property
    def distillation_steps(self) -> int:
        return 2 * self.language_steps  # BiStil stage 1 (§5.4.2): the two LT-SFT phases' total

    def overrides(self, cfg: Any) -> list[str]:
        """``key=value`` for each cap that ``cfg`` (a composed run) has: a recipe without distillation gets none."""
        from omegaconf import OmegaConf

        caps = {"lang_module.train.max_steps": self.language_steps, "task.train.max_steps": self.task_steps,
                "recipe.distillation.train.max_steps": self.distillation_steps}
        return [f"{key}={value}" for key, value in caps.items() if OmegaConf.select(cfg, key) is not None]


BUDGETS = {"design": Budget("design", language_steps=500, task_steps=600),
           "hour": Budget("hour", language_steps=125, task_steps=150)}


def mean_metric(results: Mapping[str, Any], languages: Sequence[str]) -> float:
    """Mean of the primary metric over ``languages`` (in points)."""
    metric = results["metric"]
    return 100 * statistics.fmean(results["languages"][lang][metric] for lang in languages)


def run_means(a: str, b: str, languages: Sequence[str]
              ) -> Callable[[Mapping[str, dict[str, Any]]], tuple[float, float]]:
    """The measure of most findings: the primary metric of runs ``a`` and ``b``, each averaged over ``languages``."""
    return lambda results: (mean_metric(results[a], languages), mean_metric(results[b], languages))


def target_list(languages: Sequence[str]) -> str:
    return f"data.targets=[{','.join(languages)}]"


@dataclass
class Outcome:
    finding: Finding
    a: list[float] = field(default_factory=list)  # one value per seed
    b: list[float] = field(default_factory=list)
    seconds: float = 0.0  # time spent on this finding's runs that were not cached
    error: str | None = None

    @staticmethod
    def _std(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else math.nan

    @property
    def pooled_std(self) -> float:
        return math.sqrt((self._std(self.a) ** 2 + self._std(self.b) ** 2) / 2)

    @property
    def verdict(self) -> str:
        if self.error:
            return "not measured"
        if len(self.a) < 2:
            return "n/a (1 seed)"
        mean_a, mean_b = statistics.fmean(self.a), statistics.fmean(self.b)
        if self.finding.chance is not None and max(mean_a, mean_b) - self.finding.chance <= self.pooled_std:
            return "uninformative (both at chance)"  # "a >= b" would hold between two models that learned nothing
        gap = mean_a - mean_b
        holds = gap >= -self.pooled_std if self.finding.at_least else gap > self.pooled_std
        return "holds" if holds else "does not hold"

    def cell(self, values: list[float]) -> str:
        if not values:
            return "-"
        return f"{statistics.fmean(values):.1f} ± {self._std(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def table(outcomes: Sequence[Outcome], seeds: Sequence[int]) -> str:
    """The findings table (markdown): finding, thesis figures, ours (mean ± std over seeds), verdict."""
    lines = [f"| finding (ch.) | thesis | ours: a | ours: b | a - b | verdict (seeds {', '.join(map(str, seeds))}) | "
             "time |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for o in outcomes:
        f = o.finding
        gap = (statistics.fmean(o.a) - statistics.fmean(o.b)) if o.a and o.b else math.nan
        lines.append(f"| {f.claim} ({f.chapter}) | {f.thesis} | {f.labels[0]}: {o.cell(o.a)} | {f.labels[1]}: "
                     f"{o.cell(o.b)} | {gap:+.1f} | {o.verdict}{' (' + o.error + ')' if o.error else ''} | "
                     f"{o.seconds / 60:.0f} min |")
    return "\n".join(lines)


def run_findings(names: Sequence[str], seeds: Sequence[int], root: Path, extra: Sequence[str] = (),
                 log: Callable[[str], None] = print, prepare: Callable[[Path, int], Any] | None = None,
                 budget: Budget | None = None, pretraining: Any = None) -> list[Outcome]:
    """Measure ``names`` over ``seeds``: per seed, prepare the world (``ROOT/seed<N>``: data and encoder),
    then run every finding's runs (shared stages built once) at ``budget`` (default: the design's) and record
    its two numbers. ``extra`` overrides come last, after the budget's. ``pretraining`` (a
    :class:`~xlt.pipeline.stages.pretraining.PretrainingConfig`) replaces the encoder's default schedule;
    ``prepare(root, seed)`` replaces :func:`~xlt.pipeline.world.prepare_world` altogether."""
    from hydra import compose, initialize_config_dir

    from xlt.pipeline.run import run_experiment
    from xlt.pipeline.world import prepare_world
    from xlt.typology.uriel import load_uriel

    conf = Path(__file__).resolve().parents[3] / "conf"
    outcomes = {name: Outcome(FINDINGS[name]) for name in names}
    lm = any(outcome.finding.world_lm for outcome in outcomes.values())  # the causal LM only where needed
    for seed in seeds:
        world_root = root / f"seed{seed}"
        started = time.perf_counter()
        world = (prepare or (lambda r, s: prepare_world(r, s, artifacts=root / "artifacts", pretraining=pretraining,
                                                        lm=lm)))(world_root, seed)
        os.environ.update(world.environment())  # XLT_URIEL_DIR: this seed's typology (MAD-G, fallback)
        load_uriel.cache_clear()
        log(f"seed {seed}: world and encoder ready in {time.perf_counter() - started:.0f} s ({world_root})")
        done: dict[str, dict[str, Any]] = {}
        for name in names:
            outcome = outcomes[name]
            if outcome.error:
                continue
            results: dict[str, dict[str, Any]] = {}
            try:
                for run, overrides in outcome.finding.runs.items():
                    everything = [*outcome.finding.base, *overrides, f"seed={seed}", f"paths.world={world_root}",
                                  f"paths.artifacts={root / 'artifacts'}", f"paths.root={root}"]
                    key = json.dumps(everything)
                    if key not in done:
                        run_started = time.perf_counter()
                        with initialize_config_dir(str(conf), version_base="1.3"):
                            caps = (budget or BUDGETS["design"]).overrides(compose("config", overrides=everything))
                            everything = [*everything, *caps, *extra]
                            cfg = compose("config", overrides=everything)
                        run_dir = root / "runs" / f"seed{seed}" / f"{name}-{run}"
                        done[key] = run_experiment(cfg, run_dir, overrides=everything)
                        outcome.seconds += time.perf_counter() - run_started
                        log(f"seed {seed}: {name}/{run} in {time.perf_counter() - run_started:.0f} s")
                    results[run] = done[key]
                a, b = outcome.finding.measure(results)
            except Exception as error:  # noqa: BLE001 - a finding that cannot be measured is reported as such
                outcome.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                log(f"seed {seed}: {name} not measured: {outcome.error}")
                continue
            outcome.a.append(a)
            outcome.b.append(b)
            log(f"seed {seed}: {name}: {outcome.finding.labels[0]} {a:.1f} vs {outcome.finding.labels[1]} {b:.1f}")
    return list(outcomes.values())
