"""Data errors found by the task families name the row's file and line (also after a location's
filter; hub rows: the location and the row index), and a local file replaces a hub location with
one Hydra override, read in the format the task family needs."""

from __future__ import annotations

import json
import re

import datasets
import pytest

from tests.helpers import compose_config
from xlt.data.locations import DataLocation, load_location
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import DataError
from xlt.models.loading import load_tokenizer
from xlt.pipeline.data_config import parse_data_config
from xlt.tasks import build_task

NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"]}
NER = {"name": "ner", "family": "token_classification", "labels": ["O", "B-PER", "I-PER"],
       "tags_field": "ner_tags", "metric": "span_f1", "scheme": "iob2"}


@pytest.fixture(scope="module")
def tokenizer(tiny_bert_path):
    return load_tokenizer(tiny_bert_path)


def test_unknown_label_after_a_filter_names_the_file_line(tmp_path, tokenizer):
    lines = (SAMPLES_DIR / "americasnli/test.tsv").read_text(encoding="utf-8-sig").splitlines()
    gn = [i for i, line in enumerate(lines) if line.startswith("gn\t")]
    bad = gn[5]  # the 6th gn row: example 5 after filtering, line bad + 1 of the file
    fields = lines[bad].split("\t")
    lines[bad] = "\t".join([*fields[:3], "maybe"])
    path = tmp_path / "test.tsv"
    path.write_text("\n".join(lines) + "\n")
    dataset = load_location(DataLocation(path=str(path), filter={"language": "gn"}), "data.target.test (gn)")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:{bad + 1}: unknown label 'maybe'"):
        build_task(NLI, tokenizer).preprocess(dataset, "data.target.test (gn)")


def test_unknown_tag_and_relation_name_the_sentence_line_and_word(tmp_path, tokenizer):
    path = tmp_path / "test.txt"
    path.write_text("Amara B-PER\nsees O\n\nKofi B-PER\nbuys B-FOOD\n")
    dataset = load_location(DataLocation(path=str(path), format="conll"), "t")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:4: word 2: unknown tag 'B-FOOD'"):
        build_task(NER, tokenizer).preprocess(dataset, "t")
    conllu = tmp_path / "x-ud-test.conllu"
    conllu.write_text("# sent_id = 1\n1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n\n"
                      "# sent_id = 2\n1\tSim\tsim\tINTJ\t_\t_\t0\troot\t_\t_\n2\t!\t!\tPUNCT\t_\t_\t1\tbang\t_\t_\n\n")
    dataset = load_location(DataLocation(path=str(conllu)), "t")
    with pytest.raises(DataError, match=rf"^{re.escape(str(conllu))}:4: word 2: unknown relation 'bang'"):
        build_task({"name": "dp", "family": "dependency_parsing"}, tokenizer).preprocess(dataset, "t")


def test_hub_rows_name_the_location_and_row_index(tmp_path, tokenizer):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"language": lang, "premise": "a", "hypothesis": "b", "label": label}) + "\n"
                            for lang, label in [("gn", "neutral"), ("aym", "x"), ("gn", "maybe")]))
    dataset = load_location(DataLocation(hub="json", data_files=str(rows), split="train", filter={"language": "gn"}),
                            "data.target.test (gn)")
    with pytest.raises(DataError, match=r"^data\.target\.test \(gn\): row 2: unknown label 'maybe'"):
        build_task(NLI, tokenizer).preprocess(dataset, "data.target.test (gn)")
    memory = datasets.Dataset.from_list([{"premise": "a", "hypothesis": "b", "label": "maybe"}])
    with pytest.raises(DataError, match=r"^t: example 0: unknown label 'maybe'"):
        build_task(NLI, tokenizer).preprocess(memory, "t")


def _masakhaner_file(path, tags=("B-PER", "O")):
    """MasakhaNER 2.0 as published: a byte-order mark, CRLF line endings, an empty-token line."""
    text = f"Amara {tags[0]}\r\n O\r\nsees {tags[1]}\r\n\r\nKofi B-PER\r\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" + text).encode())


def test_one_override_points_a_hub_target_at_local_conll_files(tmp_path, tokenizer):
    for lang in ("hau", "ibo"):
        _masakhaner_file(tmp_path / "masakhaner2" / lang / "test.txt")
    template = f"{tmp_path}/masakhaner2/{{lang}}/test.txt"
    cfg = compose_config(["+experiment=ltsft_masakhaner", f"+data.target.test.path='{template}'"], tmp_path)
    data = parse_data_config(cfg.data)
    family = build_task(cfg.task, tokenizer)
    for lang in ("hau", "ibo"):
        location = data.target_location(lang, "test")
        assert location.hub is None and location.path == str(tmp_path / "masakhaner2" / lang / "test.txt")
        dataset = load_location(location, f"data.target.test ({lang})", family.text_file_format())
        assert dataset["tokens"] == [["Amara", "sees"], ["Kofi"]] and dataset["ner_tags"][0] == ["B-PER", "O"]
        assert len(family.preprocess(dataset, f"data.target.test ({lang})")) == 2
    # one language only, with ++ (adds or replaces the key)
    _masakhaner_file(tmp_path / "yor.txt", tags=("B-PER", "B-FOOD"))
    cfg = compose_config(["+experiment=ltsft_masakhaner", f"++data.languages.yor.target.test.path={tmp_path}/yor.txt"],
                         tmp_path)
    data = parse_data_config(cfg.data)
    assert data.target_location("hau", "test").hub == "masakhane/masakhaner"
    location = data.target_location("yor", "test")
    dataset = load_location(location, "data.target.test (yor)", family.text_file_format())
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'yor.txt'))}:1: word 2: unknown tag 'B-FOOD'"):
        family.preprocess(dataset, "data.target.test (yor)")


def test_pos_reads_a_txt_target_as_token_tag_columns(tmp_path, tokenizer):
    path = tmp_path / "bxr.txt"
    path.write_text("Bi PRON\nyabanab VERB\n")
    cfg = compose_config(["+experiment=ltsft_ud_pos", f"data.target.test.path={path}"], tmp_path)
    family = build_task(cfg.task, tokenizer)
    dataset = load_location(parse_data_config(cfg.data).target_location("bxr", "test"), "t", family.text_file_format())
    assert dataset["upos"] == [["PRON", "VERB"]]
    assert len(family.preprocess(dataset, "t")) == 1
