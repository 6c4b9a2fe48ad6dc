"""``efficiency``: inference efficiency of a pipeline's model against the undistilled one (thesis §5.5,
Tables 5.2 and 5.7).

The measured model is the pipeline's base model (a BiStil student, DistilmBERT, or the MMT itself) with its
task module applied, head included; the reference is "LtSft without distillation": the configured model
(the MMT) with the same task head. Both read the first target's test set with their own tokenizers (a
trimmed vocabulary can segment differently). Reported per model: parameters (#P, head included), layers,
hidden size and vocabulary (#V), FLOPs per example (``torch.utils.flop_counter``, batch size 1 over the test
set, so no padding is counted), CPU throughput at batch size 1 with one thread and GPU throughput at the
task's training batch size (when CUDA exists); then the ratios of Table 5.7 (speed-ups, FLOPs and parameter
fractions). Compute does not depend on the values of an SFT, so the reference's task head is a fresh one of
the same family (the measured model wears its trained task module, as inference does); language modules
add no compute and are left out. Timings are of the machine that builds the stage: both models are timed
in the same build, in turn within each round, so the ratios compare like with like.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

import torch

from xlt.config import check_number
from xlt.data.locations import DataLocation, fingerprint, load_location
from xlt.errors import ConfigError
from xlt.models.loading import ModelConfig
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import attach_module, check_data
from xlt.tasks import build_task


@dataclass
class EfficiencyConfig:
    """``recipe.efficiency``: what the efficiency stage measures (None: every example of the test set)."""

    enabled: bool = True
    flops_examples: int | None = None  # test examples whose FLOPs are counted (batch size 1)
    cpu_examples: int | None = None  # test examples timed on the CPU (batch size 1, one thread)
    gpu_examples: int | None = None  # test examples timed on the GPU (the training batch size)
    warmup: int = 2  # untimed batches before timing
    rounds: int = 5  # timed passes of each model, in turn (the median is reported)

    def validate(self, where: str) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"{where}.enabled={self.enabled!r}: expected true or false")
        for name in ("flops_examples", "cpu_examples", "gpu_examples"):
            check_number(getattr(self, name), f"{where}.{name}", minimum=1, integer=True, optional=True)
        check_number(self.warmup, f"{where}.warmup", minimum=0, integer=True)
        check_number(self.rounds, f"{where}.rounds", minimum=1, integer=True)


def efficiency_stage(exp: Experiment, lang: str, measured: BaseModel, task_stage: Stage,
                     cfg: EfficiencyConfig) -> Stage:
    """The efficiency of ``measured`` + ``task_stage``'s module on ``lang``'s test set, relative to the
    configured model with the same head (Table 5.7)."""
    location = exp.data.target_location(lang, "test")
    if location is None:
        raise ConfigError(f"data.target.test: no test location for target {lang!r}")
    check_exists(location, f"data.target.test ({lang})")
    spec = {"measured": measured.spec, "reference": exp.base_model.spec, "task": exp.task_cfg, "lang": lang,
            "test": fingerprint(location), "config": asdict(cfg), "precision": exp.trainer.precision,
            "task_module_method": exp.task_module.method}
    inputs = {**measured.inputs(), "task": task_stage}
    return Stage("efficiency", "efficiency", spec, partial(_build_efficiency, exp, lang, location, measured, cfg),
                 inputs, validate=partial(_check_efficiency, exp, lang, location))


def _check_efficiency(exp: Experiment, lang: str, location: DataLocation) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    check_data(location, f"data.target.test ({lang})", family.preprocess, family.text_file_format())


def _forward(model: Any, batch: Any) -> Any:
    from xlt.distillation.procedure import task_predictions

    return task_predictions(model, batch)


def _prepare(exp: Experiment, path: str, config: ModelConfig, location: DataLocation, lang: str,
             cfg: EfficiencyConfig, task_dir: Any = None) -> tuple[Any, Any, list[Any], list[Any], int]:
    """(model, its FLOPs/dimensions without timings, CPU batches of one, GPU batches, test examples)."""
    from xlt.models.efficiency import measure_efficiency

    where = f"data.target.test ({lang})"
    family = build_task(exp.task_cfg, exp.tokenizer_of(path))
    examples = family.preprocess(load_location(location, where, family.text_file_format()), where)
    torch.manual_seed(exp.seed)
    model = family.build_model(path, config)
    if task_dir is not None:
        attach_module(exp, exp.task_module.method, task_dir, model, True, path)  # theta + phi_task (+ head)
    collate = family.collator()
    single = [collate([example]) for example in examples]
    batch_size = family.schedule.batch_size
    gpu_examples = examples[:cfg.gpu_examples]
    gpu = [collate(gpu_examples[i:i + batch_size]) for i in range(0, len(gpu_examples), batch_size)]
    measurement = measure_efficiency(model, single[:cfg.flops_examples], body=model.backbone, forward=_forward)
    return model, measurement, single[:cfg.cpu_examples], gpu, len(examples)


def _build_efficiency(exp: Experiment, lang: str, location: DataLocation, measured: BaseModel, cfg: EfficiencyConfig,
                      ctx: StageContext) -> dict[str, Any]:
    """Both models are built first, then timed in turn within each round (xlt.models.efficiency.
    interleaved_throughputs), so that the machine's load falls on both alike."""
    from xlt.models.efficiency import interleaved_throughputs, relative_efficiency

    path = measured.path(ctx)
    prepared = [_prepare(exp, path, measured.config, location, lang, cfg, ctx.inputs["task"])]
    same = not measured.produced and path == exp.model_path
    if not same:
        prepared.append(_prepare(exp, exp.model_path, exp.model, location, lang, cfg))
    models = [model for model, *_ in prepared]
    cpu = interleaved_throughputs([(model, single) for model, _, single, _, _ in prepared], "cpu", cfg.warmup,
                                  cfg.rounds, threads=1, forward=_forward)
    gpu: list[float | None] = [None] * len(prepared)
    if torch.cuda.is_available():
        for model in models:
            model.to("cuda")
        gpu = interleaved_throughputs([(model, batches) for model, _, _, batches, _ in prepared], "cuda",
                                      cfg.warmup, cfg.rounds, forward=_forward)
    results = [replace(measurement, cpu_examples_per_second=cpu_speed, gpu_examples_per_second=gpu_speed)
               for (_, measurement, *_), cpu_speed, gpu_speed in zip(prepared, cpu, gpu)]
    result, reference = results[0], results[-1]
    return {"target": lang, "test_examples": prepared[0][4], "measured": result.to_dict(),
            "reference": reference.to_dict(), "reference_model": exp.model.name_or_path or exp.model_path,
            "relative": relative_efficiency(result, reference), "device": _device()}


def _device() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
