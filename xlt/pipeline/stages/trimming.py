"""``trim/<lang>``: the source's training data without the test sentences hidden in it (thesis Table 6.1's
note, §6.4.1).

NusaX was made by editing and translating part of SMSA, so SMSA's training split holds NusaX's test
sentences, as they are or lightly modified. This stage removes every training row whose normalised text
equals a sentence of ``data.trim.test`` (NusaX's Indonesian test set) or is at least ``data.trim.threshold``
similar to one (normalised Levenshtein similarity, 0.85 by default; xlt.data.near_duplicates), and writes
the rest as ``train.jsonl``. ``metrics.json`` reports how many rows were removed and why (equal after
normalisation, or similar with their similarity), and how many test sentences matched nothing;
``trim_report.json`` lists every removed row with its test sentence, and each test sentence's nearest
training text (what the reference code's rule, "drop every test sentence's nearest neighbour", would
drop, whether or not it matches).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from xlt.data.locations import DataLocation, fingerprint
from xlt.data.near_duplicates import trim_near_duplicates
from xlt.errors import ConfigError, DataError
from xlt.pipeline.data_config import SourceSpec, check_exists
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.produced import ProducedData, read_rows
from xlt.pipeline.runner import Stage, StageContext
from xlt.pipeline.stages import check_data
from xlt.tasks import build_task
from xlt.translation import write_jsonl

DEFAULT_THRESHOLD = 0.85


def trim_stage(exp: Experiment, source: SourceSpec, split: str = "train") -> Stage:
    """``source``'s ``split`` (train or validation) without the rows matching ``data.trim.test`` (module
    docstring); the artifact is ``<split>.jsonl``."""
    locations = source.train if split == "train" else source.validation
    test = exp.data.trim_location()
    if test is None:
        raise ConfigError("data.trim: not configured")
    trim = exp.data.trim or {}
    threshold = trim.get("threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise ConfigError(f"data.trim.threshold={threshold!r}: must be a number > 0 and <= 1")
    text_field = str(trim.get("text_field", "text"))
    where = f"data.sources.{source.key}.{split}"
    for location in [*locations, test]:
        if not isinstance(location, DataLocation):
            raise ConfigError(f"{where}: only configured files can be trimmed")
        check_exists(location, where if location is not test else "data.trim.test")
    spec = {"lang": source.lang, "split": split, "data": [fingerprint(x) for x in locations],
            "test": fingerprint(test), "threshold": float(threshold), "text_field": text_field}
    return Stage("trimmed_data", f"trim/{source.lang}/{split}", spec,
                 partial(_build_trim, exp, locations, where, test, float(threshold), text_field, split),
                 validate=partial(_check_trim, exp, locations, where, test))


def trimmed(stage: Stage) -> ProducedData:
    """The split a trim stage writes."""
    return ProducedData(stage, f"{stage.label.rsplit('/', 1)[-1]}.jsonl")


def _check_trim(exp: Experiment, locations: list[DataLocation], where: str, test: DataLocation) -> None:
    family = build_task(exp.task_cfg, exp.tokenizer)
    for i, location in enumerate(locations):
        check_data(location, f"{where}[{i}]", family.preprocess, family.text_file_format())
    check_data(test, "data.trim.test")


def _build_trim(exp: Experiment, locations: list[DataLocation], where: str, test: DataLocation, threshold: float,
                text_field: str, split: str, ctx: StageContext) -> dict[str, Any]:
    text_file = build_task(exp.task_cfg, None).text_file_format()
    rows = read_rows(locations, where, text_file)
    tests = read_rows([test], "data.trim.test")
    for at, found in ((where, rows), ("data.trim.test", tests)):
        if found and text_field not in found[0]:
            raise DataError(f"{at}: no column {text_field!r} to compare (data.trim.text_field; found "
                            f"{sorted(found[0])})")
    kept, report = trim_near_duplicates(rows, [str(row[text_field]) for row in tests], text_field, threshold,
                                        test_ids=[str(row.get("id", i)) for i, row in enumerate(tests)], where=where)
    write_jsonl(kept, ctx.out_dir / f"{split}.jsonl")
    (ctx.out_dir / "trim_report.json").write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    return {"train": report.train, "test": report.test, "kept": len(kept), "removed": report.removed,
            "removed_exact": report.exact, "removed_near": report.near, "threshold": threshold, "q": report.q,
            "unmatched_tests": report.unmatched_tests,
            "nearest_not_removed": sum(1 for n in report.nearest if n.train_index is not None and not n.removed),
            "reference_rule_removes": len({n.train_index for n in report.nearest if n.train_index is not None}),
            "removed_rows": [{"train_row": e.train_index, "test_row": e.test_index, "test_id": e.test_id,
                              "similarity": e.similarity, "why": "equal after normalisation" if e.similarity == 1.0
                              else f"similarity {e.similarity:.3f} >= {threshold}"} for e in report.examples]}
