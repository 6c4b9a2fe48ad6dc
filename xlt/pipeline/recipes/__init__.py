"""Recipes: a recipe turns an experiment into a plan (stages + how to collect results)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xlt.config import parse
from xlt.errors import ConfigError
from xlt.pipeline.stage import Stage, StageResult


@dataclass
class Plan:
    stages: list[Stage]
    collect: Callable[[dict[str, StageResult]], dict[str, Any]]  # -> {"languages": {...}, "metric": ...}


@dataclass
class RecipeSpec:
    config: type
    plan: Callable[[Any, Any], Plan]  # (experiment, recipe config) -> Plan


RECIPES: dict[str, RecipeSpec] = {}


def register_recipe(name: str, config: type) -> Callable:
    def register(function: Callable[[Any, Any], Plan]) -> Callable[[Any, Any], Plan]:
        RECIPES[name] = RecipeSpec(config, function)
        return function

    return register


def plan_experiment(experiment: Any) -> Plan:
    from xlt.pipeline.recipes import instruction_tuning, madg, zero_shot  # noqa: F401  (registration)

    node = experiment.recipe_cfg
    name = node.get("name") if isinstance(node, dict) else None
    if name not in RECIPES:
        raise ConfigError(f"recipe.name={name!r}: unknown (known: {', '.join(sorted(RECIPES))})")
    spec = RECIPES[name]
    return spec.plan(experiment, parse(spec.config, node, "recipe"))
