"""Recipes: a recipe turns an experiment into a plan (stages + how to collect results). One module
per recipe, registered with ``@register_recipe(name, ConfigClass)`` and found by the ``RECIPES``
registry (xlt.registry); ``recipe.name`` selects one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xlt.config import parse
from xlt.pipeline.runner import Stage, StageResult
from xlt.registry import Registry


@dataclass
class Plan:
    stages: list[Stage]
    collect: Callable[[dict[str, StageResult]], dict[str, Any]]  # -> {"languages": {...}, "metric": ...}


@dataclass
class RecipeSpec:
    config: type
    plan: Callable[[Any, Any], Plan]  # (experiment, recipe config) -> Plan


RECIPES: Registry[RecipeSpec] = Registry("recipe", "xlt.pipeline.recipes", "recipe.name")


def register_recipe(name: str, config: type) -> Callable:
    def register(function: Callable[[Any, Any], Plan]) -> Callable[[Any, Any], Plan]:
        RECIPES.add(name, RecipeSpec(config, function), origin=function.__module__)
        return function

    return register


def plan_experiment(experiment: Any) -> Plan:
    node = experiment.recipe_cfg
    spec = RECIPES.get(node.get("name") if isinstance(node, dict) else None)
    return spec.plan(experiment, parse(spec.config, node, "recipe"))
