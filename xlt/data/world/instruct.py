"""The world's instruction data (issue 15, chapter 7): GPT4-Alpaca-format training records and MMLU-format
multiple-choice sets, derived from a written world's task files, so that chapter 7's comparison (SpIEL-AG vs
LoRA, Table 7.2) can be measured on the world's causal LM (:mod:`xlt.pipeline.stages.lm_pretraining`).

The thesis instruction-tunes Llama 2 on English instruction data (Flan v2, GPT4-Alpaca, Tulu v2; §7.4.1) and
scores it on MMLU's multiple-choice questions (§7.4.4). The world's English is ``qma`` (the primary source, the
pivot), so its instruction data are made from ``qma``'s task files, the labels the world's gold labels (no model
involved):

- **tasks**: sentiment analysis (``sa/qma/*.csv``: positive, negative, neutral) and NLI (``nli/qma/*.tsv``:
  entailment, neutral, contradiction), the two sentence-level classification tasks of the world (chapter 6's
  tasks), each asked as an English instruction about ``qma`` text (as Flan v2 asks its tasks in English);
- **training** (``train.json``: a JSON list of ``instruction``/``input``/``output`` records, GPT4-Alpaca's
  format): every example of the two tasks' ``train`` splits, interleaved (SA, NLI, SA, ...). The output is
  ``"The answer is: <label>"``: the answer in the words the reference evaluator's chat format puts before the
  answer (open-instruct's ``--use_chat_format``, ``answer_prefix``), so that the multiple-choice score measures
  the task rather than a mismatch of answer formats, which a 4-layer LM trained on 6,000 records cannot be
  expected to bridge as Llama 2 does;
- **multiple choice** (``mc/dev.jsonl``, ``mc/test.jsonl``: MMLU's ``question``/``subject``/``choices``/
  ``answer`` rows, what the built-in evaluator and ``cais/mmlu`` give): every example of the tasks' ``dev`` and
  ``test`` splits, the question the training records' user turn (instruction, blank line, input), the choices
  the task's labels in a fixed order, the answer the gold label's index; subjects ``sentiment`` and
  ``natural_language_inference`` (MMLU's subjects are ``_``-joined words too). ``dev`` is MMLU's dev split's
  counterpart (few-shot exemplars; disjoint from ``test``).

``write_instruction_data(world_dir, out_dir)`` writes them atomically (a hidden sibling renamed into place), the
same bytes for the same world; ``instruct.json`` records the world's fingerprint, the counts and every file's
sha256. Nothing here is part of :func:`xlt.data.world.write_world`'s output, whose ``world.json`` keys the
pretrained artifacts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from xlt.data.world.world import LAYOUT, load_description, world_fingerprint
from xlt.errors import DataError

FORMAT = "xlt-world-instruct/1"
ANSWER_PREFIX = "The answer is:"  # conf/task/instruct.yaml's multiple_choice.answer_prefix (the reference's)
TASKS: dict[str, dict[str, Any]] = {
    "sa": {"subject": "sentiment", "choices": ["negative", "neutral", "positive"],
           "instruction": "What is the sentiment of this sentence: negative, neutral or positive?"},
    "nli": {"subject": "natural_language_inference", "choices": ["entailment", "neutral", "contradiction"],
            "instruction": "Does the first sentence entail the second, contradict it, or neither (neutral)?"},
}
SPLITS = {"dev": "dev", "test": "test"}  # MC file -> the world's task split


def _rows(world_dir: Path, task: str, lang: str, split: str) -> list[dict[str, str]]:
    """(input, label) records of a world task split, read by the real readers."""
    from xlt.data.locations import DataLocation, load_location

    path = world_dir / LAYOUT[task].format(lang=lang, split=split)
    if not path.is_file():
        raise DataError(f"{path}: missing (the world's {task} {split} split of {lang})")
    dataset = load_location(DataLocation(path=str(path)), f"world {task} ({lang}, {split})")
    choices = TASKS[task]["choices"]
    rows = []
    for number, row in enumerate(dataset):
        text = row["text"] if task == "sa" else f"{row['premise']}\n{row['hypothesis']}"
        if row["label"] not in choices:
            raise DataError(f"{path}:{number + 2}: label {row['label']!r} not one of {choices}")
        rows.append({"input": text, "label": row["label"]})
    return rows


def instruction_records(world_dir: str | Path) -> list[dict[str, str]]:
    """The Alpaca training records (module docstring), SA and NLI interleaved."""
    world_dir = Path(world_dir)
    pivot = load_description(world_dir)["pivot"]
    per_task = {task: [{"instruction": spec["instruction"], "input": row["input"],
                        "output": f"{ANSWER_PREFIX} {row['label']}"}
                       for row in _rows(world_dir, task, pivot, "train")] for task, spec in TASKS.items()}
    records = []
    for index in range(max(len(rows) for rows in per_task.values())):
        records += [rows[index] for rows in per_task.values() if index < len(rows)]
    return records


def multiple_choice_rows(world_dir: str | Path, split: str) -> list[dict[str, Any]]:
    """MMLU-format rows of the tasks' ``split`` (module docstring), SA then NLI."""
    world_dir = Path(world_dir)
    pivot = load_description(world_dir)["pivot"]
    rows = []
    for task, spec in TASKS.items():
        for row in _rows(world_dir, task, pivot, split):
            rows.append({"question": f"{spec['instruction']}\n\n{row['input']}", "subject": spec["subject"],
                         "choices": list(spec["choices"]), "answer": spec["choices"].index(row["label"])})
    return rows


def write_instruction_data(world_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the instruction data of the world in ``world_dir`` to ``out_dir`` (replaced if there)."""

    world_dir, out_dir = Path(world_dir), Path(out_dir)
    fingerprint = world_fingerprint(world_dir)
    temporary = out_dir.parent / f".{out_dir.name}.{os.getpid()}"
    if temporary.exists():
        shutil.rmtree(temporary)
    (temporary / "mc").mkdir(parents=True)
    files = {"train.json": json.dumps(instruction_records(world_dir), ensure_ascii=False, indent=1) + "\n"}
    for name, split in SPLITS.items():
        files[f"mc/{name}.jsonl"] = "".join(json.dumps(row, ensure_ascii=False) + "\n"
                                            for row in multiple_choice_rows(world_dir, split))
    hashes = {}
    for name, text in files.items():
        data = text.encode("utf-8")
        (temporary / name).write_bytes(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    manifest = {"format": FORMAT, "world": fingerprint, "tasks": TASKS, "answer_prefix": ANSWER_PREFIX,
                "files": hashes}
    (temporary / "instruct.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(temporary, out_dir)
    return out_dir


def instruction_data_current(world_dir: str | Path, out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds this module's instruction data of the world in ``world_dir``."""

    path = Path(out_dir) / "instruct.json"
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest.get("format") == FORMAT and manifest.get("world") == world_fingerprint(Path(world_dir)) \
        and manifest.get("tasks") == TASKS
