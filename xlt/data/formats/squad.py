"""``squad``: SQuAD-format JSON (SQuAD v1.1, XQuAD, MLQA): one row per question,
``{id, title, context, question, answers: {text: [...], answer_start: [...]}}``, answers checked against
the context. Malformed input raises DataError naming ``file:data[i].paragraphs[j]...``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlt.data.readers import Located, load_json, reader
from xlt.errors import DataError


@reader("squad")
def read_squad(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    """Option ``check_answers`` (default true): every answer must be the context's text at
    ``answer_start`` (the token positions used for training come from it). A row's position is its
    JSON path, ``data[i].paragraphs[j].qas[k]``."""
    check = bool(options.get("check_answers", True))
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: expected a SQuAD-format object with a 'data' list")
    for i, article in enumerate(data["data"]):
        where = f"{path}:data[{i}]"
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DataError(f"{where}: no 'paragraphs' list")
        for j, paragraph in enumerate(paragraphs):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not isinstance(paragraph.get("qas"), list):
                raise DataError(f"{where}.paragraphs[{j}]: needs 'context' (string) and 'qas' (list)")
            for k, qa in enumerate(paragraph["qas"]):
                at = f"{where}.paragraphs[{j}].qas[{k}]"
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or "id" not in qa:
                    raise DataError(f"{at}: needs 'id' and 'question'")
                texts, starts = [], []
                for answer in qa.get("answers", []):
                    text, start = answer.get("text"), answer.get("answer_start")
                    if not isinstance(text, str) or not isinstance(start, int):
                        raise DataError(f"{at}: answer needs 'text' (string) and 'answer_start' (integer)")
                    if check and context[start:start + len(text)] != text:
                        raise DataError(f"{at}: answer {text!r} is not in the context at answer_start={start}")
                    texts.append(text)
                    starts.append(start)
                yield f"data[{i}].paragraphs[{j}].qas[{k}]", {
                    "id": str(qa["id"]), "title": article.get("title", ""), "context": context,
                    "question": qa["question"], "answers": {"text": texts, "answer_start": starts}}
