"""lm-evaluation-harness benchmarks for instruction-tuned LLMs (thesis §7.4.1, Appendix E.1).

The thesis follows Wang et al. (2023): MMLU 5-shot, GSM 8-shot chain-of-thought, BBH 3-shot
chain-of-thought, TyDiQA GoldP 1-shot and HumanEval. With ``lm-eval`` installed (the optional
extra ``pip install xlt[eval]``) :func:`run_harness` evaluates an in-memory model (the base with
its modules merged or attached) on harness tasks; task names drift between harness releases
(check ``lm_eval --tasks list``). The prompts and subsets differ from open-instruct's evaluation
scripts, so the numbers will not match Table 7.2 exactly.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass
class HarnessTask:
    name: str  # e.g. mmlu, gsm8k_cot, bbh_cot_fewshot, tydiqa_goldp, humaneval
    num_fewshot: int | None = None
    limit: int | float | None = None  # examples per task (e.g. BBH 40, GSM 200 in the thesis)


def harness_available() -> bool:
    return importlib.util.find_spec("lm_eval") is not None


def run_harness(model: Any, tokenizer: Any, tasks: list[HarnessTask], batch_size: int = 1,
                confirm_run_unsafe_code: bool = False) -> dict[str, float]:
    """``{"<task>/<metric>": value}`` for every numeric metric the harness reports."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    metrics: dict[str, float] = {}
    for task in tasks:
        kwargs: dict[str, Any] = {"tasks": [task.name], "num_fewshot": task.num_fewshot, "limit": task.limit}
        if confirm_run_unsafe_code:
            kwargs["confirm_run_unsafe_code"] = True
        output = lm_eval.simple_evaluate(model=lm, **kwargs)
        for name, values in (output or {}).get("results", {}).items():
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "stderr" not in key:
                    metrics[f"{name}/{key.replace(',', '_')}"] = float(value)
    return metrics
