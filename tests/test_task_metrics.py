"""Task metrics and decoders against hand-computed values: seqeval span F1, attachment scores,
SQuAD normalisation/EM/F1, answer-span decoding limits, and dependency tree decoding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xlt.eval.task_metrics import (
    AnswerScoring,
    AttachmentScores,
    SpanF1,
    SquadScores,
    mlqa_exact_match,
    mlqa_f1,
    mlqa_normalize_answer,
    normalize_answer,
    squad_exact_match,
    squad_f1,
)
from xlt.tasks.decoding import best_spans, greedy_heads, mst_heads, tree_score
from xlt.tasks.tagging import iob2


# ---------------------------------------------------------------------------- NER span F1
def _f1(gold, predicted):
    metric = SpanF1()
    metric.update(predicted, gold)
    return metric.compute()


def test_span_f1_counts_whole_entities_only():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    # PER right; LOC predicted as ORG: 1 of 2 predicted right, 1 of 2 gold found
    result = _f1(gold, [["B-PER", "I-PER", "O", "B-ORG"]])
    assert result["precision"] == pytest.approx(0.5) and result["recall"] == pytest.approx(0.5)
    assert result["f1"] == pytest.approx(0.5)
    # a boundary error is a miss and a false alarm: nothing right
    assert _f1(gold, [["B-PER", "O", "O", "O"]])["f1"] == 0.0
    # one entity found of two, no false alarm: P = 1, R = 1/2, F1 = 2/3
    assert _f1(gold, [["B-PER", "I-PER", "O", "O"]])["f1"] == pytest.approx(2 / 3)


def test_span_f1_conlleval_rules_and_empty_cases():
    gold = [["B-PER", "I-PER", "O"]]
    # IOB1-style prediction (I- opens an entity after O) is the same span
    assert _f1(gold, [["I-PER", "I-PER", "O"]])["f1"] == 1.0
    # a type change inside a run splits it into two entities
    assert _f1(gold, [["B-PER", "I-LOC", "O"]])["f1"] == 0.0
    # nothing predicted, entities in gold: 0 (no division by zero)
    empty = _f1(gold, [["O", "O", "O"]])
    assert empty == {"f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": pytest.approx(1 / 3)}


def test_iob1_to_iob2_repair_is_idempotent():
    assert iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC",
                                                                        "B-ORG"]
    tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    assert iob2(tags) == tags


# ---------------------------------------------------------------------------- DP attachment scores
def test_las_needs_right_head_and_right_relation():
    metric = AttachmentScores()
    gold_heads, gold_rels = torch.tensor([[2, 0, 2, 3, -100]]), torch.tensor([[0, 1, 2, 3, -100]])
    heads = torch.tensor([[2, 0, 2, 2, 4]])  # word 4: wrong head
    rels = torch.tensor([[0, 1, 5, 3, 0]])  # word 3: right head, wrong relation
    metric.update(heads, rels, gold_heads, gold_rels)
    assert metric.compute() == {"uas": 3 / 4, "las": 2 / 4}
    assert metric.primary == "las"


# ---------------------------------------------------------------------------- SQuAD
def test_squad_normalisation():
    assert normalize_answer("The  Cat!") == "cat"
    assert normalize_answer("An apple, a pear and THE end.") == "apple pear and end"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words
    assert squad_exact_match("the Big dog.", "big dog") == 1.0


def test_squad_f1_hand_computed():
    # prediction tokens [big, red, dog], gold [red, dog]: P = 2/3, R = 1, F1 = 0.8
    assert squad_f1("the big red dog", "a red dog") == pytest.approx(0.8)
    assert squad_f1("dog dog", "dog") == pytest.approx(2 * 0.5 * 1 / 1.5)  # counts are clipped
    assert squad_f1("cat", "dog") == 0.0


def test_squad_scores_best_window_and_best_gold():
    metric = SquadScores()
    # example a: two windows, the second scores higher; example b: its gold list has an exact match
    metric.update(["a", "a", "b"], [(1.0, "red dog"), (5.0, "the big dog"), (2.0, "cat")],
                  [["big dog"], ["big dog"], ["a cat", "dog"]])
    assert metric.compute() == {"f1": 1.0, "exact_match": 1.0}
    metric.update(["c"], [(0.0, "small")], [["big"]])
    assert metric.compute() == {"f1": pytest.approx(2 / 3), "exact_match": pytest.approx(2 / 3)}


# ---------------------------------------------------------------------------- MLQA
def test_mlqa_splits_chinese_into_characters():
    # SQuAD: one token each, nothing in common. MLQA: [北, 京, 大, 学] vs [北, 京]: P = 2/4, R = 2/2,
    # F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert squad_f1("北京大学", "北京") == 0.0
    assert mlqa_f1("北京大学", "北京", "zh") == pytest.approx(2 / 3)
    assert mlqa_exact_match("北京大学", "北京", "zh") == 0.0
    # CJK characters and punctuation are tokens; Latin runs stay whitespace tokens; punctuation is gone
    assert mlqa_normalize_answer("2008年 北京奥运会。", "zh") == "2008 年 北 京 奥 运 会"
    # [2008, 年, 北, 京] vs [北, 京, 2008]: 3 in common, P = 3/4, R = 1, F1 = 6/7
    assert mlqa_f1("2008年北京", "北京 2008", "zh") == pytest.approx(6 / 7)


def test_mlqa_strips_unicode_punctuation():
    # « » ¿ ¡ 、 and the Arabic comma are Unicode punctuation (P*) but not ASCII: SQuAD keeps them
    assert normalize_answer("«París»") == "«parís»" and squad_exact_match("«París»", "París") == 0.0
    assert mlqa_normalize_answer("«París»", "es") == "parís"
    assert mlqa_exact_match("¿Berlín?", "berlín", "es") == 1.0
    assert mlqa_normalize_answer("دمشق، سوريا", "ar") == "دمشق سوريا"
    # ASCII symbols that string.punctuation holds (the script adds them) go too: $ is category Sc
    assert mlqa_normalize_answer("$5", "en") == "5"


def test_mlqa_removes_each_languages_articles():
    assert mlqa_normalize_answer("The Cat", "en") == "cat"
    assert mlqa_normalize_answer("Los gatos de la casa", "es") == "gatos de casa"
    assert mlqa_normalize_answer("Der Hund und eine Katze", "de") == "hund und katze"
    assert mlqa_normalize_answer("những con mèo của tôi", "vi") == "con mèo tôi"
    # Arabic: every ال, also inside a word (the script's pattern), becomes a space
    assert mlqa_normalize_answer("الكتاب", "ar") == "كتاب"
    assert mlqa_normalize_answer("مالك", "ar") == "م ك"
    # Hindi and Chinese have none: "एक" (one / a) stays
    assert mlqa_normalize_answer("एक किताब", "hi") == "एक किताब"
    # articles of another language are words like any other: German "die" is not an English article
    assert mlqa_normalize_answer("die Frau", "en") == "die frau"
    # es "la casa" vs "casa": MLQA EM 1; SQuAD keeps "la": tokens [la, casa] vs [casa], F1 = 2/3, EM 0
    assert mlqa_exact_match("la casa", "casa", "es") == 1.0
    assert squad_exact_match("la casa", "casa") == 0.0 and squad_f1("la casa", "casa") == pytest.approx(2 / 3)
    # hi: [एक, किताब] vs [किताब]: P = 1/2, R = 1, F1 = 2/3
    assert mlqa_f1("एक किताब", "किताब", "hi") == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no rules for language 'el'"):
        mlqa_normalize_answer("το", "el")


def test_answer_scoring_per_example():
    assert AnswerScoring.parse(None) == AnswerScoring.parse("squad") == AnswerScoring("squad", None)
    assert AnswerScoring.parse("mlqa:zh") == AnswerScoring("mlqa", "zh")
    for bad in ("mlqa", "mlqa:el", "bleu:zh"):
        with pytest.raises(ValueError, match="answer scoring"):
            AnswerScoring.parse(bad)
    metric = SquadScores()
    metric.update(["a", "b", "c"], [(1.0, "北京大学"), (1.0, "«la casa»"), (1.0, "北京大学")],
                  [["北京"], ["casa"], ["北京"]], ["mlqa:zh", "mlqa:es", "squad"])
    # a: 2/3 (characters); b: EM 1 (punctuation and article gone); c: SQuAD's rules, 0
    assert metric.compute() == {"f1": pytest.approx((2 / 3 + 1 + 0) / 3), "exact_match": pytest.approx(1 / 3)}


def test_best_span_respects_order_length_and_context():
    start = torch.tensor([[0.0, 9.0, 1.0, 0.0, 5.0, 0.0]])
    end = torch.tensor([[8.0, 0.0, 0.0, 2.0, 0.0, 7.0]])
    context = torch.tensor([[False, True, True, True, True, True]])
    # unconstrained best: start 1 + end 0 (end before start, and token 0 is not context)
    score, i, j = best_spans(start, end, context, max_answer_length=30)
    assert (i.item(), j.item(), score.item()) == (1, 5, 16.0)
    # at most 3 tokens: (1, 3) scores 9 + 2 = 11, (4, 5) scores 5 + 7 = 12
    score, i, j = best_spans(start, end, context, max_answer_length=3)
    assert (i.item(), j.item(), score.item()) == (4, 5, 12.0)
    score, i, j = best_spans(start, end, context, max_answer_length=1)  # single tokens only: 9 + 0
    assert (i.item(), j.item()) == (1, 1) and score.item() == 9.0
    score, _, _ = best_spans(start, end, torch.zeros_like(context), max_answer_length=3)
    assert score.item() == float("-inf")


# ---------------------------------------------------------------------------- tree decoding
def test_greedy_decoding_on_a_hand_made_sentence():
    # "the dog barks ." : heads the->dog(2), dog->barks(3), barks->root(0), .->barks(3)
    scores = torch.full((1, 4, 5), -5.0)
    for word, head in enumerate([2, 3, 0, 3]):
        scores[0, word, head] = 5.0
    valid = torch.ones(1, 4, 5, dtype=torch.bool)
    assert greedy_heads(scores, valid).tolist() == [[2, 3, 0, 3]]
    valid[0, 1, 3] = False  # the best head is impossible: next best wins
    scores[0, 1, 1] = 1.0
    assert greedy_heads(scores, valid)[0, 1].item() == 1


def test_mst_repairs_a_cycle_and_a_second_root():
    # greedy heads: 1<-2, 2<-1 (a cycle) and 3<-root, 4<-root (two roots)
    s = np.full((5, 5), -10.0)
    s[1, 2], s[2, 1], s[3, 0], s[4, 0] = 10.0, 9.0, 8.0, 7.0
    s[1, 3], s[2, 3], s[4, 3] = 6.0, 1.0, 5.0
    s[1:, 0] = np.maximum(s[1:, 0], -1.0)
    heads = mst_heads(s)
    assert list(heads) == [3, 1, 0, 3]  # 1<-3, 2<-1, 3<-root, 4<-3: a tree with one root
    assert sum(h == 0 for h in heads) == 1


def _brute_force(scores: np.ndarray) -> float:
    n = len(scores) - 1
    best = -np.inf
    for heads in itertools.product(range(n + 1), repeat=n):
        if sum(h == 0 for h in heads) != 1 or any(h == d + 1 for d, h in enumerate(heads)):
            continue
        reached, ok = set(), True
        for d in range(1, n + 1):  # every word must reach the root without a cycle
            seen, node = set(), d
            while node != 0 and node not in seen:
                seen.add(node)
                node = heads[node - 1]
            ok &= node == 0
            reached |= seen
        if ok:
            best = max(best, tree_score(scores, np.array(heads)))
    return best


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), data=st.data())
def test_mst_equals_brute_force_single_root_tree(n, data):
    values = data.draw(st.lists(st.integers(-9, 9), min_size=(n + 1) ** 2, max_size=(n + 1) ** 2))
    scores = np.array(values, dtype=float).reshape(n + 1, n + 1)
    heads = mst_heads(scores)
    assert sum(h == 0 for h in heads) == 1
    assert tree_score(scores, heads) == pytest.approx(_brute_force(scores))
