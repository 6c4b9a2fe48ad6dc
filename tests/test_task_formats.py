"""Readers of the task datasets' real formats (CoNLL-U, CoNLL NER columns, SQuAD JSON) and the
location features they rely on (globs, hub ClassLabel decoding)."""

from __future__ import annotations

import json

import datasets
import pytest

from xlt.data.locations import DataLocation, decode_class_labels, load_location
from xlt.data.readers import TextFileFormat, read_file, read_records
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import DataError

CONLLU = """# newdoc id = doc1
# sent_id = s1
# text = Vamos nos encontrar.
1-2\tVamos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamo\tir\tVERB\t_\t_\t0\troot\t0:root\t_
2\tnos\tnós\tPRON\t_\t_\t1\tobj\t1:obj\t_
3\tencontrar\tencontrar\tVERB\t_\t_\t1\txcomp\t1:xcomp\tSpaceAfter=No
3.1\tencontrar\tencontrar\tVERB\t_\t_\t_\t_\t1:conj\t_
4\t.\t.\tPUNCT\t_\t_\t1\tpunct\t1:punct\t_

# sent_id = s2
1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_

"""


def test_conllu_multiword_token_and_empty_node_give_words_and_heads(tmp_path):
    path = tmp_path / "pt_x-ud-test.conllu"
    path.write_text(CONLLU)
    first, second = list(read_file(path, None))
    # the range line 1-2 and the empty node 3.1 are not words: 4 syntactic words, heads unchanged
    assert first["tokens"] == ["Vamo", "nos", "encontrar", "."]
    assert first["head"] == [0, 1, 1, 1]
    assert first["deprel"] == ["root", "obj", "xcomp", "punct"]
    assert first["upos"] == ["VERB", "PRON", "VERB", "PUNCT"]
    assert first["idx"] == "s1" and first["text"] == "Vamos nos encontrar."
    assert second["tokens"] == ["Sim"] and second["head"] == [0]


@pytest.mark.parametrize("line, message", [
    ("2\tnos\tnós\tPRON\t_\t_\t1\tobj\t_", r":4: expected 10 tab-separated CoNLL-U columns, found 9"),
    ("2\tnos\tnós\tPRON\t_\t_\tx\tobj\t_\t_", r":4: HEAD must be a non-negative integer"),
    ("2\tnos\tnós\tPRON\t_\t_\t7\tobj\t_\t_", r":4: HEAD 7 points beyond the sentence's 4 words"),
    ("5\tnos\tnós\tPRON\t_\t_\t1\tobj\t_\t_", r":4: word ID 5 out of sequence \(expected 2\)"),
    ("2.x\tnos\tnós\tPRON\t_\t_\t1\tobj\t_\t_", r":4: '2.x' is not a valid ID"),
])
def test_conllu_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.conllu"
    path.write_text("\n".join([
        "# sent_id = s1",
        "1-2\tVamos\t_\t_\t_\t_\t_\t_\t_\t_",
        "1\tVamo\tir\tVERB\t_\t_\t0\troot\t_\t_",
        line,  # file line 4
        "3\tencontrar\tencontrar\tVERB\t_\t_\t1\txcomp\t_\t_",
        "4\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_",
    ]) + "\n\n")
    with pytest.raises(DataError, match=rf"bad\.conllu{message}"):
        list(read_file(path, None))


def test_conllu_sample_treebanks_read_with_the_real_layout():
    rows = list(read_file(SAMPLES_DIR / "ud/UD_English-EWT/en_ewt-ud-train.conllu", None))
    assert len(rows) == 120 and all(len(r["tokens"]) == len(r["head"]) == len(r["deprel"]) for r in rows)
    assert all(r["deprel"].count("root") == 1 and r["head"].count(0) == 1 for r in rows)
    # some sample treebanks carry multiword tokens / empty nodes, and still read into trees
    texts = "".join(p.read_text() for p in (SAMPLES_DIR / "ud").rglob("*.conllu"))
    assert "-" in "".join(line.split("\t")[0] for line in texts.splitlines() if "\t" in line)
    assert any(line.split("\t")[0].count(".") for line in texts.splitlines() if "\t" in line)


def test_conll_ner_columns_docstart_and_errors(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP I-PER\n")
    rows = list(read_file(path, "conll"))
    assert rows == [{"id": "0", "tokens": ["EU", "rejects"], "ner_tags": ["I-ORG", "O"]},
                    {"id": "1", "tokens": ["Peter"], "ner_tags": ["I-PER"]}]
    path.write_text("Peter B-PER\nlives\n")
    with pytest.raises(DataError, match=r"train\.txt:2: expected a token and a tag"):
        list(read_file(path, "conll"))
    path.write_text("Peter B-PER\nlives X-LOC\n")
    with pytest.raises(DataError, match=r"train\.txt:2: invalid NER tag 'X-LOC'"):
        list(read_file(path, "conll"))


def test_squad_reader_rows_and_answer_check(tmp_path):
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{
        "context": "The cat sat on the mat.",
        "qas": [{"id": "q1", "question": "Where?", "answers": [{"text": "the mat", "answer_start": 15},
                                                              {"text": "mat", "answer_start": 19}]}]}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data))
    (row,) = read_file(path, "squad")
    assert row["answers"] == {"text": ["the mat", "mat"], "answer_start": [15, 19]} and row["id"] == "q1"
    data["data"][0]["paragraphs"][0]["qas"][0]["answers"][1]["answer_start"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"dev\.json:data\[0\]\.paragraphs\[0\]\.qas\[0\]: answer 'mat' is not"):
        list(read_file(path, "squad"))
    assert len(list(read_file(path, "squad", {"check_answers": False}))) == 1
    path.write_text('{"data": [\n  {"title": }\n]}')
    with pytest.raises(DataError, match=r"dev\.json:2: invalid JSON"):
        list(read_file(path, "squad"))


def test_location_glob_reads_matching_files_in_order(tmp_path):
    for part in ("b", "a"):
        (tmp_path / f"cs_pdt-ud-train-{part}.conllu").write_text(f"1\t{part}\t_\tX\t_\t_\t0\troot\t_\t_\n\n")
    dataset = load_location(DataLocation(path=str(tmp_path / "cs_pdt-ud-train-*.conllu")), "w")
    assert dataset["tokens"] == [["a"], ["b"]]
    with pytest.raises(DataError, match="file not found"):
        load_location(DataLocation(path=str(tmp_path / "nothing-*.conllu")), "w")


def test_hub_class_labels_are_decoded_to_names():
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "ner_tags": datasets.List(datasets.ClassLabel(names=["O", "B-PER", "I-PER"])),
                                  "label": datasets.ClassLabel(names=["positive", "neutral", "negative"])})
    dataset = datasets.Dataset.from_dict({"tokens": [["Ada", "Lovelace"]], "ner_tags": [[1, 2]], "label": [0]},
                                         features=features)
    decoded = decode_class_labels(dataset)
    assert decoded[0]["ner_tags"] == ["B-PER", "I-PER"]
    assert decoded[0]["label"] == "positive"  # SMSA's 0 is positive: matched by name, not by id


# ---------------------------------------------------------------------------- real-file quirks
BOM = "\ufeff"


@pytest.mark.parametrize("fmt, name, content, first", [
    ("tsv", "test.tsv", "language\tpremise\thypothesis\tlabel\naym\ta\tb\tneutral\n", ("language", "aym")),
    ("csv", "test.csv", "id,text,label\n0,a b,positive\n", ("id", "0")),
    ("jsonl", "train.jsonl", '{"text": "a"}\n', ("text", "a")),
    ("json", "train.json", '[{"text": "a"}]', ("text", "a")),
    ("text", "quy.txt", "Kuna rimay .\n", ("text", "Kuna rimay .")),
    ("conll", "test.txt", "Amara B-PER\nsees O\n", ("tokens", ["Amara", "sees"])),
    ("conllu", "x-ud-test.conllu", "# sent_id = 1\n1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n\n", ("tokens", ["Sim"])),
    ("squad", "dev.json", json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "ab", "qas": [
        {"id": "q", "question": "?", "answers": [{"text": "a", "answer_start": 0}]}]}]}]}), ("id", "q")),
])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_every_reader_strips_a_byte_order_mark_and_reads_crlf(tmp_path, fmt, name, content, first, newline):
    path = tmp_path / name
    path.write_bytes((BOM + content).replace("\n", newline).encode("utf-8"))
    rows = list(read_file(path, fmt))
    column, value = first
    assert rows[0][column] == value and not any(BOM in key for key in rows[0])
    assert not any("\r" in str(v) for row in rows for v in row.values())


def test_conll_empty_token_lines_are_skipped_with_one_warning_per_file(tmp_path, caplog):
    path = tmp_path / "test.txt"
    # MasakhaNER 2.0 writes such lines: an empty token before the tag, with a space or a tab
    path.write_text("Amara B-PER\n O\nsees O\n\n\tO\nKofi B-PER\n\u00a0 O\n")
    with caplog.at_level("WARNING"):
        rows = list(read_file(path, "conll"))
    assert rows == [{"id": "0", "tokens": ["Amara", "sees"], "ner_tags": ["B-PER", "O"]},
                    {"id": "1", "tokens": ["Kofi"], "ner_tags": ["B-PER"]}]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{path}: skipped 3 empty or whitespace token(s) at line(s) 2, 5, 7"]
    path.write_text("Amara B-PER\n O\n")  # an explicit separator reads the empty first field as well
    assert list(read_file(path, "conll", {"separator": " "}))[0]["tokens"] == ["Amara"]
    path.write_text("EU NNP B-NP B-ORG\n NNP B-NP O\n  Kano NNP B-NP B-LOC\n")  # one column short: empty
    assert list(read_file(path, "conll"))[0]["tokens"] == ["EU", "Kano"]  # an indented full line keeps its token
    for bad, message in (("Amara B-PER\nlives\n", r"test\.txt:2: expected a token and a tag"),
                         ("Amara B-PER\n lives\n", r"test\.txt:2: invalid NER tag 'lives'"),
                         ("Amara\tB-PER\nlives\t\n", r"test\.txt:2: empty tag column")):
        path.write_text(bad)
        with pytest.raises(DataError, match=message):
            list(read_file(path, "conll", {"separator": "\t"} if "\t" in bad else {}))


def test_conll_without_a_final_blank_line_reads_its_last_sentence(tmp_path):
    """Published CoNLL-2003 / MasakhaNER files often end without the blank line: not truncation."""
    path = tmp_path / "test.txt"
    path.write_text("Amara B-PER\nsees O")
    assert [r["tokens"] for r in read_file(path, "conll")] == [["Amara", "sees"]]
    path.write_text("Amara B-PER\nsees O\nKofi B-")  # a cut inside a line still fails
    with pytest.raises(DataError, match=r"test\.txt:3: invalid NER tag 'B-'"):
        list(read_file(path, "conll"))
    path.write_text("Amara B-PER\nsees O\nKofi ")
    with pytest.raises(DataError, match=r"test\.txt:3: expected a token and a tag"):
        list(read_file(path, "conll"))


@pytest.mark.parametrize("cut", [
    len(CONLLU) - 1,  # the final blank line lost
    len(CONLLU) - 2,  # in the last column of the last word
    CONLLU.index("# sent_id = s2") + len("# sent_id = s2\n"),  # at a line break after a comment
    CONLLU.index("4\t.\t.") + len("4\t.\t.\tPUNCT\t_\t_\t1\tpunct\t1:punct\t_\n"),  # at a line break, mid-sentence
])
def test_conllu_cut_short_is_refused(tmp_path, cut):
    path = tmp_path / "x-ud-test.conllu"
    path.write_text(CONLLU[:cut])
    with pytest.raises(DataError, match=r"x-ud-test\.conllu:\d+: .*(not closed by a blank line|no sentence after)"):
        list(read_file(path, None))


def test_conllu_empty_field_is_malformed_but_underscore_form_is_a_word(tmp_path):
    path = tmp_path / "x-ud-test.conllu"
    path.write_text("1\t_\t_\tPUNCT\t_\t_\t0\troot\t_\t_\n\n")  # "_" is a form (UD writes it so)
    assert list(read_file(path, None))[0]["tokens"] == ["_"]
    path.write_text("1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n2\t\t_\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n")
    with pytest.raises(DataError, match=r"x-ud-test\.conllu:2: empty FORM field"):
        list(read_file(path, None))
    path.write_text("1\tSim\tsim\tINTJ\t_\t_\t0\t\t_\t_\n\n")
    with pytest.raises(DataError, match=r"x-ud-test\.conllu:1: empty DEPREL field"):
        list(read_file(path, None))


def test_txt_format_is_the_task_familys(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text("Amara B-PER\nsees O\n")
    assert list(read_file(path, None)) == [{"text": "Amara B-PER"}, {"text": "sees O"}]  # corpora: plain text
    ner = TextFileFormat("conll", {"tags_field": "ner_tags"})
    assert list(read_file(path, None, text_file=ner)) == [{"id": "0", "tokens": ["Amara", "sees"],
                                                          "ner_tags": ["B-PER", "O"]}]
    path.write_text("Amara PROPN\nsees VERB\n")
    pos = TextFileFormat("conll", {"tags_field": "upos", "check_tags": False})
    assert list(read_file(path, None, text_file=pos))[0]["upos"] == ["PROPN", "VERB"]
    assert list(read_file(path, None, {"tags_field": "pos"}, pos))[0]["pos"] == ["PROPN", "VERB"]  # location wins
    (tmp_path / "test.tsv").write_text("a\tb\n1\t2\n")
    assert list(read_file(tmp_path / "test.tsv", None, text_file=ner)) == [{"a": "1", "b": "2"}]


def test_rows_keep_their_file_and_line(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text("-DOCSTART- O\n\nAmara B-PER\n\n\nKofi B-PER\nsees O\n")
    assert [position for position, _ in read_records(path, "conll")] == ["3", "6"]
    csv_path = tmp_path / "test.csv"
    csv_path.write_text('id,text,label\n0,"two\nlines",positive\n\n1,b,neutral\n')
    assert [position for position, _ in read_records(csv_path, None)] == ["2", "5"]
    conllu = tmp_path / "x.conllu"
    conllu.write_text(CONLLU)
    assert [position for position, _ in read_records(conllu, None)] == ["1", "11"]  # from the first comment


@pytest.mark.parametrize("fmt, content", [
    ("tsv", "a\tb\n1\t2\n3\tG\xfcnther\n"), ("conll", "A O\n\nG\xfcnther B-PER\n"),
    ("text", "a\nb\nG\xfcnther\n"), ("json", '[{"a": 1},\n {"a": 2},\n {"a": "G\xfc"}]'),
])
def test_a_file_that_is_not_utf8_names_its_first_bad_line(tmp_path, fmt, content):
    path = tmp_path / f"latin1.{fmt}"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.\w+:3: not UTF-8 \(byte 0xfc at column \d+\); convert the file"):
        list(read_file(path, fmt))
