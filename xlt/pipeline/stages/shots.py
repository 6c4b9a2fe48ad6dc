"""``shots/<lang>``: K gold examples of a target language for few-shot transfer (thesis §6.4.3, Figure 6.1).

The shots come from the target's own labelled split(s), ``data.target.shots`` (AmericasNLI: the
language's dev split; NusaX: its train + validation splits, 600 rows), drawn by ``recipe.shots.policy``
(xlt.data.shots.sample_shots): ``random`` (seeded by the run seed and the language; K = 20, 100, 500 are
nested), ``stratified`` (the same per label, in proportion) or ``first`` (the first K rows: the reference
code's choice). Asking for more rows than exist takes them all, with a logged note recorded in the
stage's metrics (``clipped``; the thesis used 223 and 377 shots for NAH and OTO at K = 500). The shots
are checked, not assumed, to share no example with the language's test set (same input fields after
normalisation; a DataError naming both files otherwise). The artifact is ``shots.jsonl``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from xlt.data.locations import DataLocation, fingerprint
from xlt.data.shots import check_disjoint, sample_shots
from xlt.errors import ConfigError
from xlt.pipeline.data_config import check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import ProducedData, read_rows
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data
from xlt.pipeline.stages.translation import text_fields
from xlt.tasks import build_task
from xlt.translation import write_jsonl


def shots_stage(exp: Experiment, lang: str, k: int, policy: str, seed: int) -> Stage:
    """``k`` gold examples of target ``lang`` (module docstring)."""
    locations = exp.data.target_locations(lang, "shots")
    if not locations:
        raise ConfigError(f"data.target.shots: no labelled split of target {lang!r} to draw few-shot examples from")
    test = exp.data.target_location(lang, "test")
    if test is None:
        raise ConfigError(f"data.target.test: no test set for target {lang!r} (shots are checked against it)")
    for location in [*locations, test]:
        check_exists(location, f"data.target ({lang})")
    label_field = str(exp.task_cfg.get("label_field", "label"))
    spec = {"lang": lang, "k": k, "policy": policy, "seed": seed, "shots": [fingerprint(x) for x in locations],
            "test": fingerprint(test), "fields": text_fields(exp), "label_field": label_field}
    return Stage("shots", f"shots/{lang}", spec, partial(_build_shots, exp, lang, k, policy, seed, locations, test),
                 validate=partial(_check_shots, exp, lang, locations))


def shot_data(stage: Stage) -> ProducedData:
    return ProducedData(stage, "shots.jsonl")


def _check_shots(exp: Experiment, lang: str, locations: list[DataLocation]) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    for i, location in enumerate(locations):
        check_data(location, f"data.target.shots ({lang})[{i}]", family.preprocess, family.text_file_format())


def _build_shots(exp: Experiment, lang: str, k: int, policy: str, seed: int, locations: list[DataLocation],
                 test: DataLocation, ctx: StageContext) -> dict[str, Any]:
    family = build_task(exp.task_cfg, None)
    text_file = family.text_file_format()
    rows = read_rows(locations, f"data.target.shots ({lang})", text_file)
    label_field = str(exp.task_cfg.get("label_field", "label"))
    shots = sample_shots(rows, k, policy, seed, lang, label_field, where="recipe.shots")
    check_disjoint(shots.rows, read_rows([test], f"data.target.test ({lang})", text_file), text_fields(exp),
                   f"data.target.shots ({lang})", f"data.target.test ({lang})")
    write_jsonl(shots.rows, ctx.out_dir / "shots.jsonl")
    labels: dict[str, int] = {}
    for row in shots.rows:
        labels[str(row.get(label_field))] = labels.get(str(row.get(label_field)), 0) + 1
    note = (f"{k} shots requested but only {shots.available} labelled rows exist: took all {shots.taken}"
            if shots.clipped else None)
    return {"requested": k, "taken": shots.taken, "available": shots.available, "clipped": shots.clipped,
            "note": note, "policy": policy, "seed": seed, "labels": labels, "indices": shots.indices}
