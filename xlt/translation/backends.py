"""Translation backends with one interface: transformers ``generate`` and CTranslate2 (thesis §6.4.2).

Both translate a list of texts from one FLORES code into another, in batches of
``GenerationSettings.batch_size`` in the order given (the engine, xlt.translation.engine, sorts by
length): inputs are ``[src code] tokens </s>``, decoding starts with ``</s>`` and the target code is
forced as the first generated token (NLLB's forced BOS), and special tokens are stripped from the
output. :class:`CTranslate2Translator` converts the transformers model directory once into a cached
CTranslate2 directory keyed by the model's content. With the same settings both give the same greedy
output (tests/test_translation.py checks it on the tiny model).
"""

from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xlt.errors import ConfigError
from xlt.models.nmt import code_id, load_nmt, local_model_dir, model_content_key
from xlt.utils.cached_dir import build_once
from xlt.utils.hashing import stable_hash

log = logging.getLogger(__name__)

CT2_FORMAT_VERSION = 1  # bump when the conversion below changes (it keys the cached directories)


@dataclass
class GenerationSettings:
    """Decoding settings (the ``nmt.generation`` config values).

    Defaults are the reference translate-train script's (unified-xlt; notes/reference-code-ch5-ch6.md):
    greedy decoding (``num_beams: 1``), ``max_length: 128`` and batches of 32 segments. ``max_length``
    counts the whole decoder sequence as transformers does (the start token ``</s>``, the target code,
    the text and the final ``</s>``); ``max_new_tokens``, when set, replaces it and counts the tokens
    generated after the start token (the code included). Inputs longer than ``max_input_length``
    tokens (codes included) are truncated; the engine reports how many were.
    """

    num_beams: int = 1
    max_length: int | None = 128
    max_new_tokens: int | None = None
    max_input_length: int = 256
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:  # xlt.config.parse turns this into a ConfigError naming the section
            raise ValueError(problem)

    def problem(self) -> str | None:
        """What is wrong with the settings (``key=value: why``), or None."""
        for name in ("num_beams", "batch_size", "max_input_length"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                return f"{name}={getattr(self, name)!r}: must be an integer >= 1"
        if self.max_new_tokens is None and self.max_length is None:
            return "max_length=None: set max_length or max_new_tokens"
        if self.max_new_tokens is not None and self.max_new_tokens < 2:
            return f"max_new_tokens={self.max_new_tokens}: must be >= 2 (the code and a token)"
        if self.max_new_tokens is None and self.max_length is not None and self.max_length < 3:
            return f"max_length={self.max_length}: must be >= 3 (</s>, the code and a token)"
        if self.no_repeat_ngram_size < 0:
            return f"no_repeat_ngram_size={self.no_repeat_ngram_size}: must be >= 0"
        return None

    def validate(self, where: str = "nmt.generation") -> None:
        problem = self.problem()
        if problem:
            raise ConfigError(f"{where}.{problem}")

    @property
    def decoding_steps(self) -> int:
        """Tokens generated after the decoder start token, the forced code included."""
        return self.max_new_tokens if self.max_new_tokens is not None else int(self.max_length) - 1  # type: ignore[arg-type]

    def key(self) -> dict[str, Any]:
        """What decides the translations (for artifact keys): every field but ``batch_size``."""
        values = dataclasses.asdict(self)
        values.pop("batch_size")
        values["decoding_steps"] = self.decoding_steps
        values.pop("max_length"), values.pop("max_new_tokens")
        return values


class Translator(ABC):
    """Translates texts between FLORES codes (NLLB's special tokens) in batches, in the given order."""

    backend: str = ""

    def __init__(self, tokenizer: Any, settings: GenerationSettings | None):
        self.tokenizer = tokenizer
        self.settings = settings or GenerationSettings()

    def token_lengths(self, texts: Sequence[str], block: int = 10_000) -> list[int]:
        """Input lengths in tokens (codes and ``</s>`` included), before truncation; tokenised in
        blocks, so that only the lengths of a large dataset are held at once."""
        lengths: list[int] = []
        for start in range(0, len(texts), block):
            encoded = self.tokenizer(list(texts[start:start + block]), add_special_tokens=True)["input_ids"]
            lengths.extend(len(ids) for ids in encoded)
        return lengths

    def translate(self, texts: Sequence[str], src_code: str, tgt_code: str) -> list[str]:
        """Translations of ``texts`` (one per text, same order)."""
        code_id(self.tokenizer, src_code, "source language code")
        target_id = code_id(self.tokenizer, tgt_code, "target language code")
        self.tokenizer.src_lang = src_code
        size = self.settings.batch_size
        outputs: list[str] = []
        for start in range(0, len(texts), size):
            batch = list(texts[start:start + size])
            translated = self._translate_batch(batch, tgt_code, target_id)
            if len(translated) != len(batch):
                raise RuntimeError(f"{self.backend}: {len(translated)} translations for {len(batch)} inputs")
            outputs.extend(translated)
        return outputs

    def _encode(self, batch: list[str]) -> list[list[int]]:
        return self.tokenizer(batch, add_special_tokens=True, truncation=True,
                              max_length=self.settings.max_input_length)["input_ids"]

    @abstractmethod
    def _translate_batch(self, batch: list[str], tgt_code: str, target_id: int) -> list[str]:
        """One batch (the tokenizer's ``src_lang`` is already set)."""

    def identity(self) -> dict[str, Any]:
        """Backend and decoding settings (the model's identity is the caller's)."""
        return {"backend": self.backend, "generation": self.settings.key()}


class TransformersTranslator(Translator):
    """Batched ``model.generate`` with the target code as forced BOS (greedy or beam search)."""

    backend = "transformers"

    def __init__(self, model: torch.nn.Module, tokenizer: Any, settings: GenerationSettings | None = None):
        super().__init__(tokenizer, settings)
        self.model = model.eval()

    @classmethod
    def load(cls, name_or_path: str, settings: GenerationSettings | None = None, revision: str | None = None,
             dtype: str = "float32", device: str | None = None) -> TransformersTranslator:
        """By hub id or local path (xlt.models.nmt.load_nmt)."""
        model, tokenizer = load_nmt(name_or_path, revision=revision, dtype=dtype, device=device)
        return cls(model, tokenizer, settings)

    def _generation_config(self, target_id: int) -> Any:
        from transformers import GenerationConfig

        base, s = self.model.generation_config, self.settings
        return GenerationConfig(
            decoder_start_token_id=base.decoder_start_token_id, bos_token_id=base.bos_token_id,
            eos_token_id=base.eos_token_id, pad_token_id=base.pad_token_id, forced_bos_token_id=target_id,
            num_beams=s.num_beams, do_sample=False, max_new_tokens=s.decoding_steps,
            length_penalty=s.length_penalty, repetition_penalty=s.repetition_penalty,
            no_repeat_ngram_size=s.no_repeat_ngram_size)

    def _translate_batch(self, batch: list[str], tgt_code: str, target_id: int) -> list[str]:
        encoded = self.tokenizer.pad({"input_ids": self._encode(batch)}, return_tensors="pt")
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            generated = self.model.generate(input_ids=encoded["input_ids"].to(device),
                                            attention_mask=encoded["attention_mask"].to(device),
                                            generation_config=self._generation_config(target_id))
        return self.tokenizer.batch_decode(generated, skip_special_tokens=True)


def convert_to_ctranslate2(model_dir: str | Path, cache_dir: str | Path, quantization: str | None = None) -> Path:
    """The CTranslate2 conversion of a transformers model directory (saved with its tokenizer),
    converted once into ``cache_dir/ctranslate2/ct2-<key>``; the key hashes the model directory's
    content (xlt.models.nmt.model_content_key), the weight ``quantization`` and the converter version."""
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    model_dir = Path(model_dir)
    key = stable_hash({"model": model_content_key(model_dir), "quantization": quantization,
                       "ctranslate2": ctranslate2.__version__, "format": CT2_FORMAT_VERSION})
    target = Path(cache_dir) / "ctranslate2" / f"ct2-{key}"

    def convert(directory: Path) -> None:
        log.info("converting %s to CTranslate2 (%s)", model_dir, quantization or "weights as saved")
        TransformersConverter(str(model_dir)).convert(str(directory), quantization=quantization, force=True)

    return build_once(target, convert, f"converted from {model_dir}")


class CTranslate2Translator(Translator):
    """CTranslate2 ``translate_batch`` with ``target_prefix=[[code]]`` (the forced BOS), on a cached
    conversion of the model. ``compute_type``: CTranslate2's (default, auto, int8, int8_float16,
    float16, bfloat16, float32, ...); ``device``: cpu, cuda or auto."""

    backend = "ctranslate2"

    def __init__(self, name_or_path: str | Path, cache_dir: str | Path, settings: GenerationSettings | None = None,
                 revision: str | None = None, compute_type: str = "default", device: str = "auto",
                 quantization: str | None = None, intra_threads: int = 0, inter_threads: int = 1):
        import ctranslate2
        from transformers import AutoTokenizer

        model_dir = local_model_dir(str(name_or_path), revision)
        super().__init__(AutoTokenizer.from_pretrained(model_dir), settings)
        self.compute_type, self.quantization = compute_type, quantization
        self.model_dir = convert_to_ctranslate2(model_dir, cache_dir, quantization)
        try:
            self.translator = ctranslate2.Translator(str(self.model_dir), device=device, compute_type=compute_type,
                                                     intra_threads=intra_threads, inter_threads=inter_threads)
        except ValueError as error:
            raise ConfigError(f"nmt.ctranslate2: {error}") from None

    def _translate_batch(self, batch: list[str], tgt_code: str, target_id: int) -> list[str]:
        s = self.settings
        sources = [self.tokenizer.convert_ids_to_tokens(ids) for ids in self._encode(batch)]
        results = self.translator.translate_batch(
            sources, target_prefix=[[tgt_code]] * len(sources), beam_size=s.num_beams,
            max_decoding_length=s.decoding_steps, length_penalty=s.length_penalty,
            repetition_penalty=s.repetition_penalty, no_repeat_ngram_size=s.no_repeat_ngram_size,
            max_input_length=0, max_batch_size=0)
        hypotheses = [self.tokenizer.convert_tokens_to_ids(result.hypotheses[0]) for result in results]
        return self.tokenizer.batch_decode(hypotheses, skip_special_tokens=True)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "compute_type": self.compute_type, "quantization": self.quantization}
