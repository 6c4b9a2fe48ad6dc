"""A trained MAD-G generator as an artifact (``generator.safetensors`` + ``generator_config.json``), the
adapters it generates for any language with a URIEL vector (§3.3), and the per-batch activation of one
language on the generator during its multilingual training. No Lightning."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from xlt.errors import ArtifactError
from xlt.methods.adapters.artifact import AdapterModule
from xlt.methods.adapters.bottleneck import find_sites
from xlt.methods.madg.config import MadgConfig
from xlt.methods.madg.generator import AdapterGenerator, GeneratorAdapter
from xlt.typology import resolve_code, uriel_vector

if TYPE_CHECKING:
    from xlt.tasks.base import TaskModel

GENERATOR_WEIGHTS = "generator.safetensors"
GENERATOR_CONFIG = "generator_config.json"
FORMAT = "xlt-madg-generator"


class GeneratorArtifact:
    """A trained generator: ``generator.safetensors`` + ``generator_config.json``."""

    def __init__(self, generator: AdapterGenerator, meta: dict[str, Any]):
        self.generator, self.meta = generator, meta

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        g = self.generator
        config = {"format": FORMAT, "format_version": 1, "hidden_size": g.hidden_size, "bottleneck": g.bottleneck,
                  "layers": list(g.layers), "language_dim": g.language_dim, "layer_dim": g.layer_dim,
                  "num_features": g.num_features, "non_linearity": g.non_linearity,
                  "parameters": g.parameter_counts(), **self.meta}
        save_file({k: v.detach().cpu().contiguous() for k, v in g.state_dict().items()},
                  str(directory / GENERATOR_WEIGHTS))
        (directory / GENERATOR_CONFIG).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> GeneratorArtifact:
        config_path = directory / GENERATOR_CONFIG
        if not config_path.is_file() or not (directory / GENERATOR_WEIGHTS).is_file():
            raise ArtifactError(f"{directory}: not a MAD-G generator ({GENERATOR_CONFIG}, {GENERATOR_WEIGHTS})")
        config = json.loads(config_path.read_text())
        if config.get("format") != FORMAT:
            raise ArtifactError(f"{config_path}: format {config.get('format')!r}, expected {FORMAT!r}")
        generator = AdapterGenerator(config["hidden_size"], config["bottleneck"], config["layers"],
                                     config["language_dim"], config["layer_dim"], config["num_features"],
                                     config["non_linearity"])
        try:
            generator.load_state_dict(load_file(str(directory / GENERATOR_WEIGHTS)), strict=True)
        except Exception as error:  # safetensors/torch raise several types
            raise ArtifactError(f"{directory / GENERATOR_WEIGHTS}: cannot load ({str(error).splitlines()[0]})") \
                from None
        meta = {k: v for k, v in config.items() if k not in (
            "format", "format_version", "hidden_size", "bottleneck", "layers", "language_dim", "layer_dim",
            "num_features", "non_linearity", "parameters")}
        return cls(generator, meta)

    def generate(self, code: str, aliases: Mapping[str, str] | None = None) -> AdapterModule:
        """The generated language adapter of any language with a URIEL vector (seen in training or not)."""
        uriel = resolve_code(code, aliases)
        vector = torch.from_numpy(uriel_vector(uriel))
        adapter = self.generator.generate(vector)
        seen = uriel in set(self.meta.get("languages", {}).values())
        meta = {"method": "madg", "kind": "language", "lang": code, "uriel": uriel, "seen_by_generator": seen,
                "base_model": self.meta.get("base_model"), "base_hash": self.meta.get("base_hash")}
        return AdapterModule(adapter, None, meta)


class GeneratorLanguage:
    """Per-batch activation of one language on the generator (the language-module interface)."""

    def __init__(self, adapter: GeneratorAdapter, typology: torch.Tensor):
        self.adapter, self.typology = adapter, typology

    def attach(self, model: Any, with_head: bool = False) -> GeneratorLanguage:
        self.adapter.set_language(self.typology)
        return self

    def remove(self) -> None:
        self.adapter.set_language(None)


def build_generator(cfg: MadgConfig, model: TaskModel, seed: int) -> AdapterGenerator:
    sites = find_sites(model.backbone)
    num_layers = len(sites.layer_norms)
    dropped = {i % num_layers for i in cfg.leave_out}
    layers = [i for i in range(num_layers) if i not in dropped]
    bottleneck = max(1, int(sites.hidden_size // cfg.reduction_factor))
    return AdapterGenerator(sites.hidden_size, bottleneck, layers, cfg.language_dim, cfg.layer_dim,
                            non_linearity=cfg.non_linearity, init_std=cfg.init_std, seed=seed)
