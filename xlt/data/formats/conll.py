"""Readers for the treebank and NER column formats of the task datasets (Table 4.1, §4.4.3-4.4.4).

- ``conllu``: Universal Dependencies CoNLL-U (UD 2.7 treebanks). One row per sentence holding the
  syntactic words only (integer IDs): multiword-token range lines (``1-2``) and empty nodes
  (``8.1``) are skipped, so the word count and the heads are those of the basic tree. Fields follow
  the hub's ``universal_dependencies`` rows (``idx, text, tokens, lemmas, upos, xpos, feats, head,
  deprel, deps, misc``) so the same preprocessing reads either; ``head`` holds integers. Every
  sentence ends with a blank line, the last one too (a file cut short is refused); empty fields are
  malformed (the format writes ``_``).
- ``conll``: CoNLL-2003 / MasakhaNER column files (``token ... TAG`` per line, ``-DOCSTART-``
  lines, a blank line between sentences; the last blank line may be missing): rows
  ``{id, tokens, ner_tags}``; empty-token lines (MasakhaNER 2.0) are skipped with a warning.

Malformed input raises :class:`DataError` naming ``file:line``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conllu.exceptions import ParseException
from conllu.parser import parse_id_value, parse_int_value

from xlt.data.readers import Located, Row, _lines, _open, reader
from xlt.errors import DataError

CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
TAG_PATTERN = re.compile(r"O|[BIES]-\S+")
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- CoNLL-U
def _conllu_sentence(path: Path, lines: list[tuple[int, str]], comments: dict[str, str]) -> Row:
    words: list[list[str]] = []
    heads: list[int] = []
    word_lines: list[int] = []
    for number, line in lines:
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(f"{path}:{number}: expected 10 tab-separated CoNLL-U columns, found {len(fields)}")
        for column, value in zip(CONLLU_COLUMNS, fields):
            if not value.strip():  # the format writes an unknown value as "_"; an empty field is malformed
                raise DataError(f"{path}:{number}: empty {column.upper()} field (CoNLL-U writes a missing "
                                "value as _)")
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
def read_conllu(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    """Sentences of a CoNLL-U file. Every sentence, the last included, ends with a blank line (UD's
    format definition): a file whose last sentence is not closed is taken as cut short (a cut in the
    last column or at a line break leaves well-formed lines) and raises DataError, as do comment lines
    at the end of the file with no sentence after them."""
    lines: list[tuple[int, str]] = []
    comments: dict[str, str] = {}
    comment_line = 0  # the first comment line of the block being read (0: none)
    number = 0
    with _open(path) as handle:
        for number, line in _lines(handle):
            if not line.strip():
                if lines:
                    yield str(comment_line or lines[0][0]), _conllu_sentence(path, lines, comments)
                lines, comments, comment_line = [], {}, 0
            elif line.startswith("#"):
                if lines:
                    raise DataError(f"{path}:{number}: comment line inside a sentence")
                comment_line = comment_line or number
                key, _, value = line[1:].partition("=")
                if value:
                    comments[key.strip()] = value.strip()
            else:
                lines.append((number, line))
    if lines:
        raise DataError(f"{path}:{number}: the last sentence (from line {lines[0][0]}) is not closed by a blank "
                        "line: the file looks cut short (CoNLL-U ends every sentence with a blank line)")
    if comment_line:
        raise DataError(f"{path}:{comment_line}: comment lines at the end of the file with no sentence after "
                        "them: the file looks cut short")


# ---------------------------------------------------------------------------- CoNLL token columns
@reader("conll")
def read_conll(path: Path, options: dict[str, Any]) -> Iterator[Located]:
    """Sentences of a CoNLL-2003 / MasakhaNER column file: rows ``{id, tokens, <tags_field>}``.

    Options: ``token_column`` (default 0), ``tag_column`` (default -1, the last), ``separator``
    (default: any whitespace), ``tags_field`` (the row's tag column, default ``ner_tags``; POS:
    ``upos``), ``check_tags`` (default true: every tag is ``O`` or ``B-/I-/E-/S-X``).

    Published files differ from the format in two ways that are read, not refused: the last sentence
    often has no blank line after it (the end of the file closes it; a line cut short mid-way still
    fails, as a missing or invalid tag), and MasakhaNER 2.0 has lines whose token is empty or
    whitespace (``" O"``, ``"\tO"``): such tokens are skipped with one warning per file naming the
    lines. A line with a token but no tag is malformed and raises DataError.
    """
    token_column = int(options.get("token_column", 0))
    tag_column = int(options.get("tag_column", -1))
    separator = options.get("separator")
    tags_field = str(options.get("tags_field", "ner_tags"))
    check_tags = bool(options.get("check_tags", True))
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    count = 0
    empty_tokens: list[int] = []
    width: int | None = None  # columns of the file's first token line (whitespace-separated files)
    with _open(path) as handle:
        for number, line in _lines(handle):
            stripped = line.strip()
            if stripped.startswith("-DOCSTART-"):
                continue
            if not stripped:
                if tokens:
                    yield str(start), {"id": str(count), "tokens": tokens, tags_field: tags}
                    count += 1
                tokens, tags = [], []
                continue
            if separator is not None:
                fields = line.split(separator)
            else:
                fields = stripped.split()
                # whitespace-separated: a line that starts with whitespace and is one column short of
                # the file's lines (" O" in a token-tag file) has an empty first (token) field
                if line[:1].isspace() and len(fields) == (width or 2) - 1:
                    fields = ["", *fields]
                elif width is None and not line[:1].isspace():
                    width = len(fields)
            if len(fields) < 2:
                raise DataError(f"{path}:{number}: expected a token and a tag, found {len(fields)} column")
            try:
                token, tag = fields[token_column], fields[tag_column].strip()
            except IndexError:
                raise DataError(f"{path}:{number}: no column {token_column}/{tag_column} "
                                f"({len(fields)} columns)") from None
            if not tag:
                raise DataError(f"{path}:{number}: empty tag column")
            if check_tags and not TAG_PATTERN.fullmatch(tag):
                raise DataError(f"{path}:{number}: invalid NER tag {tag!r} (expected O, B-X or I-X)")
            if not token.strip():
                empty_tokens.append(number)
                continue
            if not tokens:
                start = number
            tokens.append(token)
            tags.append(tag)
    if tokens:
        yield str(start), {"id": str(count), "tokens": tokens, tags_field: tags}
    if empty_tokens:
        log.warning("%s: skipped %d empty or whitespace token(s) at line(s) %s", path, len(empty_tokens),
                    _line_list(empty_tokens))


def _line_list(numbers: list[int], shown: int = 10) -> str:
    listed = ", ".join(map(str, numbers[:shown]))
    return listed + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


# ---------------------------------------------------------------------------- SQuAD JSON
