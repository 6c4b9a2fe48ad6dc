"""The real datasets' file formats, written from realised sentences (read back by
:mod:`xlt.data.readers` and :mod:`xlt.data.task_formats` exactly as the real files are).

- UD CoNLL-U (``ud/<code>/<split>.conllu``): ``# sent_id`` / ``# text`` comments, ten columns,
  ``SpaceAfter=No`` before the final punctuation, a blank line after every sentence;
- MasakhaNER columns (``ner/<code>/<split>.txt``): ``token TAG`` (IOB2), a blank line after every
  sentence;
- AmericasNLI TSV (``nli/<code>/<split>.tsv``): ``language premise hypothesis label``;
- NusaX-senti CSV (``sa/<code>/<split>.csv``): ``id,text,label`` with label names;
- SQuAD v1.1 JSON (``qa/<code>/<split>.json``);
- plain text, one sentence per line (corpora and the two sides of parallel corpora).

Files are UTF-8 with LF line endings and no byte-order mark (the readers' tolerance of real-file
quirks is tested on the bundled samples).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from xlt.data.world.grammar import Sentence


def conllu(sentences: Iterable[Sentence], doc_id: str) -> str:
    lines = [f"# newdoc id = {doc_id}"]
    for i, sentence in enumerate(sentences):
        lines += [f"# sent_id = {doc_id}-{i + 1:05d}", f"# text = {sentence.text}"]
        tokens = sentence.tokens
        for k, token in enumerate(tokens):
            attached = k + 1 < len(tokens) and sentence.offsets[k + 1] == sentence.offsets[k] + len(token.form)
            misc = "SpaceAfter=No" if attached else "_"
            lines.append("\t".join((str(token.id), token.form, token.lemma, token.upos, "_", token.feats,
                                    str(token.head), token.deprel, "_", misc)))
        lines.append("")
    return "\n".join(lines) + "\n"


def conll_ner(sentences: Iterable[Sentence]) -> str:
    lines = []
    for sentence in sentences:
        lines += [f"{token.form} {token.ner}" for token in sentence.tokens]
        lines.append("")
    return "\n".join(lines) + "\n"


def americasnli_tsv(code: str, rows: Iterable[tuple[str, str, str]]) -> str:
    lines = ["language\tpremise\thypothesis\tlabel"]
    lines += [f"{code}\t{premise}\t{hypothesis}\t{label}" for premise, hypothesis, label in rows]
    return "\n".join(lines) + "\n"


def nusax_csv(rows: Iterable[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "text", "label"])
    for i, (text, label) in enumerate(rows):
        writer.writerow([i, text, label])
    return buffer.getvalue()


def squad_json(articles: Sequence[dict]) -> str:
    return json.dumps({"data": list(articles), "version": "1.1"}, ensure_ascii=False, separators=(",", ":")) + "\n"


def lines(texts: Iterable[str]) -> str:
    return "".join(f"{text}\n" for text in texts)
