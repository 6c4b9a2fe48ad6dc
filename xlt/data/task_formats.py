"""Readers for the task datasets' real file formats (Table 4.1, §4.4.3-4.4.4, Table 6.1).

- ``conllu``: Universal Dependencies CoNLL-U (UD 2.7 treebanks). One row per sentence holding the
  syntactic words only (integer IDs): multiword-token range lines (``1-2``) and empty nodes
  (``8.1``) are skipped, so the word count and the heads are those of the basic tree. Fields follow
  the hub's ``universal_dependencies`` rows (``idx, text, tokens, lemmas, upos, xpos, feats, head,
  deprel, deps, misc``) so the same preprocessing reads either; ``head`` holds integers.
- ``conll``: CoNLL-2003 / MasakhaNER column files (``token ... TAG`` per line, ``-DOCSTART-``
  lines, a blank line between sentences): rows ``{id, tokens, ner_tags}``.
- ``squad``: SQuAD-format JSON (SQuAD v1.1, XQuAD, MLQA): one row per question,
  ``{id, title, context, question, answers: {text: [...], answer_start: [...]}}``.

Malformed input raises :class:`DataError` naming ``file:line`` (JSON: ``file:data[i].paragraphs[j]...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conllu.exceptions import ParseException
from conllu.parser import parse_id_value, parse_int_value

from xlt.data.readers import Row, _open, reader
from xlt.errors import DataError

CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
TAG_PATTERN = re.compile(r"O|[BIES]-\S+")


# ---------------------------------------------------------------------------- CoNLL-U
def _conllu_sentence(path: Path, lines: list[tuple[int, str]], comments: dict[str, str]) -> Row:
    words: list[list[str]] = []
    heads: list[int] = []
    word_lines: list[int] = []
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, found {len(fields)}")
        try:
            token_id = parse_id_value(fields[0])
        except ParseException as error:
            raise DataError(f"{path}:{number}: {error}") from None
        if isinstance(token_id, tuple):  # multiword-token range (1-2) or empty node (8.1): not a tree word
            if token_id[1] == "-" and token_id[0] != len(words) + 1:
                raise DataError(f"{path}:{number}: multiword token {fields[0]} does not start at word {len(words) + 1}")
            continue
        if token_id != len(words) + 1:
            raise DataError(f"{path}:{number}: word ID {fields[0]} out of sequence (expected {len(words) + 1})")
        try:
            head = parse_int_value(fields[6])
        except ParseException:
            head = -1
        if head is None or head < 0:
            raise DataError(f"{path}:{number}: HEAD must be a non-negative integer, found {fields[6]!r}")
        words.append(fields)
        heads.append(head)
        word_lines.append(number)
    for head, number in zip(heads, word_lines):
        if head > len(words):
            raise DataError(f"{path}:{number}: HEAD {head} points beyond the sentence's {len(words)} words")
    if not words:
        raise DataError(f"{path}:{lines[0][0]}: sentence has no words")
    tokens = [w[1] for w in words]
    return {
        "idx": comments.get("sent_id", f"{path.name}:{lines[0][0]}"),
        "text": comments.get("text", " ".join(tokens)),
        "tokens": tokens, "lemmas": [w[2] for w in words], "upos": [w[3] for w in words],
        "xpos": [w[4] for w in words], "feats": [w[5] for w in words], "head": heads,
        "deprel": [w[7] for w in words], "deps": [w[8] for w in words], "misc": [w[9] for w in words],
    }


@reader("conllu")
def read_conllu(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    lines: list[tuple[int, str]] = []
    comments: dict[str, str] = {}
    with _open(path) as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if lines:
                    yield _conllu_sentence(path, lines, comments)
                lines, comments = [], {}
            elif line.startswith("#"):
                if lines:
                    raise DataError(f"{path}:{number}: comment line inside a sentence")
                key, _, value = line[1:].partition("=")
                if value:
                    comments[key.strip()] = value.strip()
            else:
                lines.append((number, line))
    if lines:
        yield _conllu_sentence(path, lines, comments)


# ---------------------------------------------------------------------------- CoNLL NER columns
@reader("conll")
def read_conll(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    """Options: ``token_column`` (default 0), ``tag_column`` (default -1, the last), ``separator``
    (default: any whitespace)."""
    token_column = int(options.get("token_column", 0))
    tag_column = int(options.get("tag_column", -1))
    separator = options.get("separator")
    tokens: list[str] = []
    tags: list[str] = []
    count = 0
    with _open(path) as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if line.startswith("-DOCSTART-"):
                continue
            if not line:
                if tokens:
                    yield {"id": str(count), "tokens": tokens, "ner_tags": tags}
                    count += 1
                tokens, tags = [], []
                continue
            fields = line.split(separator)
            if len(fields) < 2:
                raise DataError(f"{path}:{number}: expected a token and a tag, found {len(fields)} column")
            try:
                token, tag = fields[token_column], fields[tag_column]
            except IndexError:
                raise DataError(f"{path}:{number}: no column {token_column}/{tag_column} "
                                f"({len(fields)} columns)") from None
            if not TAG_PATTERN.fullmatch(tag):
                raise DataError(f"{path}:{number}: invalid NER tag {tag!r} (expected O, B-X or I-X)")
            tokens.append(token)
            tags.append(tag)
    if tokens:
        yield {"id": str(count), "tokens": tokens, "ner_tags": tags}


# ---------------------------------------------------------------------------- SQuAD JSON
@reader("squad")
def read_squad(path: Path, options: dict[str, Any]) -> Iterator[Row]:
    """Option ``check_answers`` (default true): every answer must be the context's text at
    ``answer_start`` (the token positions used for training come from it)."""
    check = bool(options.get("check_answers", True))
    with _open(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{error.lineno}: invalid JSON ({error.msg})") from None
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
                yield {"id": str(qa["id"]), "title": article.get("title", ""), "context": context,
                       "question": qa["question"], "answers": {"text": texts, "answer_start": starts}}
