"""``mt/<lang>/<split>``: a task dataset machine-translated (thesis §6.3.1 step 2, §6.4.2-6.4.3).

Translate-train: the source's training or validation split translated into target language ``lang``;
translate-test: ``lang``'s test set translated into the source language. Each text field of the task
(``task.text_fields``: premise and hypothesis separately, the SA text) is translated on its own, with
the NMT model of :func:`xlt.pipeline.stages.nmt.translation_model` (NLLB, or NLLB adapted to the
language), the backend ``nmt.backend`` and the decoding settings ``nmt.generation`` (forced BOS of the
target code). Every other column (labels, ids) is kept as it was, row for row, in the input order.

The artifact (``<split>.jsonl``) is keyed by the NMT model, the data, the languages, the fields and the
settings that decide the translations (decoding settings, the backend and its quantization), and nothing
else: every configuration and sweep job that needs MultiNLI in Aymara shares one, and one job per target
language is the natural way to spread the work. The translation is written in chunks into the stage's
work dir (xlt.translation.translate_records), so a killed or preempted job resumes where it stopped.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from xlt.config import as_dict
from xlt.data.locations import DataLocation
from xlt.errors import ConfigError
from xlt.pipeline.base_model import BaseModel
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import ProducedData, location_spec, read_rows
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data
from xlt.tasks import build_task
from xlt.translation import CTranslate2Translator, TransformersTranslator, Translator, translate_records, write_jsonl

TRANSLATION_STAGE_VERSION = 1


def text_fields(exp: Experiment) -> list[str]:
    """The task's text fields, each translated on its own."""
    fields = exp.task_cfg.get("text_fields")
    if not fields or not all(isinstance(f, str) for f in fields):
        raise ConfigError(f"task.text_fields={fields!r}: translating task data needs the task's text fields")
    return list(fields)


def translation_stage(exp: Experiment, lang: str, split: str, locations: list[DataLocation | ProducedData],
                      src_lang: str, tgt_lang: str, model: BaseModel, where: str) -> Stage:
    """``locations`` (one split of a task dataset, files or the output of a stage such as the trimmed source;
    ``where``: their config key) translated from ``src_lang`` into ``tgt_lang`` (xlt codes) with ``model``; the
    stage's label is ``mt/<lang>/<split>``."""
    cfg = exp.nmt
    table = cfg.table()
    for code in (src_lang, tgt_lang):
        if code not in table:
            raise ConfigError(f"nmt.languages: no FLORES code for {code!r} (known: {', '.join(sorted(table))})")
    for location in locations:
        if isinstance(location, DataLocation):
            check_exists(location, where)
    backend: dict[str, Any] = {"backend": cfg.backend}
    if cfg.backend == "ctranslate2":  # what changes its outputs (threads and device do not)
        backend.update(compute_type=cfg.ctranslate2.compute_type, quantization=cfg.ctranslate2.quantization)
    spec = {**model.spec, **backend, "generation": cfg.generation.key(), "src": table[src_lang].flores,
            "tgt": table[tgt_lang].flores, "fields": text_fields(exp), "data": [location_spec(x) for x in locations]}
    produced = {f"data/{i}": x.stage for i, x in enumerate(locations) if isinstance(x, ProducedData)}
    inputs = {**model.inputs(), **produced}
    return Stage("translation", f"mt/{lang}/{split}", spec,
                 partial(_build_translation, exp, split, locations, spec["src"], spec["tgt"], model, where),
                 inputs, version=TRANSLATION_STAGE_VERSION,
                 validate=partial(_check_translation, exp, locations, where))


def translated(stage: Stage) -> ProducedData:
    """The translated split a translation stage writes."""
    return ProducedData(stage, f"{stage.label.rsplit('/', 1)[-1]}.jsonl")


def _check_translation(exp: Experiment, locations: list[DataLocation | ProducedData], where: str) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    for i, location in enumerate(locations):
        if isinstance(location, ProducedData):  # written by a stage of ours (which checks its input)
            continue
        check_data(location, f"{where}[{i}]" if len(locations) > 1 else where, family.preprocess,
                   family.text_file_format())


def make_translator(exp: Experiment, path: str) -> Translator:
    """The configured backend over the NMT model at ``path`` (``nmt.backend``, ``nmt.generation``)."""
    cfg = exp.nmt
    revision = cfg.revision if path == cfg.name_or_path else None
    if cfg.backend == "ctranslate2":
        ct2 = cfg.ctranslate2
        return CTranslate2Translator(path, exp.paths.cache, cfg.generation, revision=revision,
                                     compute_type=ct2.compute_type, device=ct2.device, quantization=ct2.quantization,
                                     intra_threads=ct2.intra_threads, inter_threads=ct2.inter_threads)
    return TransformersTranslator.load(path, cfg.generation, revision=revision, dtype=cfg.dtype, device=cfg.device)


def _build_translation(exp: Experiment, split: str, locations: list[DataLocation | ProducedData], src_code: str,
                       tgt_code: str, model: BaseModel, where: str, ctx: StageContext) -> dict[str, Any]:
    fields = text_fields(exp)
    family = build_task(exp.task_cfg, None)
    resolved = [x.location(ctx, f"data/{i}") if isinstance(x, ProducedData) else x for i, x in enumerate(locations)]
    records = read_rows(resolved, where, family.text_file_format())
    translator = make_translator(exp, model.path(ctx))
    chunk_size = exp.nmt.chunk_size
    rows, stats = translate_records(records, fields, translator, src_code, tgt_code,
                                    ctx.work_dir / f"chunks-{chunk_size}", chunk_size, where=where,
                                    identity={"stage": ctx.stage.key})
    write_jsonl(rows, ctx.out_dir / f"{split}.jsonl")
    return {**stats.as_dict(), "src": src_code, "tgt": tgt_code, "fields": fields, "backend": translator.backend,
            "generation": as_dict(exp.nmt.generation)}
