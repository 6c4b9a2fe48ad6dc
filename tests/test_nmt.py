"""NLLB-style NMT models (xlt.models.nmt): language table, tiny stand-in, new language codes (§6.3.3)."""

from __future__ import annotations

import pytest
import torch

from tests.nmt_helpers import TINY_CODES, corpora, tiny_nmt
from xlt.errors import ConfigError, DataError
from xlt.models.nmt import (
    add_language_code,
    build_tiny_nmt,
    code_id,
    flores_code,
    language_codes,
    language_table,
    load_nmt,
    model_content_key,
    nllb_supported,
)

AMERICASNLI = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
NUSAX = ["ace", "ban", "bjn", "bug", "jav", "mad", "min", "nij", "sun", "bbc"]
# Table 6.1's daggers: languages NLLB-200 does not support
UNSUPPORTED = {"cni", "bzd", "nah", "oto", "tar", "shp", "hch", "mad", "nij", "bbc"}


# ----------------------------------------------------------------------------- language table
def test_language_table_matches_table_6_1_and_nllb_codes():
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    table = language_table()
    for lang in AMERICASNLI + NUSAX + ["en", "es", "ind"]:
        entry = table[lang]
        assert entry.nllb == (lang not in UNSUPPORTED), lang
        # supported languages use NLLB-200's own code token; unsupported ones a code NLLB lacks
        assert (entry.flores in FAIRSEQ_LANGUAGE_CODES) == entry.nllb, lang
    assert [table[lang].adaptation_source for lang in sorted(UNSUPPORTED)] == [
        "ind", "es", "es", "es", "ind", "es", "ind", "es", "es", "es"]  # bbc bzd cni hch mad nah nij oto shp tar
    assert flores_code("gn") == "grn_Latn" and flores_code("aym") == "ayr_Latn" and flores_code("en") == "eng_Latn"
    assert flores_code("spa_Latn") == "spa_Latn"  # a FLORES code passes through
    assert not nllb_supported("mad") and nllb_supported("jav")


def test_language_table_overrides():
    table = language_table({"bzd": {"nllb": True}, "xyz": {"flores": "xyz_Latn", "nllb": False}})
    assert table["bzd"].nllb and table["bzd"].flores == "bzd_Latn"
    assert table["xyz"].flores == "xyz_Latn"


@pytest.mark.parametrize(("call", "message"), [
    pytest.param(lambda: language_table({"new": {"nllb": False}}), r"nmt.languages.new: missing required key 'flores'",
                 id="new-language-without-flores"),
    pytest.param(lambda: language_table({"bzd": {"flores": "bribri"}}), r"nmt.languages.bzd.flores='bribri'",
                 id="flores-code-malformed"),
    pytest.param(lambda: language_table({"bzd": {"iso": "bzd"}}), r"nmt.languages.bzd: unknown key 'iso'",
                 id="unknown-key"),
    pytest.param(lambda: flores_code("klingon", where="target"), r"target='klingon'", id="unknown-language"),
])
def test_language_table_errors(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


# ----------------------------------------------------------------------------- tiny model
def test_tiny_nmt_is_nllb_shaped_cached_and_keyed(tmp_path):
    from transformers import M2M100ForConditionalGeneration, NllbTokenizer

    path = tiny_nmt(tmp_path)
    assert (path / "DONE").exists() and not [p for p in path.parent.iterdir() if p.name.startswith(".tiny-nllb-")
                                            and p.is_dir()]
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert tiny_nmt(tmp_path) == path and (path / "model.safetensors").stat().st_mtime_ns == stamp  # built once
    assert build_tiny_nmt(corpora(), TINY_CODES[:3], tmp_path) != path  # the codes key the cache
    assert tiny_nmt(tmp_path, d_model=32) != path  # and the sizes
    model, tokenizer = load_nmt(str(path), src_lang="spa_Latn", tgt_lang="eng_Latn", device="cpu")
    assert isinstance(model, M2M100ForConditionalGeneration) and isinstance(tokenizer, NllbTokenizer)
    assert model.config.encoder_layerdrop == 0 and model.config.decoder_layerdrop == 0
    assert model.config.decoder_start_token_id == tokenizer.eos_token_id
    assert sorted(language_codes(tokenizer)) == sorted(TINY_CODES)
    encoded = tokenizer("Kadomon ludon kumana", text_target="Kemaka lefakek")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"])[0] == "spa_Latn"
    assert encoded["input_ids"][-1] == tokenizer.eos_token_id
    assert encoded["labels"][0] == code_id(tokenizer, "eng_Latn")
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_tiny_nmt_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="nmt.tiny: unknown key"):
        tiny_nmt(tmp_path, hidden_size=8)
    with pytest.raises(ConfigError, match="nmt.tiny.language_codes='english'"):
        build_tiny_nmt(corpora(), ["english"], tmp_path)
    with pytest.raises(DataError, match="not found"):
        build_tiny_nmt([tmp_path / "missing.txt"], ["eng_Latn"], tmp_path)


def test_load_nmt_checks_codes_and_architecture(cache_dir, tiny_xlmr_path):
    path = str(tiny_nmt(cache_dir))
    with pytest.raises(ConfigError, match=r"nmt.tgt_lang='bzd_Latn': not a language code"):
        load_nmt(path, src_lang="spa_Latn", tgt_lang="bzd_Latn")
    with pytest.raises(ConfigError, match="not an encoder-decoder"):
        load_nmt(tiny_xlmr_path)
    with pytest.raises(ConfigError, match="nmt.dtype"):
        load_nmt(path, dtype="fp8")


# ----------------------------------------------------------------------------- new language codes
def test_add_language_code_copy_resizes_keeps_tying_survives_save_and_generates(cache_dir, tmp_path):
    model, tokenizer = load_nmt(str(tiny_nmt(cache_dir)), device="cpu")
    rows = model.get_input_embeddings().weight.shape[0]
    spanish = code_id(tokenizer, "spa_Latn")
    new_id = add_language_code(model, tokenizer, "bzd_Latn", "copy:spa_Latn")
    assert new_id == rows and len(tokenizer) == rows + 1  # no spare row: the matrix grew by one
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == rows + 1 and model.config.vocab_size == rows + 1
    assert torch.equal(weight[new_id], weight[spanish])
    assert model.get_output_embeddings().weight is weight  # still tied
    assert language_codes(tokenizer)["bzd_Latn"] == new_id

    model.save_pretrained(tmp_path / "adapted")
    tokenizer.save_pretrained(tmp_path / "adapted")
    reloaded, tok = load_nmt(str(tmp_path / "adapted"), src_lang="spa_Latn", tgt_lang="bzd_Latn", device="cpu")
    assert code_id(tok, "bzd_Latn") == new_id
    assert torch.equal(reloaded.get_input_embeddings().weight, weight)
    assert reloaded.get_output_embeddings().weight is reloaded.get_input_embeddings().weight
    encoded = tok(["Kadomon ludon kumana ."], text_target=["Rika fikimik nuk ."], return_tensors="pt")
    assert encoded["labels"][0, 0] == new_id  # targets start with the new code, as NLLB's do
    generated = reloaded.generate(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
                                  forced_bos_token_id=new_id, max_new_tokens=6)
    assert generated[0, 0] == reloaded.config.decoder_start_token_id and generated[0, 1] == new_id
    assert "bzd_Latn" not in tok.decode(generated[0], skip_special_tokens=True)


def test_add_language_code_uses_spare_rows_and_initialises_them(cache_dir):
    """NLLB-200 has spare embedding rows: the new code takes one (no resize), and its row is set
    explicitly (the reference code left it as it was: an untrained row)."""
    model, tokenizer = load_nmt(str(tiny_nmt(cache_dir, spare_rows=2)), device="cpu")
    weight = model.get_input_embeddings().weight
    rows = weight.shape[0]
    assert rows == len(tokenizer) + 2
    untrained = weight[len(tokenizer)].clone()
    codes = language_codes(tokenizer)
    new_id = add_language_code(model, tokenizer, "mad_Latn", "mean")
    weight = model.get_input_embeddings().weight
    assert new_id == rows - 2 and weight.shape[0] == rows  # a spare row, not a resize
    expected = weight[sorted(codes.values())].mean(0)
    assert torch.allclose(weight[new_id], expected) and not torch.allclose(weight[new_id], untrained)
    assert model.get_output_embeddings().weight is weight


def test_add_language_code_untied_output_is_initialised_too(cache_dir):
    model, tokenizer = load_nmt(str(tiny_nmt(cache_dir)), device="cpu")
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone() * 2)
    model.config.tie_word_embeddings = False
    new_id = add_language_code(model, tokenizer, "nij_Latn", "copy:ind_Latn")
    indonesian = code_id(tokenizer, "ind_Latn")
    output = model.get_output_embeddings().weight
    assert output is not model.get_input_embeddings().weight
    assert torch.equal(output[new_id], output[indonesian])


@pytest.mark.parametrize(("code", "init", "message"), [
    pytest.param("spa_Latn", "mean", r"nmt.adaptation.code='spa_Latn': the tokenizer already has", id="existing-code"),
    pytest.param("bzd_Latn", "zero", r"nmt.adaptation.init='zero'", id="unknown-init"),
    pytest.param("bzd_Latn", "copy:xxx_Latn", r"nmt.adaptation.init='xxx_Latn': not a language code",
                 id="copy-from-a-missing-code"),
    pytest.param("bribri", "mean", r"nmt.adaptation.code='bribri'", id="code-not-in-flores-form"),
])
def test_add_language_code_errors(cache_dir, code, init, message):
    model, tokenizer = load_nmt(str(tiny_nmt(cache_dir)), device="cpu")
    vocabulary = dict(tokenizer.get_vocab())
    with pytest.raises(ConfigError, match=message):
        add_language_code(model, tokenizer, code, init)
    assert tokenizer.get_vocab() == vocabulary  # nothing added by the failed call


def test_model_content_key_follows_content(cache_dir, tmp_path):
    import shutil

    source = tiny_nmt(cache_dir)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert model_content_key(copy) == model_content_key(source)
    config = (copy / "config.json").read_text()
    (copy / "config.json").write_text(config.replace('"dropout": 0.1', '"dropout": 0.2'))
    assert model_content_key(copy) != model_content_key(source)
