"""Task families: word alignment and labels (POS/NER), the biaffine parser (DP), QA windows."""

from __future__ import annotations

from types import SimpleNamespace

import datasets
import pytest
import torch
from torch import nn

from xlt.data.collators import IGNORE_INDEX
from xlt.data.locations import DataLocation, load_location
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ConfigError, DataError
from xlt.models.loading import ModelConfig, load_tokenizer
from xlt.tasks import build_task
from xlt.tasks.models.parsing import BiaffineParser
from xlt.tasks.parsing import BiaffineParserHead, pool_words

UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"]
NER = {"name": "ner", "family": "token_classification", "labels": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
       "tags_field": "ner_tags", "metric": "span_f1", "scheme": "iob2", "label_map": {"B-MISC": "O", "I-MISC": "O"}}


# ---------------------------------------------------------------------------- token classification
def test_labels_sit_on_the_first_subword_of_each_word(tiny_bert_path):
    tokenizer = load_tokenizer(tiny_bert_path)
    family = build_task({"name": "pos", "family": "token_classification", "labels": UPOS}, tokenizer)
    words = ["Kimatho", "madonathuvalik", "."]
    dataset = datasets.Dataset.from_list([{"tokens": words, "upos": ["DET", "ADJ", "PUNCT"]}])
    (example,) = family.preprocess(dataset, "t")
    encoded = tokenizer(words, is_split_into_words=True)
    first = [encoded.word_ids().index(w) for w in range(3)]
    assert example["word_starts"] == first
    labelled = [i for i, label in enumerate(example["labels"]) if label != IGNORE_INDEX]
    assert labelled == first and [example["labels"][i] for i in first] == [UPOS.index(t) for t in
                                                                           ("DET", "ADJ", "PUNCT")]
    assert len(encoded["input_ids"]) > len(first) + 2  # the long word has several subwords


def test_truncated_words_still_count_in_evaluation(tiny_bert_path):
    tokenizer = load_tokenizer(tiny_bert_path)
    family = build_task({"name": "pos", "family": "token_classification", "labels": UPOS, "max_seq_length": 6},
                        tokenizer)
    dataset = datasets.Dataset.from_list([{"tokens": ["a"] * 10, "upos": ["DET"] * 10}])
    (example,) = family.preprocess(dataset, "t")
    assert len(example["word_labels"]) == 10 and example["word_starts"].count(-1) >= 6
    model = family.build_model(tiny_bert_path, ModelConfig(name_or_path=tiny_bert_path))
    batch = family.collator()([example])
    predictions = model.word_predictions(batch)
    assert (predictions[0, torch.tensor(example["word_starts"]) < 0] == -1).all()
    metric = family.metric()
    model.update_metric(metric, batch)
    assert metric.total == 10  # every gold word is scored; the truncated ones as wrong
    assert metric.correct <= 10 - example["word_starts"].count(-1)


def test_ner_label_map_iob_repair_and_unknown_tags(tiny_bert_path):
    family = build_task(NER, load_tokenizer(tiny_bert_path))
    assert family.tag_ids(["I-PER", "I-PER", "B-MISC", "I-LOC"], "t") == [1, 2, 0, 3]
    with pytest.raises(DataError, match="unknown tag 'B-ORG'"):
        family.tag_ids(["B-ORG"], "t")
    with pytest.raises(ConfigError, match="label_map"):
        build_task({**NER, "label_map": {"B-DATE": "DATE"}}, None)


def test_hub_style_multiword_rows_are_dropped(tiny_bert_path):
    """Hub universal_dependencies rows keep the multiword surface form with head 'None'."""
    tokenizer = load_tokenizer(tiny_bert_path)
    row = {"tokens": ["Vamos", "Vamo", "nos", "."], "upos": ["_", "VERB", "PRON", "PUNCT"],
           "head": ["None", "0", "1", "1"], "deprel": ["_", "root", "obj", "punct"]}
    dataset = datasets.Dataset.from_list([row])
    (pos,) = build_task({"name": "pos", "family": "token_classification", "labels": UPOS},
                        tokenizer).preprocess(dataset, "t")
    assert pos["word_labels"] == [UPOS.index("VERB"), UPOS.index("PRON"), UPOS.index("PUNCT")]
    (dp,) = build_task({"name": "dp", "family": "dependency_parsing"}, tokenizer).preprocess(dataset, "t")
    assert dp["heads"] == [0, 1, 1] and len(dp["word_starts"]) == 3


# ---------------------------------------------------------------------------- dependency parsing
class FixedEncoder(nn.Module):
    """Stands in for a transformer: returns the given hidden states."""

    def __init__(self, hidden: torch.Tensor):
        super().__init__()
        self.hidden = hidden
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None):
        return SimpleNamespace(last_hidden_state=self.hidden + 0 * self.dummy)


def _hand_parser(decode: str) -> tuple[BiaffineParser, dict[str, torch.Tensor]]:
    """'the dog barks .' with one-hot word vectors; the second word has two subwords (mean-pooled)."""
    size = 5  # one-hot: 0 = root ([CLS]), 1..4 = the words
    hidden = torch.zeros(1, 7, size)
    hidden[0, 0, 0] = 1  # [CLS]
    for position, word in ((1, 1), (2, 2), (3, 2), (4, 3), (5, 4)):
        hidden[0, position, word] = 1
    head = BiaffineParserHead(size, 3, dropout=0.0)
    with torch.no_grad():
        for dependent, gold in zip((1, 2, 3, 4), (2, 3, 0, 3)):  # the->dog, dog->barks, barks->root, .->barks
            head.arcs.weight[0, dependent, gold] = 5.0
        for dependent, gold, relation in ((1, 2, 0), (2, 3, 1), (3, 0, 2), (4, 3, 0)):
            head.relations.weight[relation, dependent, gold] = 5.0
    model = BiaffineParser(FixedEncoder(hidden), head, lambda: None, "mean", decode).eval()
    batch = {"input_ids": torch.zeros(1, 7, dtype=torch.long), "attention_mask": torch.ones(1, 7, dtype=torch.long),
             "word_starts": torch.tensor([[1, 2, 4, 5]]), "word_ends": torch.tensor([[2, 4, 5, 6]]),
             "heads": torch.tensor([[2, 3, 0, 3]]), "rels": torch.tensor([[0, 1, 2, 0]])}
    return model, batch


@pytest.mark.parametrize("decode", ["greedy", "mst"])
def test_biaffine_parser_decodes_a_hand_made_sentence(decode):
    model, batch = _hand_parser(decode)
    heads, rels = model.predict(batch)
    assert heads.tolist() == [[2, 3, 0, 3]] and rels.tolist() == [[0, 1, 2, 0]]
    from xlt.eval.task_metrics import AttachmentScores

    metric = AttachmentScores()
    model.update_metric(metric, batch)
    assert metric.compute() == {"uas": 1.0, "las": 1.0}


def test_parser_loss_counts_root_attachments_and_ignores_padding():
    model, batch = _hand_parser("greedy")
    model.train()
    base = model.loss(batch)
    with torch.no_grad():  # weaken the root arc of 'barks': the loss must rise (the reference masks it out)
        model.head.arcs.weight[0, 3, 0] = 0.0
    assert model.loss(batch) > base
    padded = {k: torch.cat([v, torch.full((1, 2), -100 if k in ("heads", "rels") else -1)], 1)
              if k in ("word_starts", "word_ends", "heads", "rels") else v for k, v in batch.items()}
    assert torch.isclose(model.loss(padded), model.loss(batch))


def test_word_pooling_first_and_mean():
    hidden = torch.arange(12, dtype=torch.float).reshape(1, 4, 3)
    starts, ends = torch.tensor([[1, 2, -1]]), torch.tensor([[2, 4, -1]])
    mean = pool_words(hidden, starts, ends, "mean")
    assert torch.equal(mean[0, 0], hidden[0, 1]) and torch.equal(mean[0, 1], hidden[0, 2:4].mean(0))
    assert torch.equal(mean[0, 2], torch.zeros(3))
    first = pool_words(hidden, starts, ends, "first")
    assert torch.equal(first[0, 1], hidden[0, 2]) and torch.equal(first[0, 2], torch.zeros(3))


# ---------------------------------------------------------------------------- extractive QA
def test_qa_windows_stride_and_answer_positions(tiny_xlmr_path):
    tokenizer = load_tokenizer(tiny_xlmr_path)
    family = build_task({"name": "qa", "family": "extractive_qa", "max_seq_length": 48, "doc_stride": 16},
                        tokenizer)
    dataset = load_location(DataLocation(path=str(SAMPLES_DIR / "squad/dev-v1.1.json"), format="squad"), "t")
    examples = family.preprocess(dataset, "t")
    assert len(examples) > len(dataset)  # long contexts are split into overlapping windows
    found = 0
    for example in examples:
        start, end = example["start_position"], example["end_position"]
        if (start, end) == (0, 0):
            continue  # the answer is not in this window
        found += 1
        offsets = example["context_offsets"]
        first = start - example["context_start"]
        last = end - example["context_start"]
        text = example["context"][offsets[first][0]:offsets[last][1]]
        assert text.strip() in example["gold_answers"], (text, example["gold_answers"])
    assert found >= len(dataset)  # every answer lies in at least one window
    keys = {e["example_key"] for e in examples}
    assert len(keys) == len(dataset)
