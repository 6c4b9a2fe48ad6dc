"""Vocabulary reduction (thesis §5.3.2): selection, trimmed tokenizers of all three kinds, sliced
models (logits, ties, round trips) and SFT rows remapped consistently."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ArtifactError, ConfigError, DataError
from xlt.methods.core.sft import SparseDelta, SparseFineTuning
from xlt.methods.core.trim import trim_sft
from xlt.models.vocabulary import (
    VocabularyReduction,
    parameter_count,
    remap_tokenizer_json,
    select_vocabulary,
    trim_model,
    trim_tokenizer,
    unigram_counts,
    unigram_probabilities,
    vocabulary_parameters,
)

CORPORA = SAMPLES_DIR / "corpora"
SOURCE, TARGET = CORPORA / "en.txt", CORPORA / "ar.txt"
ARCHITECTURES = ["bert", "xlm-roberta", "deberta-v2"]  # WordPiece (mBERT), Unigram (XLM-R), mDeBERTa
# 'q', 'z', 'x', 'B' occur in other sample languages but in neither English nor Arabic
OUT_OF_PAIR = "A quiz of Bob zax ."


def lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tiny_paths(cache_dir) -> dict[str, str]:
    from xlt.models.tiny import build_tiny_model

    return {arch: str(build_tiny_model(arch, {}, cache_dir)) for arch in ARCHITECTURES}


def load(path: str):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(path), AutoModelForMaskedLM.from_pretrained(path).eval()


@pytest.fixture(scope="module")
def trimmed(tiny_paths):
    """Per architecture: (teacher tokenizer, teacher model, reduction, trimmed tokenizer)."""
    out = {}
    for arch, path in tiny_paths.items():
        tokenizer, model = load(path)
        reduction = select_vocabulary(tokenizer, SOURCE, TARGET, config=model.config)
        out[arch] = (tokenizer, model, reduction, trim_tokenizer(tokenizer, reduction))
    return out


# ------------------------------------------------------------------------------------------ selection
def test_unigram_counts_stream_in_chunks_and_skip_specials(tiny_paths):
    tokenizer, _ = load(tiny_paths["bert"])
    expected = Counter(i for line in lines(SOURCE) for i in tokenizer(line, add_special_tokens=False)["input_ids"])
    counts = unigram_counts(tokenizer, SOURCE, batch_lines=7)
    assert counts.shape == (len(tokenizer),)
    assert {i: int(c) for i, c in enumerate(counts) if c} == dict(expected)
    assert torch.equal(counts, unigram_counts(tokenizer, iter(lines(SOURCE) + ["", "   "]), batch_lines=1000))
    assert int(counts[tokenizer.cls_token_id]) == 0 and int(counts[tokenizer.sep_token_id]) == 0
    probabilities, total = unigram_probabilities(tokenizer, SOURCE)
    assert total == sum(expected.values()) and abs(float(probabilities.sum()) - 1) < 1e-9


def test_selection_keeps_max_of_both_languages_above_threshold_and_all_specials(tiny_paths):
    tokenizer, model = load(tiny_paths["xlm-roberta"])
    p_source, _ = unigram_probabilities(tokenizer, SOURCE)
    p_target, _ = unigram_probabilities(tokenizer, TARGET)
    threshold = 2e-3  # between the probabilities of rare and common tokens of these small corpora
    reduction = select_vocabulary(tokenizer, SOURCE, TARGET, threshold=threshold, config=model.config)
    specials = set(tokenizer.all_special_ids)
    by_rule = {i for i in range(len(tokenizer)) if max(p_source[i], p_target[i]) >= threshold}
    assert set(reduction.kept_ids) == by_rule | specials
    assert by_rule - {i for i in range(len(tokenizer)) if p_source[i] >= threshold}  # the target adds tokens
    assert 0 < len(by_rule) < len({i for i in range(len(tokenizer)) if max(p_source[i], p_target[i]) > 0})
    assert reduction.old_size == model.config.vocab_size
    assert reduction.counted_tokens["source"] > 0 and reduction.threshold == threshold
    with pytest.raises(ConfigError, match="vocabulary.threshold"):
        select_vocabulary(tokenizer, SOURCE, TARGET, threshold=1.5)
    with pytest.raises(DataError, match="target corpus"):
        select_vocabulary(tokenizer, SOURCE, ["", " "])


def test_reduction_maps_ids_and_round_trips(tmp_path):
    reduction = VocabularyReduction((0, 2, 5, 6), 8, 1e-6, {"source": 3})
    assert reduction.old_to_new().tolist() == [0, -1, 1, -1, -1, 2, 3, -1]
    assert [reduction.new_id(i) for i in range(8)] == [0, None, 1, None, None, 2, 3, None]
    assert reduction.remap_ids(torch.tensor([5, 1, 0]), unk_id=1).tolist() == [2, 1, 0]
    with pytest.raises(ArtifactError):
        reduction.remap_ids(torch.tensor([1]))
    reduction.save(tmp_path / "v.json")
    again = VocabularyReduction.load(tmp_path / "v.json")
    assert again == reduction and again.fingerprint() == reduction.fingerprint()
    assert VocabularyReduction((0, 2), 8).fingerprint() != reduction.fingerprint()
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ArtifactError, match="bad.json"):
        VocabularyReduction.load(tmp_path / "bad.json")
    with pytest.raises(ArtifactError):
        VocabularyReduction((2, 1), 8)
    with pytest.raises(ArtifactError):
        VocabularyReduction((0, 8), 8)


# ------------------------------------------------------------------------------------------ tokenizers
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_trimmed_tokenizer_encodes_the_corpora_to_the_same_token_strings(trimmed, arch, tmp_path):
    from transformers import AutoTokenizer

    teacher, _, reduction, student = trimmed[arch]
    assert len(student) == reduction.new_size < len(teacher)
    student.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded) is type(teacher)
    for tokenizer in (student, reloaded):
        for line in lines(SOURCE) + lines(TARGET):
            old = teacher(line)["input_ids"]
            new = tokenizer(line)["input_ids"]
            assert tokenizer.convert_ids_to_tokens(new) == teacher.convert_ids_to_tokens(old)
            assert new == reduction.remap_ids(torch.tensor(old)).tolist()
        pair = tokenizer(lines(SOURCE)[0], lines(TARGET)[0])["input_ids"]
        assert tokenizer.convert_ids_to_tokens(pair) == teacher.convert_ids_to_tokens(
            teacher(lines(SOURCE)[0], lines(TARGET)[0])["input_ids"])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_out_of_vocabulary_pieces_map_to_unk(trimmed, arch):
    teacher, _, reduction, student = trimmed[arch]
    old = teacher.convert_ids_to_tokens(teacher(OUT_OF_PAIR, add_special_tokens=False)["input_ids"])
    new_ids = student(OUT_OF_PAIR, add_special_tokens=False)["input_ids"]
    assert teacher.unk_token not in old  # the teacher knows every piece
    assert new_ids.count(student.unk_token_id) >= 2  # 'q..', 'z..' are gone
    assert all(0 <= i < reduction.new_size for i in new_ids)
    dropped = [t for t in old if reduction.new_id(teacher.convert_tokens_to_ids(t)) is None]
    assert dropped and not set(dropped) & set(student.convert_ids_to_tokens(new_ids))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_specials_keep_their_role_and_every_id_in_the_saved_json_is_remapped(trimmed, arch, tmp_path):
    teacher, _, reduction, student = trimmed[arch]
    for name in ("unk_token", "pad_token", "cls_token", "sep_token", "mask_token"):
        assert getattr(student, name) == getattr(teacher, name)
        assert getattr(student, f"{name}_id") == reduction.new_id(getattr(teacher, f"{name}_id"))
    if arch == "deberta-v2":  # mDeBERTa's [MASK] is an added token after the pieces: it becomes the last id
        assert student.mask_token_id == reduction.new_size - 1 != teacher.mask_token_id
    student.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    ids_of = {token: i for i, token in enumerate(student.convert_ids_to_tokens(list(range(len(student)))))}
    for entry in data["added_tokens"]:
        assert ids_of[entry["content"]] == entry["id"]
    for name, entry in data["post_processor"]["special_tokens"].items():
        assert entry["ids"] == [ids_of[name]]
    model = data["model"]
    if model["type"] == "WordPiece":
        assert model["vocab"] == {token: i for token, i in ids_of.items() if i < len(model["vocab"])}
    else:
        assert model["unk_id"] == student.unk_token_id
        assert [piece for piece, _ in model["vocab"]] == [t for t, i in ids_of.items() if i < len(model["vocab"])]
        teacher_scores = dict(map(tuple, json.loads(teacher.backend_tokenizer.to_str())["model"]["vocab"]))
        assert all(score == teacher_scores[piece] for piece, score in model["vocab"])
    assert not [p.name for p in tmp_path.iterdir() if p.suffix in (".model", ".txt")]  # no untrimmed vocabulary


def test_remap_tokenizer_json_handles_bert_roberta_and_sequence_processors_and_padding():
    reduction = VocabularyReduction((0, 3, 4, 7), 8)
    data = {
        "model": {"type": "Unigram", "unk_id": 3, "vocab": [[f"t{i}", -float(i)] for i in range(8)]},
        "added_tokens": [{"id": 0, "content": "t0"}, {"id": 1, "content": "t1"}, {"id": 7, "content": "t7"}],
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "RobertaProcessing", "sep": ["t4", 4], "cls": ["t0", 0]}, {"type": "ByteLevel"},
            {"type": "BertProcessing", "sep": ["t7", 7], "cls": ["t3", 3]}]},
        "padding": {"pad_id": 4, "pad_token": "t4"},
    }
    out = remap_tokenizer_json(data, reduction)
    assert out["model"]["vocab"] == [["t0", 0.0], ["t3", -3.0], ["t4", -4.0], ["t7", -7.0]]
    assert out["model"]["unk_id"] == 1
    assert out["added_tokens"] == [{"id": 0, "content": "t0"}, {"id": 3, "content": "t7"}]
    first, _, last = out["post_processor"]["processors"]
    assert first["sep"] == ["t4", 2] and first["cls"] == ["t0", 0] and last["sep"] == ["t7", 3]
    assert out["padding"]["pad_id"] == 2
    assert data["model"]["unk_id"] == 3  # the input is not modified
    with pytest.raises(ArtifactError, match="unk"):
        remap_tokenizer_json(data, VocabularyReduction((0, 4, 7), 8))


def test_bpe_tokenizers_are_refused(cache_dir):
    from transformers import AutoTokenizer

    from xlt.models.tiny import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model("llama", {}, cache_dir))
    reduction = VocabularyReduction(tuple(range(10)), len(tokenizer))
    with pytest.raises(ConfigError, match="WordPiece and Unigram"):
        trim_tokenizer(tokenizer, reduction)


# ------------------------------------------------------------------------------------------ models
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_trimmed_model_gives_the_teachers_logits_on_kept_tokens(trimmed, tiny_paths, arch, tmp_path):
    from transformers import AutoModelForMaskedLM

    teacher_tokenizer, _, reduction, student_tokenizer = trimmed[arch]
    _, teacher = load(tiny_paths[arch])
    _, model = load(tiny_paths[arch])
    hidden = model.config.hidden_size
    report = trim_model(model, reduction)
    dropped = reduction.old_size - reduction.new_size
    assert report["vocab_after"] == model.config.vocab_size == reduction.new_size
    # tied decoder: each dropped row takes an embedding row and a bias entry with it
    assert report["parameters_before"] - report["parameters_after"] == dropped * (hidden + 1)
    assert parameter_count(model) == report["parameters_after"]
    assert model.get_input_embeddings().num_embeddings == reduction.new_size
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight or arch == "deberta-v2"
    batch = teacher_tokenizer(lines(SOURCE)[:3] + lines(TARGET)[:3], padding=True, return_tensors="pt")
    student_batch = student_tokenizer(lines(SOURCE)[:3] + lines(TARGET)[:3], padding=True, return_tensors="pt")
    assert torch.equal(student_batch["input_ids"], reduction.remap_ids(batch["input_ids"]))
    with torch.no_grad():
        expected = teacher(**batch, output_hidden_states=True)
        got = model(**student_batch, output_hidden_states=True)
    for a, b in zip(expected.hidden_states, got.hidden_states):
        assert torch.equal(a, b)
    torch.testing.assert_close(got.logits, expected.logits[..., reduction.index()], rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path)
    again = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert again.config.vocab_size == reduction.new_size
    with torch.no_grad():
        torch.testing.assert_close(again(**student_batch).logits, got.logits, rtol=0, atol=0)


def test_untied_decoder_and_biases_are_each_sliced(tiny_paths):
    from xlt.methods.sparse.ltsft import untie_and_freeze_output_embeddings

    _, model = load(tiny_paths["bert"])
    untie_and_freeze_output_embeddings(model)
    before = {name: p.detach().clone() for name, p in vocabulary_parameters(model).items()}
    assert set(before) == {"bert.embeddings.word_embeddings.weight", "cls.predictions.bias",
                           "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}
    reduction = VocabularyReduction((0, 1, 2, 3, 4, 50, 51, 3999), 4000)
    trim_model(model, reduction)
    after = dict(model.named_parameters(remove_duplicate=False))
    for name, tensor in before.items():
        assert torch.equal(after[name], tensor[list(reduction.kept_ids)])
    assert not after["cls.predictions.decoder.weight"].requires_grad  # frozen stays frozen
    assert after["bert.embeddings.word_embeddings.weight"] is not after["cls.predictions.decoder.weight"]


def test_a_config_token_dropped_by_the_reduction_is_an_error(tiny_paths):
    _, model = load(tiny_paths["xlm-roberta"])
    with pytest.raises(ArtifactError, match="bos_token_id"):
        trim_model(model, VocabularyReduction((1, 2, 3, 4, 10), model.config.vocab_size))


# ------------------------------------------------------------------------------------------ SFTs
def test_trim_sft_index_arithmetic_by_hand():
    reduction = VocabularyReduction((0, 2, 3), 4)
    sft = SparseFineTuning({
        "emb": SparseDelta((4, 3), torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1, 3, 7, 11], dtype=torch.int32)),
        "bias": SparseDelta((4,), torch.tensor([10.0, 20.0, 30.0, 40.0])),  # dense
        "layer": SparseDelta((4, 4), torch.tensor([5.0]), torch.tensor([6])),  # not vocabulary-indexed
    }, {"head_bias": torch.tensor([1.0, 2.0, 3.0, 4.0])}, {"base_hash": "old"})
    out = trim_sft(sft, reduction, names=["emb", "bias", "head_bias"], base_hash="new")
    # row 0 col 1 -> 1; row 1 dropped; row 2 col 1 -> row 1 col 1 = 4; row 3 col 2 -> row 2 col 2 = 8
    assert out.diffs["emb"].shape == (3, 3)
    assert out.diffs["emb"].indices.tolist() == [1, 4, 8] and out.diffs["emb"].values.tolist() == [1.0, 3.0, 4.0]
    assert out.diffs["emb"].indices.dtype == torch.int32
    assert out.diffs["bias"].values.tolist() == [10.0, 30.0, 40.0] and out.diffs["bias"].indices is None
    assert out.diffs["layer"] is sft.diffs["layer"]
    assert out.abs["head_bias"].tolist() == [1.0, 3.0, 4.0]
    assert out.meta["base_hash"] == "new" and out.meta["untrimmed_base_hash"] == "old"
    assert out.meta["vocabulary"] == reduction.fingerprint()
    assert trim_sft(sft, reduction).diffs["layer"].shape == (3, 4)  # default: every 4-row tensor
    with pytest.raises(ArtifactError, match="layer"):
        trim_sft(sft, VocabularyReduction((0, 2), 3), names=["layer"])


@pytest.mark.parametrize("arch", ["bert", "deberta-v2"])
def test_apply_then_trim_equals_trim_then_apply(tiny_paths, arch):
    """An SFT of the untrimmed teacher (body diffs incl. embedding rows, MLM head as abs tensors)
    trimmed with the vocabulary gives exactly the trimmed-then-adapted model."""
    from xlt.models.loading import base_weights_hash, body_of

    _, adapted = load(tiny_paths[arch])
    _, plain = load(tiny_paths[arch])
    body = body_of(adapted)
    g = torch.Generator().manual_seed(0)
    diffs = {}
    for name, param in body.named_parameters():
        numel = param.numel()
        idx = torch.randperm(numel, generator=g)[: max(1, numel // 10)].sort().values.to(torch.int32)
        diffs[name] = SparseDelta(tuple(param.shape), torch.randn(len(idx), generator=g), idx)
    head_names = [n for n, _ in adapted.named_parameters() if not n.startswith(adapted.base_model_prefix)]
    abs_tensors = {n: torch.randn(dict(adapted.named_parameters())[n].shape, generator=g) for n in head_names}
    untrimmed_hash = base_weights_hash(body)
    sft = SparseFineTuning(diffs, abs_tensors, {"method": "test", "base_hash": untrimmed_hash})
    vocabulary_name = [n for n in diffs if "word_embeddings" in n]
    assert vocabulary_name

    tokenizer, _ = load(tiny_paths[arch])
    reduction = select_vocabulary(tokenizer, SOURCE, TARGET, config=plain.config)
    sft.apply(body, abs_module=adapted, base_hash=untrimmed_hash)
    trim_model(adapted, reduction)
    trim_model(plain, reduction)
    trimmed_hash = base_weights_hash(body_of(plain))
    trimmed_sft = trim_sft(sft, reduction, base_hash=trimmed_hash)
    assert trimmed_sft.meta["untrimmed_base_hash"] == untrimmed_hash
    assert trimmed_sft.diffs[vocabulary_name[0]].shape[0] == reduction.new_size
    handle = trimmed_sft.apply(body_of(plain), abs_module=plain, base_hash=trimmed_hash)
    expected = dict(adapted.named_parameters())
    for name, param in plain.named_parameters():
        assert torch.equal(param, expected[name]), name
    handle.remove()
