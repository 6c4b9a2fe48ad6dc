"""lm-evaluation-harness benchmarks for instruction-tuned LLMs (thesis §7.4.1, Appendix E.1).

The thesis follows Wang et al. (2023): MMLU 5-shot, GSM 8-shot chain-of-thought, BBH 3-shot
chain-of-thought, TyDiQA GoldP 1-shot and HumanEval. With ``lm-eval`` installed (the optional
extra ``pip install xlt[eval]``) :func:`run_harness` evaluates an in-memory model (the base with
its modules merged or attached) on harness tasks; task names drift between harness releases
(check ``lm_eval --tasks list``). The prompts and subsets differ from open-instruct's evaluation
scripts, so the numbers will not match Table 7.2 exactly.

``include_path`` adds a folder of local task YAMLs (the harness's ``TaskManager(include_path=...)``);
``SAMPLE_TASKS`` is one bundled with xlt, ``xlt_mmlu_sample`` over the MMLU-format sample, which
runs offline (tests/test_harness.py evaluates it with the tiny Llama).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_TASKS = Path(__file__).resolve().parent / "harness_tasks"  # task YAMLs over the bundled samples


@dataclass
class HarnessTask:
    name: str  # e.g. mmlu, gsm8k_cot, bbh_cot_fewshot, tydiqa_goldp, humaneval
    num_fewshot: int | None = None
    limit: int | float | None = None  # examples per task (e.g. BBH 40, GSM 200 in the thesis)


def harness_available() -> bool:
    return importlib.util.find_spec("lm_eval") is not None


def run_harness(model: Any, tokenizer: Any, tasks: list[HarnessTask], batch_size: int = 1,
                confirm_run_unsafe_code: bool = False, include_path: str | None = None) -> dict[str, float]:
    """``{"<task>/<metric>": value}`` for every numeric metric the harness reports; ``include_path``:
    a folder of local task YAMLs searched besides the harness's own tasks."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    task_manager = None
    if include_path is not None:
        from lm_eval.tasks import TaskManager

        task_manager = TaskManager(include_path=str(include_path))
    metrics: dict[str, float] = {}
    for task in tasks:
        kwargs: dict[str, Any] = {"tasks": [task.name], "num_fewshot": task.num_fewshot, "limit": task.limit}
        if confirm_run_unsafe_code:
            kwargs["confirm_run_unsafe_code"] = True
        if task_manager is not None:
            kwargs["task_manager"] = task_manager
        output = lm_eval.simple_evaluate(model=lm, **kwargs)
        for name, values in (output or {}).get("results", {}).items():
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and "stderr" not in key:
                    metrics[f"{name}/{key.replace(',', '_')}"] = float(value)
    return metrics
