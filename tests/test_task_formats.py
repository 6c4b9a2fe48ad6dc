"""Readers of the task datasets' real formats (CoNLL-U, CoNLL NER columns, SQuAD JSON) and the
location features they rely on (globs, hub ClassLabel decoding)."""

from __future__ import annotations

import json

import datasets
import pytest

from xlt.data.locations import DataLocation, decode_class_labels, load_location
from xlt.data.readers import read_file
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
    ]) + "\n")
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
        (tmp_path / f"cs_pdt-ud-train-{part}.conllu").write_text(f"1\t{part}\t_\tX\t_\t_\t0\troot\t_\t_\n")
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
