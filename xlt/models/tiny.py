"""Tiny random models of real architectures, with tokenizers trained locally (offline).

Used by ``+profile=smoke`` and the tests: ``build_tiny_model("xlm-roberta", sizes, cache)``
trains a tokenizer of the architecture's kind (SentencePiece-style Unigram for XLM-R,
WordPiece for BERT, byte-level BPE for Llama) on the bundled sample corpora, builds a
randomly initialised model from a config (seeded), and saves both with ``save_pretrained`` to
a content-addressed cache directory; callers then load it like any hub model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xlt.errors import ConfigError
from xlt.paths import SAMPLES_DIR
from xlt.utils.cached_dir import build_once
from xlt.utils.hashing import file_fingerprint, stable_hash

DEFAULT_SIZES: dict[str, Any] = {
    "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
    "vocab_size": 4000, "max_length": 512, "seed": 0,
}
# Optional sizes (only in the cache key where given): ``dropout`` sets every dropout probability of the
# model (hidden, attention; task heads follow hidden_dropout_prob), e.g. 0 to compare a multi-process run
# with one process step by step (dropout masks are drawn per process, xlt.training.distributed).
OPTIONAL_SIZES = ("dropout",)
BUILD_VERSION = 1
NMT_ARCHITECTURES = ("m2m_100",)  # NLLB-200's model_type; built by xlt.models.nmt
# Encoder-only model types (masked LMs): no causal LM head, so no instruction tuning on them.
ENCODER_ARCHITECTURES = ("bert", "distilbert", "roberta", "xlm-roberta", "deberta-v2")
# Per-architecture builder revisions (only in the cache key of that architecture's models):
# llama 2 adds <s> at the start of every sequence, as the real Llama tokenizer does; deberta-v2 1 has
# mDeBERTa's tokenizer ([PAD] [CLS] [SEP] [UNK] first, [MASK] added last) and relative attention.
# distilbert 1 has DistilBERT's tokenizer (no token type ids) and a feed-forward layer of intermediate_size.
# bert 2 and distilbert 2: WordPiece ids from a deterministic training (xlt.models.tiny._train_wordpiece).
ARCHITECTURE_VERSIONS: dict[str, int] = {"llama": 2, "deberta-v2": 1, "distilbert": 2, "bert": 2}
# mDeBERTa-v3's architecture settings (its config.json) for tiny deberta-v2 models.
MDEBERTA_SETTINGS: dict[str, Any] = {
    "relative_attention": True, "position_biased_input": False, "pos_att_type": ["p2c", "c2p"],
    "position_buckets": 256, "norm_rel_ebd": "layer_norm", "share_att_key": True, "max_relative_positions": -1,
    "type_vocab_size": 0, "layer_norm_eps": 1e-7,
}


def _corpus_files() -> list[Path]:
    return sorted((SAMPLES_DIR / "corpora").glob("*.txt"))


def _lines() -> Iterator[str]:
    for path in _corpus_files():
        with open(path, encoding="utf-8") as handle:
            yield from (line.strip() for line in handle if line.strip())


def _train_wordpiece(lines: Iterable[str], vocab_size: int):
    """A BERT-style WordPiece tokenizer trained on ``lines``, the same one in every process.

    The ``tokenizers`` WordPiece trainer (a BPE trainer with the ``##`` continuing-subword prefix) numbers
    each continuation piece ``##c`` when it first meets it while iterating its word counts, a hash map seeded
    at random in every process; merges of equal count are then ranked by those numbers, so two processes
    learn different vocabularies from the same lines. Registering every continuation piece of the corpus
    first, in sorted order, fixes their numbers (the alphabet itself is already numbered in sorted order);
    the tokenizer is then rebuilt from the learned vocabulary without those extra registrations.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=False)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    lines = list(lines)
    continuations = sorted({f"##{char}" for line in lines
                            for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line))
                            for char in word[1:]})
    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer, trained.pre_tokenizer = normalizer, pre_tokenizer
    trained.train_from_iterator(lines, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=specials + continuations, show_progress=False))
    tok = Tokenizer(models.WordPiece(trained.get_vocab(with_added_tokens=False), unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre_tokenizer, decoders.WordPiece()
    tok.add_special_tokens(specials)
    return tok


def _train_tokenizer(architecture: str, vocab_size: int, max_length: int, lines: Iterable[str] | None = None):
    """A tokenizer of ``architecture``'s kind trained on ``lines`` (default: the bundled sample corpora)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    text = _lines() if lines is None else lines

    if architecture == "deberta-v2":  # mDeBERTa: SentencePiece Unigram, [MASK] added after the pieces
        import json

        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.train_from_iterator(text, trainers.UnigramTrainer(
            vocab_size=vocab_size - 1, special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]"], unk_token="[UNK]",
            show_progress=False))
        from transformers import DebertaV2Tokenizer

        pieces = [tuple(entry) for entry in json.loads(tok.to_str())["model"]["vocab"]]
        tokenizer = DebertaV2Tokenizer(vocab=pieces, model_max_length=max_length)
        tokenizer.add_special_tokens({"mask_token": "[MASK]"})
        return tokenizer
    if architecture in ("xlm-roberta", "roberta", "camembert"):
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(text, trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>", show_progress=False))
        from transformers import XLMRobertaTokenizerFast

        return XLMRobertaTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
            mask_token="<mask>", cls_token="<s>", sep_token="</s>", model_max_length=max_length)
    if architecture in ("bert", "distilbert"):
        tok = _train_wordpiece(text, vocab_size)
        from transformers import BertTokenizerFast, DistilBertTokenizerFast

        kind = DistilBertTokenizerFast if architecture == "distilbert" else BertTokenizerFast  # no token type ids
        return kind(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                 cls_token="[CLS]", mask_token="[MASK]", do_lower_case=False,
                                 model_max_length=max_length)
    if architecture in ("llama", "mistral", "gpt2"):
        from tokenizers import processors

        specials = ["<unk>", "<s>", "</s>"]
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(text, trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False))
        if architecture in ("llama", "mistral"):  # like the real tokenizers: <s> starts every sequence
            bos = tok.token_to_id("<s>")
            tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                               special_tokens=[("<s>", bos)])
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                       pad_token="<unk>", model_max_length=max_length)
    raise ConfigError(f"model.architecture={architecture!r}: no tiny builder for this architecture")


def _model_config(architecture: str, sizes: dict[str, Any], tokenizer):
    from transformers import AutoConfig

    shape_keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    common = {key: sizes[key] for key in shape_keys}
    special = {"pad_token_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer)}
    if tokenizer.bos_token_id is not None:
        special["bos_token_id"] = tokenizer.bos_token_id
    if tokenizer.eos_token_id is not None:
        special["eos_token_id"] = tokenizer.eos_token_id
    if architecture in ("xlm-roberta", "roberta", "camembert"):
        extra = {"max_position_embeddings": sizes["max_length"] + 2, "type_vocab_size": 1}
    elif architecture == "deberta-v2":
        extra = {"max_position_embeddings": sizes["max_length"], **MDEBERTA_SETTINGS}
    elif architecture == "distilbert":  # its config names the feed-forward size hidden_dim
        extra = {"max_position_embeddings": sizes["max_length"], "hidden_dim": sizes["intermediate_size"]}
    elif architecture == "llama":
        extra = {"max_position_embeddings": sizes["max_length"], "num_key_value_heads": sizes["num_attention_heads"],
                 "tie_word_embeddings": False}
    else:
        extra = {"max_position_embeddings": sizes["max_length"]}
    if "dropout" in sizes:
        probability = float(sizes["dropout"])
        extra.update(hidden_dropout_prob=probability, attention_probs_dropout_prob=probability,
                     attention_dropout=probability)
    return AutoConfig.for_model(architecture, **common, **special, **extra)


def build_tiny_model(architecture: str, sizes: dict[str, Any], cache_dir: Path) -> Path:
    """Directory of a saved tiny random model + tokenizer (built once, then cached). Translation models
    (``m2m_100``: NLLB's architecture) are built by :func:`xlt.models.nmt.build_tiny_nmt_from_table`: an
    encoder-decoder with an NLLB tokenizer holding the language table's codes."""
    if architecture in NMT_ARCHITECTURES:
        from xlt.models.nmt import build_tiny_nmt_from_table

        return build_tiny_nmt_from_table(_corpus_files(), cache_dir, sizes)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    unknown = set(sizes) - set(DEFAULT_SIZES) - set(OPTIONAL_SIZES)
    if unknown:
        raise ConfigError(f"model.tiny: unknown key(s) {sorted(unknown)} "
                          f"(known: {sorted([*DEFAULT_SIZES, *OPTIONAL_SIZES])})")
    spec = {"architecture": architecture, "sizes": sizes, "version": BUILD_VERSION}
    if architecture in ARCHITECTURE_VERSIONS:
        spec["architecture_version"] = ARCHITECTURE_VERSIONS[architecture]
    key = stable_hash({**spec,
                       "corpora": [file_fingerprint(p) for p in _corpus_files()]})
    target = cache_dir / "models" / f"tiny-{architecture}-{key}"

    def build(directory: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoModelForMaskedLM
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Writing model shards": the log starts with the stage lines

        tokenizer = _train_tokenizer(architecture, sizes["vocab_size"], sizes["max_length"])
        config = _model_config(architecture, sizes, tokenizer)
        torch.manual_seed(sizes["seed"])
        auto = AutoModelForCausalLM if architecture in ("llama", "mistral", "gpt2") else AutoModelForMaskedLM
        auto.from_config(config).save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return build_once(target, build, "tiny random model built by xlt")
