"""NLLB-style NMT models: loading, language codes, a tiny offline stand-in (thesis §6.3.3, §6.4.2).

* :func:`load_nmt` loads an encoder-decoder translation model and its tokenizer by hub id or local
  path (one code path), checking that the source/target codes are tokens of the tokenizer.
* :func:`add_language_code` adds the code token of a language NLLB does not support (§6.3.3: "a new
  language token and embedding") the transformers-5 way: an added special token (there is no
  ``lang_code_to_id`` any more), embeddings resized only when the tokenizer outgrows them (NLLB-200
  has 256,206 rows for 256,204 tokens: the first new codes take spare rows) and the new row always
  initialised explicitly (a related code's row, or the mean of the code rows), never left untrained
  as in the reference code.
* :func:`language_table` maps xlt's language codes to FLORES-200 codes and says which languages
  NLLB-200 supports (Table 6.1's daggers), from ``nllb_languages.yaml`` plus config overrides.
* :func:`build_tiny_nmt` builds a random ``M2M100ForConditionalGeneration`` (NLLB's architecture)
  with an ``NllbTokenizer`` over a BPE vocabulary trained locally on given corpora, the given codes
  registered as special tokens: what the offline smoke profile and the tests translate with.

Nothing here imports xlt.data (corpora are passed in as paths).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlt.errors import ConfigError, DataError
from xlt.utils.cached_dir import build_once
from xlt.utils.hashing import file_fingerprint, stable_hash

log = logging.getLogger(__name__)

FLORES_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")  # ISO 639-3 + ISO 15924 script, e.g. spa_Latn
LANGUAGE_TABLE_FILE = Path(__file__).with_name("nllb_languages.yaml")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# ----------------------------------------------------------------------------- language table


@dataclass(frozen=True)
class NllbLanguage:
    """One language: its xlt code, FLORES-200 code, and NLLB-200 support (Table 6.1)."""

    code: str  # xlt's code (the data configs' language keys)
    flores: str  # the NLLB code token, e.g. spa_Latn
    name: str = ""
    nllb: bool = True  # supported by NLLB-200 (False: Table 6.1's dagger; needs an adapted model)
    adaptation_source: str | None = None  # xlt code of the parallel corpus's other side (Table D.2)


def language_table(overrides: Mapping[str, Any] | None = None,
                   where: str = "nmt.languages") -> dict[str, NllbLanguage]:
    """The bundled table (``nllb_languages.yaml``) updated by ``overrides`` ({code: {flores, name,
    nllb, adaptation_source}}; a partial entry updates the bundled one, a new code needs ``flores``)."""
    import yaml

    with open(LANGUAGE_TABLE_FILE, encoding="utf-8") as handle:
        entries: dict[str, dict[str, Any]] = {k: dict(v) for k, v in yaml.safe_load(handle).items()}
    for code, entry in (overrides or {}).items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}.{code}: expected a mapping with flores/name/nllb/adaptation_source")
        entries[code] = {**entries.get(code, {}), **entry}
    known = {"flores", "name", "nllb", "adaptation_source"}
    table = {}
    for code, entry in entries.items():
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ConfigError(f"{where}.{code}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")
        if "flores" not in entry:
            raise ConfigError(f"{where}.{code}: missing required key 'flores'")
        check_code(entry["flores"], f"{where}.{code}.flores")
        table[code] = NllbLanguage(code=code, **entry)
    for entry in table.values():
        if entry.adaptation_source is not None and entry.adaptation_source not in table:
            raise ConfigError(f"{where}.{entry.code}.adaptation_source={entry.adaptation_source!r}: not in the table")
    return table


def flores_code(language: str, table: Mapping[str, NllbLanguage] | None = None, where: str = "language") -> str:
    """The FLORES-200 code of xlt language ``language`` (a FLORES code is returned unchanged)."""
    if FLORES_CODE.match(language):
        return language
    table = language_table() if table is None else table
    if language not in table:
        raise ConfigError(f"{where}={language!r}: no FLORES code known (add it under nmt.languages; "
                          f"known: {', '.join(sorted(table))})")
    return table[language].flores


def nllb_supported(language: str, table: Mapping[str, NllbLanguage] | None = None, where: str = "language") -> bool:
    """Whether NLLB-200 translates ``language`` as it is (Table 6.1: no dagger)."""
    table = language_table() if table is None else table
    if language not in table:
        raise ConfigError(f"{where}={language!r}: not in the NLLB language table (known: {', '.join(sorted(table))})")
    return table[language].nllb


def check_code(code: str, where: str) -> str:
    if not isinstance(code, str) or not FLORES_CODE.match(code):
        raise ConfigError(f"{where}={code!r}: not a FLORES-200 code (expected e.g. spa_Latn: ISO 639-3 + script)")
    return code


# ----------------------------------------------------------------------------- codes in a tokenizer


def language_codes(tokenizer: Any) -> dict[str, int]:
    """The language-code tokens of an NLLB tokenizer (added tokens shaped like ``spa_Latn``) and their ids."""
    return {token: index for token, index in tokenizer.get_added_vocab().items() if FLORES_CODE.match(token)}


def code_id(tokenizer: Any, code: str, where: str = "language code") -> int:
    """The token id of language code ``code``; ConfigError if the tokenizer lacks it (an unsupported
    language needs an adapted model, :func:`add_language_code`)."""
    codes = language_codes(tokenizer)
    if code not in codes:
        raise ConfigError(f"{where}={code!r}: not a language code of this NMT tokenizer (a language NLLB does "
                          f"not support needs an adapted model; {len(codes)} codes known)")
    return codes[code]


def add_language_code(model: nn.Module, tokenizer: Any, code: str, init: str = "mean",
                      where: str = "nmt.adaptation") -> int:
    """Add the code token ``code`` to ``tokenizer`` and give it an embedding row in ``model`` (§6.3.3):
    :func:`add_code_token` then :func:`init_code_embedding`. Returns the new token id."""
    check_code(code, f"{where}.code")
    _init_sources(tokenizer, init, code, where)  # a bad init fails before the tokenizer changes
    add_code_token(tokenizer, code, where)
    return init_code_embedding(model, tokenizer, code, init, where)


def add_code_token(tokenizer: Any, code: str, where: str = "nmt.adaptation") -> int:
    """Register ``code`` as an added special token (transformers 5: an extra special token; the
    existing ones are kept); ConfigError if the tokenizer already has it. Returns its id."""
    check_code(code, f"{where}.code")
    if code in tokenizer.get_vocab():
        raise ConfigError(f"{where}.code={code!r}: the tokenizer already has this token (a supported language "
                          "needs no adaptation)")
    tokenizer.add_special_tokens({"extra_special_tokens": [code]}, replace_extra_special_tokens=False)
    return tokenizer.convert_tokens_to_ids(code)


def _init_sources(tokenizer: Any, init: str, code: str, where: str) -> list[int]:
    existing = {token: index for token, index in language_codes(tokenizer).items() if token != code}
    if init == "mean":
        if not existing:
            raise ConfigError(f"{where}.init=mean: the tokenizer has no language codes to average")
        return sorted(existing.values())
    if init.startswith("copy:"):
        related = init.split(":", 1)[1]
        if related == code:
            raise ConfigError(f"{where}.init={init!r}: copy another language's code")
        return [code_id(tokenizer, related, f"{where}.init")]
    raise ConfigError(f"{where}.init={init!r}: expected 'mean' or 'copy:<code>' (e.g. copy:spa_Latn)")


def init_code_embedding(model: nn.Module, tokenizer: Any, code: str, init: str = "mean",
                        where: str = "nmt.adaptation") -> int:
    """Initialise the embedding row of ``code`` (already a token of ``tokenizer``) in ``model``.

    ``init``: ``copy:<code>`` copies an existing code's row (a related language, e.g. ``copy:spa_Latn``
    for the AmericasNLI languages, ``copy:ind_Latn`` for NusaX's), ``mean`` takes the mean of the
    other code rows. The embedding matrix grows only if the code's id has no row yet (NLLB-200's
    spare rows are used first); tied input/output embeddings stay tied; an untied output embedding
    gets the same initialisation from its own rows. Returns the code's id."""
    new_id = code_id(tokenizer, code, f"{where}.code")
    source_ids = _init_sources(tokenizer, init, code, where)
    embeddings = model.get_input_embeddings()
    if new_id >= embeddings.weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # the row is set below
        embeddings = model.get_input_embeddings()
    output = model.get_output_embeddings()
    with torch.no_grad():
        weight = embeddings.weight
        weight[new_id] = weight[source_ids].float().mean(0).to(weight.dtype)
        if output is not None and output.weight is not weight:
            output.weight[new_id] = output.weight[source_ids].float().mean(0).to(output.weight.dtype)
    log.info("language code %s: id %d, embedding rows %d, init %s", code, new_id, embeddings.weight.shape[0], init)
    return new_id


# ----------------------------------------------------------------------------- loading


def load_nmt(name_or_path: str, revision: str | None = None, dtype: str = "float32", device: str | None = None,
             src_lang: str | None = None, tgt_lang: str | None = None, where: str = "nmt") -> tuple[nn.Module, Any]:
    """An encoder-decoder translation model (eval mode) and its tokenizer, by hub id or local path.

    ``src_lang`` / ``tgt_lang`` (FLORES codes) are checked against the tokenizer's codes and set on it
    (inputs become ``[src_lang] tokens </s>``, targets ``[tgt_lang] tokens </s>``)."""
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ConfigError(f"{where}.dtype={dtype!r}: expected one of {sorted(DTYPES)}")
    kwargs = {"revision": revision} if revision else {}
    config = AutoConfig.from_pretrained(name_or_path, **kwargs)
    if not getattr(config, "is_encoder_decoder", False):
        raise ConfigError(f"{where}.name_or_path={name_or_path!r}: {config.model_type} is not an encoder-decoder "
                          "translation model")
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    set_languages(tokenizer, src_lang, tgt_lang, where)
    model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path, dtype=DTYPES[dtype], **kwargs)
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
    return model, tokenizer


def set_languages(tokenizer: Any, src_lang: str | None, tgt_lang: str | None, where: str = "nmt") -> None:
    """Set (and check) the tokenizer's source and target language codes."""
    if src_lang is not None:
        code_id(tokenizer, src_lang, f"{where}.src_lang")
        tokenizer.src_lang = src_lang
    if tgt_lang is not None:
        code_id(tokenizer, tgt_lang, f"{where}.tgt_lang")
        tokenizer.tgt_lang = tgt_lang


def local_model_dir(name_or_path: str, revision: str | None = None) -> Path:
    """A local directory with the model's files: the path itself, or the hub snapshot (downloaded
    unless HF_HUB_OFFLINE, when it must be in the hub cache)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name_or_path, revision=revision))
    except Exception as error:  # the hub raises many types; name the model
        raise ConfigError(f"nmt.name_or_path={name_or_path!r}: not a local directory and not available from the "
                          f"hub ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


def model_content_key(model_dir: str | Path) -> str:
    """Key of a saved model directory's content: small files by content, weight files over 64 MiB by
    size and modification time (xlt.utils.hashing.file_fingerprint; hub snapshot blobs never change)."""
    return stable_hash(file_fingerprint(Path(model_dir)))


# ----------------------------------------------------------------------------- tiny stand-in

TINY_NMT_SIZES: dict[str, Any] = {
    "d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "attention_heads": 2, "ffn_dim": 128,
    "vocab_size": 1000, "max_length": 256, "spare_rows": 0, "init_std": 0.02, "dropout": 0.1, "seed": 0,
}
TINY_NMT_VERSION = 1


def _corpus_lines(corpora: Sequence[Path]) -> Iterator[str]:
    for path in corpora:
        with open(path, encoding="utf-8") as handle:
            yield from (line.strip() for line in handle if line.strip())


def _train_nllb_tokenizer(corpora: Sequence[Path], codes: Sequence[str], vocab_size: int, max_length: int,
                          alphabet: Sequence[str] = ()) -> Any:
    """An NllbTokenizer over a BPE vocabulary trained on ``corpora`` (Metaspace like NLLB's
    SentencePiece model), with ``codes`` as extra special tokens (never assume their ids) and the characters of
    ``alphabet`` in the vocabulary even where the corpora lack them."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bpe.train_from_iterator(_corpus_lines(corpora), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], initial_alphabet=list(alphabet)))
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    return NllbTokenizer(vocab=state["vocab"], merges=merges, extra_special_tokens=list(codes), src_lang=codes[0],
                         model_max_length=max_length)


def build_tiny_nmt(corpora: Sequence[str | Path], language_codes: Sequence[str], cache_dir: str | Path,
                   sizes: Mapping[str, Any] | None = None, alphabet: Sequence[str] = ()) -> Path:
    """Directory of a tiny random NLLB-shaped model + tokenizer (built once, then cached).

    ``sizes`` override :data:`TINY_NMT_SIZES` (``spare_rows``: embedding rows beyond the tokenizer,
    as NLLB-200 has; ``init_std``: the random weights' scale); ``alphabet``: characters the vocabulary gets
    even where the corpora lack them (NLLB's covers its script's letters). The cache key hashes the sizes, the
    codes (in order: they decide the ids) and the corpora's content; the directory is written to a
    temporary name and renamed, with a ``DONE`` marker, under a file lock."""
    sizes = {**TINY_NMT_SIZES, **(sizes or {})}
    unknown = sorted(set(sizes) - set(TINY_NMT_SIZES))
    if unknown:
        raise ConfigError(f"nmt.tiny: unknown key(s) {unknown} (known: {sorted(TINY_NMT_SIZES)})")
    codes = [check_code(code, "nmt.tiny.language_codes") for code in language_codes]
    if not codes or len(set(codes)) != len(codes):
        raise ConfigError(f"nmt.tiny.language_codes={codes}: give at least one code, each once")
    paths = [Path(p) for p in corpora]
    missing = [str(p) for p in paths if not p.is_file()]
    if not paths or missing:
        raise DataError(f"tiny NMT corpora: file(s) not found: {missing or 'none given'}")
    identity = {"sizes": sizes, "codes": codes, "version": TINY_NMT_VERSION,
                "corpora": [file_fingerprint(p) for p in paths]}
    if alphabet:  # only then: the keys of models built without one stay as they were
        identity["alphabet"] = sorted(set(alphabet))
    key = stable_hash(identity)
    target = Path(cache_dir) / "models" / f"tiny-nllb-{key}"

    def build(directory: Path) -> None:
        from transformers import M2M100Config, M2M100ForConditionalGeneration

        tokenizer = _train_nllb_tokenizer(paths, codes, sizes["vocab_size"], sizes["max_length"],
                                          sorted(set(alphabet)))
        heads, ffn = sizes["attention_heads"], sizes["ffn_dim"]
        config = M2M100Config(
            vocab_size=len(tokenizer) + sizes["spare_rows"], d_model=sizes["d_model"],
            encoder_layers=sizes["encoder_layers"], decoder_layers=sizes["decoder_layers"],
            encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn,
            max_position_embeddings=sizes["max_length"], init_std=sizes["init_std"], dropout=sizes["dropout"],
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
            encoder_layerdrop=0.0, decoder_layerdrop=0.0, scale_embedding=True, tie_word_embeddings=True)
        torch.manual_seed(sizes["seed"])
        M2M100ForConditionalGeneration(config).save_pretrained(directory)
        tokenizer.save_pretrained(directory)

    return build_once(target, build, "tiny random NLLB-shaped model built by xlt")


def table_codes(table: Mapping[str, NllbLanguage] | None = None) -> list[str]:
    """The FLORES codes an NLLB-200 tokenizer has for the table's languages: those of every supported
    language (Table 6.1 without a dagger), each once, sorted (an unsupported language's code exists only
    in a model adapted to it)."""
    table = language_table() if table is None else table
    return sorted({entry.flores for entry in table.values() if entry.nllb})


def build_tiny_nmt_from_table(corpora: Sequence[str | Path], cache_dir: str | Path,
                              sizes: Mapping[str, Any] | None = None,
                              table: Mapping[str, NllbLanguage] | None = None) -> Path:
    """:func:`build_tiny_nmt` with the codes of :func:`table_codes`: the stand-in the smoke profile
    translates with (``model.architecture: m2m_100`` with a ``tiny`` block, or ``nmt.tiny``)."""
    return build_tiny_nmt(corpora, table_codes(table), cache_dir, sizes)
