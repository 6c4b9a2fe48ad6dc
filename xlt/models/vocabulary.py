"""Vocabulary reduction for bilingual students (thesis §5.3.2, "Vocabulary Reduction").

A bilingual student keeps only the teacher tokens that matter for its two languages: token v is
kept when max(p_src(v), p_tgt(v)) >= threshold (1e-6 in the thesis), where p_lang is v's unigram
probability in that language's corpus tokenised by the teacher's tokenizer without special tokens.
Special and added tokens (and the token ids the model config names) are always kept.

The result is a :class:`VocabularyReduction`: the kept old ids in ascending order, so the new id
of ``kept_ids[i]`` is ``i``. The same reduction then slices

* the model (:func:`trim_model`): input embeddings, MLM decoder weight and bias, ``config.vocab_size``
  and the config's token ids, keeping tied parameters tied;
* the fast tokenizer (:func:`trim_tokenizer`): WordPiece (mBERT), SentencePiece-Unigram (XLM-R) and
  DeBERTa-v2 (mDeBERTa) vocabularies, added tokens, post-processor, unk id and padding id, so that
  ``save_pretrained``/``from_pretrained`` round-trips (the reference code writes old ids in its
  WordPiece branch and never remaps the post-processor or the unk id);
* sparse fine-tunings of the teacher (:func:`trim_sft`): rows of dropped tokens are removed from
  vocabulary-indexed diffs and dense tensors, kept rows re-indexed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlt.errors import ArtifactError, ConfigError, DataError
from xlt.utils.hashing import stable_hash

DEFAULT_THRESHOLD = 1e-6  # §5.3.2
FORMAT = "xlt-vocabulary-reduction"
# config attributes that hold token ids (remapped by trim_model)
CONFIG_TOKEN_ID_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                        "mask_token_id", "unk_token_id", "decoder_start_token_id")
# tokenizer files that hold the untrimmed vocabulary in another format: never copied beside a trimmed one
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "chat_template.json")


# --------------------------------------------------------------------------------------------- the reduction
@dataclass(frozen=True)
class VocabularyReduction:
    """Which teacher token ids a trimmed vocabulary keeps: new id ``i`` is old id ``kept_ids[i]``.

    ``old_size`` is the number of rows of the teacher's vocabulary matrices (``config.vocab_size``,
    which may exceed the tokenizer's length, as for mDeBERTa).
    """

    kept_ids: tuple[int, ...]
    old_size: int
    threshold: float | None = None
    counted_tokens: dict[str, int] = field(default_factory=dict)  # corpus name -> tokens counted

    def __post_init__(self) -> None:
        ids = self.kept_ids
        if not ids:
            raise ArtifactError("vocabulary reduction keeps no tokens")
        if any(b <= a for a, b in zip(ids, ids[1:])):
            raise ArtifactError("vocabulary reduction: kept ids must be strictly increasing")
        if ids[0] < 0 or ids[-1] >= self.old_size:
            raise ArtifactError(f"vocabulary reduction: kept ids must lie in [0, {self.old_size})")

    @property
    def new_size(self) -> int:
        return len(self.kept_ids)

    def index(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The kept old ids as a long tensor (for ``index_select`` on vocabulary rows)."""
        return torch.tensor(self.kept_ids, dtype=torch.long, device=device)

    def old_to_new(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Long tensor of ``old_size`` entries: the new id of each old id, -1 where dropped."""
        mapping = torch.full((self.old_size,), -1, dtype=torch.long, device=device)
        mapping[self.index(device)] = torch.arange(self.new_size, device=device)
        return mapping

    def new_id(self, old_id: int) -> int | None:
        """New id of ``old_id``, or None if it was dropped."""
        from bisect import bisect_left

        position = bisect_left(self.kept_ids, old_id)
        return position if position < self.new_size and self.kept_ids[position] == old_id else None

    def remap_ids(self, ids: torch.Tensor, unk_id: int | None = None) -> torch.Tensor:
        """Old ids -> new ids; dropped ids become ``unk_id`` (the NEW unk id) or raise if None."""
        mapped = self.old_to_new(ids.device)[ids]
        dropped = mapped < 0
        if bool(dropped.any()):
            if unk_id is None:
                raise ArtifactError(f"{int(dropped.sum())} token ids were dropped by the vocabulary reduction")
            mapped = mapped.masked_fill(dropped, unk_id)
        return mapped

    def fingerprint(self) -> str:
        """Hash of (old size, kept ids): identifies the trimmed vocabulary in artifact keys."""
        return stable_hash({"old_size": self.old_size, "kept": list(self.kept_ids)})

    def summary(self) -> dict[str, Any]:
        """#V before and after (Table 5.2) plus how the selection was made."""
        return {"vocab_before": self.old_size, "vocab_after": self.new_size, "threshold": self.threshold,
                "counted_tokens": dict(self.counted_tokens), "fingerprint": self.fingerprint()}

    def save(self, path: str | Path) -> None:
        """Write as JSON (atomically)."""
        path = Path(path)
        payload = {"format": FORMAT, "old_size": self.old_size, "threshold": self.threshold,
                   "counted_tokens": self.counted_tokens, "kept_ids": list(self.kept_ids)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> VocabularyReduction:
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{path}: not a readable vocabulary reduction ({error})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ArtifactError(f"{path}: not a vocabulary reduction (format {FORMAT!r} expected)")
        try:
            return cls(tuple(int(i) for i in payload["kept_ids"]), int(payload["old_size"]),
                       payload.get("threshold"), dict(payload.get("counted_tokens") or {}))
        except (KeyError, TypeError, ValueError) as error:
            raise ArtifactError(f"{path}: malformed vocabulary reduction ({error})") from None


# --------------------------------------------------------------------------------------------- selection
def _lines(corpus: Iterable[str] | str | Path) -> Iterator[str]:
    """Non-empty stripped lines of a corpus (a file path or any iterable of strings), streamed."""
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        if not path.is_file():
            raise DataError(f"{path}: corpus file not found")
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line.strip()
        return
    for line in corpus:
        if line.strip():
            yield line.strip()


def unigram_counts(tokenizer: Any, corpus: Iterable[str] | str | Path, batch_lines: int = 1000) -> torch.Tensor:
    """How often each token id of ``tokenizer`` occurs in ``corpus`` (no special tokens).

    The corpus is streamed ``batch_lines`` lines at a time, so only the counts stay in memory.
    Returns an int64 tensor of ``len(tokenizer)`` entries.
    """
    size = len(tokenizer)
    counts = torch.zeros(size, dtype=torch.long)
    lines = _lines(corpus)
    while chunk := list(islice(lines, batch_lines)):
        encoded = tokenizer(chunk, add_special_tokens=False)["input_ids"]
        flat = torch.tensor(list(chain.from_iterable(encoded)), dtype=torch.long)
        if flat.numel():
            counts += torch.bincount(flat, minlength=size)[:size]
    return counts


def unigram_probabilities(tokenizer: Any, corpus: Iterable[str] | str | Path, where: str = "corpus",
                          batch_lines: int = 1000) -> tuple[torch.Tensor, int]:
    """(p(v) for every token id as float64, number of tokens counted); DataError for an empty corpus."""
    counts = unigram_counts(tokenizer, corpus, batch_lines)
    total = int(counts.sum())
    if total == 0:
        raise DataError(f"{where}: the corpus has no tokens")
    return counts.double() / total, total


def always_kept_ids(tokenizer: Any, config: Any | None = None) -> set[int]:
    """Special tokens, added tokens and (with a model config) the token ids the config names."""
    ids = {int(i) for i in tokenizer.all_special_ids}
    ids |= {int(i) for i in getattr(tokenizer, "added_tokens_decoder", {})}
    if config is not None:
        for key in CONFIG_TOKEN_ID_KEYS:
            value = getattr(config, key, None)
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, (list, tuple)):
                ids |= {int(v) for v in value}
    return ids


def select_vocabulary(tokenizer: Any, source_corpus: Iterable[str] | str | Path,
                      target_corpus: Iterable[str] | str | Path, threshold: float = DEFAULT_THRESHOLD,
                      vocab_size: int | None = None, config: Any | None = None,
                      keep_ids: Iterable[int] = (), batch_lines: int = 1000,
                      where: str = "vocabulary") -> VocabularyReduction:
    """Keep v when max(p_src(v), p_tgt(v)) >= ``threshold`` (§5.3.2), plus :func:`always_kept_ids`.

    ``vocab_size``: rows of the teacher's vocabulary matrices (default ``config.vocab_size`` if a
    config is given, else ``len(tokenizer)``). ``where`` names the config section in errors.
    """
    if not 0 <= threshold <= 1:
        raise ConfigError(f"{where}.threshold={threshold}: must lie in [0, 1]")
    p_source, n_source = unigram_probabilities(tokenizer, source_corpus, f"{where}: source corpus", batch_lines)
    p_target, n_target = unigram_probabilities(tokenizer, target_corpus, f"{where}: target corpus", batch_lines)
    keep = torch.maximum(p_source, p_target) >= threshold
    kept = {int(i) for i in torch.nonzero(keep).flatten()}
    kept |= always_kept_ids(tokenizer, config)
    kept |= {int(i) for i in keep_ids}
    rows = vocab_size if vocab_size is not None else (config.vocab_size if config is not None else len(tokenizer))
    if rows < len(tokenizer):
        raise ConfigError(f"{where}: the model has {rows} vocabulary rows but the tokenizer {len(tokenizer)} tokens")
    return VocabularyReduction(tuple(sorted(kept)), int(rows), threshold, {"source": n_source, "target": n_target})


# --------------------------------------------------------------------------------------------- the model
def _layer_stack_parameter_ids(model: nn.Module) -> set[int]:
    from xlt.models.student import find_layer_stack

    try:
        _, stack = find_layer_stack(model)
    except ConfigError:
        return set()
    return {id(p) for p in stack.parameters()}


def vocabulary_parameters(model: nn.Module, vocab_size: int | None = None) -> dict[str, nn.Parameter]:
    """Parameters whose rows are indexed by token id, by every name they have in ``model``.

    The input embedding matrix, the output embedding (MLM decoder) weight and bias when they are
    vocabulary-sized, and every other 1-D vocabulary-sized parameter outside the Transformer layers
    (the MLM biases, e.g. ``cls.predictions.bias``, ``lm_head.bias``). Tied aliases all appear.
    """
    embeddings = model.get_input_embeddings()  # type: ignore[operator]
    rows = vocab_size if vocab_size is not None else embeddings.weight.shape[0]
    if embeddings.weight.shape[0] != rows:
        raise ArtifactError(f"the model's input embeddings have {embeddings.weight.shape[0]} rows, expected {rows}")
    chosen = {id(embeddings.weight)}
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None:
        for param in (getattr(output, "weight", None), getattr(output, "bias", None)):
            if isinstance(param, nn.Parameter) and param.shape[0] == rows:
                chosen.add(id(param))
    in_layers = _layer_stack_parameter_ids(model)
    for param in model.parameters():
        if param.dim() == 1 and param.shape[0] == rows and id(param) not in in_layers:
            chosen.add(id(param))
    return {name: param for name, param in model.named_parameters(remove_duplicate=False) if id(param) in chosen}


def parameter_count(model: nn.Module) -> int:
    """#P: parameters of ``model``, tied ones counted once (Table 5.2)."""
    return sum(p.numel() for p in model.parameters())


def trim_model(model: nn.Module, reduction: VocabularyReduction) -> dict[str, int]:
    """Slice ``model``'s vocabulary rows to ``reduction.kept_ids`` in place (§5.3.2).

    Every vocabulary parameter (see :func:`vocabulary_parameters`) is replaced by a new Parameter
    holding the kept rows; all of its aliases point to the same new Parameter, so tied weights stay
    tied. Updates ``nn.Embedding.num_embeddings``/``padding_idx``, ``nn.Linear.out_features``,
    ``config.vocab_size`` and the config's token ids. Returns #V and #P before and after.
    """
    config = getattr(model, "config", None)
    parameters_before = parameter_count(model)
    named = vocabulary_parameters(model, reduction.old_size)
    config_ids: dict[str, int] = {}
    for key in CONFIG_TOKEN_ID_KEYS:
        value = getattr(config, key, None) if config is not None else None
        if isinstance(value, int):
            new = reduction.new_id(value)
            if new is None:
                raise ArtifactError(f"config.{key}={value} is dropped by the vocabulary reduction")
            config_ids[key] = new
    replacements: dict[int, nn.Parameter] = {}
    with torch.no_grad():
        for param in named.values():
            if id(param) not in replacements:
                rows = param.data.index_select(0, reduction.index(param.device)).clone()
                replacements[id(param)] = nn.Parameter(rows, requires_grad=param.requires_grad)
    pad_old = getattr(config, "pad_token_id", None) if config is not None else None
    for module in model.modules():
        for attr, param in list(module._parameters.items()):
            if param is not None and id(param) in replacements:
                module._parameters[attr] = replacements[id(param)]
                if isinstance(module, nn.Embedding) and attr == "weight":
                    module.num_embeddings = reduction.new_size
                    if module.padding_idx is not None:
                        new = reduction.new_id(module.padding_idx)
                        if new is None:
                            raise ArtifactError(f"the embedding's padding_idx {module.padding_idx} is dropped")
                        module.padding_idx = new
                elif isinstance(module, nn.Linear) and attr == "weight":
                    module.out_features = reduction.new_size
    if isinstance(pad_old, int) and config_ids.get("pad_token_id", pad_old) != pad_old:
        # e.g. XLM-R's embeddings use the pad id as the position offset too: a new pad id would shift positions
        for name, module in model.named_modules():
            if not isinstance(module, nn.Embedding) and getattr(module, "padding_idx", None) == pad_old:
                raise ArtifactError(f"the pad token id would change from {pad_old} to {config_ids['pad_token_id']}, "
                                    f"but {name or 'the model'} also uses it as a position offset")
    if config is not None:
        config.vocab_size = reduction.new_size
        for key, value in config_ids.items():
            setattr(config, key, value)
    return {"vocab_before": reduction.old_size, "vocab_after": reduction.new_size,
            "parameters_before": parameters_before, "parameters_after": parameter_count(model)}


# --------------------------------------------------------------------------------------------- the tokenizer
def _remap(old_id: int, reduction: VocabularyReduction, what: str) -> int:
    new = reduction.new_id(int(old_id))
    if new is None:
        raise ArtifactError(f"tokenizer: {what} (id {old_id}) is dropped by the vocabulary reduction")
    return new


def _remap_post_processor(processor: dict[str, Any] | None, reduction: VocabularyReduction) -> None:
    if processor is None:
        return
    kind = processor.get("type")
    if kind == "TemplateProcessing":
        for name, entry in processor.get("special_tokens", {}).items():
            entry["ids"] = [_remap(i, reduction, f"post-processor token {name!r}") for i in entry["ids"]]
    elif kind in ("RobertaProcessing", "BertProcessing"):
        for key in ("sep", "cls"):
            token, old = processor[key]
            processor[key] = [token, _remap(old, reduction, f"post-processor token {token!r}")]
    elif kind == "Sequence":
        for inner in processor.get("processors", []):
            _remap_post_processor(inner, reduction)
    elif kind != "ByteLevel":
        raise ConfigError(f"tokenizer: cannot trim a tokenizer with a {kind!r} post-processor")


def remap_tokenizer_json(data: dict[str, Any], reduction: VocabularyReduction) -> dict[str, Any]:
    """A tokenizers ``tokenizer.json`` (as a dict) with the vocabulary trimmed and every id remapped:
    the model's vocabulary (WordPiece dict / Unigram list with scores) and unk id, the added tokens,
    the post-processor's special-token ids and the padding id. BPE and other models are refused
    (dropping rarely produced intermediate BPE tokens would break the merges)."""
    data = json.loads(json.dumps(data))  # deep copy
    model = data["model"]
    kind = model.get("type")
    if kind == "WordPiece":
        vocab: dict[str, int] = model["vocab"]
        by_id = {i: token for token, i in vocab.items()}
        model["vocab"] = {by_id[old]: new for new, old in enumerate(reduction.kept_ids) if old in by_id}
        if model.get("unk_token") not in model["vocab"]:
            raise ArtifactError(f"tokenizer: the unk token {model.get('unk_token')!r} is dropped")
    elif kind == "Unigram":
        pieces = model["vocab"]
        model["vocab"] = [pieces[old] for old in reduction.kept_ids if old < len(pieces)]
        if model.get("unk_id") is not None:
            model["unk_id"] = _remap(model["unk_id"], reduction, "the unk token")
    else:
        raise ConfigError(f"tokenizer: vocabulary reduction supports WordPiece and Unigram tokenizers, not {kind!r}")
    added = []
    for token in data.get("added_tokens", []):
        new = reduction.new_id(int(token["id"]))
        if new is not None:
            added.append({**token, "id": new})
    data["added_tokens"] = added
    _remap_post_processor(data.get("post_processor"), reduction)
    if data.get("padding") and data["padding"].get("pad_id") is not None:
        data["padding"]["pad_id"] = _remap(data["padding"]["pad_id"], reduction, "the padding token")
    return data


def _remap_tokenizer_config(data: dict[str, Any], reduction: VocabularyReduction) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("added_tokens_decoder"), dict):
        data["added_tokens_decoder"] = {
            str(new): entry for old, entry in data["added_tokens_decoder"].items()
            if (new := reduction.new_id(int(old))) is not None}
    if isinstance(data.get("unk_id"), int):
        data["unk_id"] = _remap(data["unk_id"], reduction, "tokenizer_config unk_id")
    return data


def trim_tokenizer(tokenizer: Any, reduction: VocabularyReduction) -> Any:
    """A new fast tokenizer with ``reduction``'s vocabulary: new id i is the teacher's token
    ``kept_ids[i]``; pieces outside it become the unk token.

    Built the way it will later be loaded: the teacher tokenizer is saved, its ``tokenizer.json``
    and ``tokenizer_config.json`` are rewritten (:func:`remap_tokenizer_json`), every other
    vocabulary file (e.g. the untrimmed sentencepiece model) is left behind, and the result is
    loaded with ``AutoTokenizer.from_pretrained``. It is then checked token by token.
    """
    from transformers import AutoTokenizer

    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("tokenizer: vocabulary reduction needs a fast (tokenizers-backed) tokenizer")
    if reduction.kept_ids[-1] >= len(tokenizer):
        raise ArtifactError(f"tokenizer: the reduction keeps id {reduction.kept_ids[-1]} but the tokenizer has "
                            f"{len(tokenizer)} tokens")
    old_tokens = tokenizer.convert_ids_to_tokens(list(reduction.kept_ids))
    with tempfile.TemporaryDirectory(prefix="xlt-trim-") as tmp:
        source, target = Path(tmp) / "teacher", Path(tmp) / "trimmed"
        tokenizer.save_pretrained(source)
        target.mkdir()
        tokenizer_json = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
        (target / "tokenizer.json").write_text(json.dumps(remap_tokenizer_json(tokenizer_json, reduction),
                                                          ensure_ascii=False), encoding="utf-8")
        config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
        (target / "tokenizer_config.json").write_text(json.dumps(_remap_tokenizer_config(config, reduction),
                                                                 ensure_ascii=False, indent=2), encoding="utf-8")
        for name in TOKENIZER_FILES[2:]:
            if (source / name).is_file():
                shutil.copy(source / name, target / name)
        trimmed = AutoTokenizer.from_pretrained(str(target))
        trimmed.name_or_path = f"{tokenizer.name_or_path} (trimmed to {reduction.new_size} tokens)"
    _check_trimmed_tokenizer(tokenizer, trimmed, reduction, old_tokens)
    return trimmed


def _check_trimmed_tokenizer(teacher: Any, trimmed: Any, reduction: VocabularyReduction,
                             old_tokens: list[str]) -> None:
    if len(trimmed) != reduction.new_size:
        raise ArtifactError(f"tokenizer: the trimmed tokenizer has {len(trimmed)} tokens, "
                            f"expected {reduction.new_size}")
    new_tokens = trimmed.convert_ids_to_tokens(list(range(reduction.new_size)))
    if new_tokens != old_tokens:
        wrong = next(i for i, (a, b) in enumerate(zip(new_tokens, old_tokens)) if a != b)
        raise ArtifactError(f"tokenizer: trimmed id {wrong} is {new_tokens[wrong]!r}, expected {old_tokens[wrong]!r}")
    for name, old_id in zip(teacher.all_special_tokens, teacher.all_special_ids):
        if trimmed.convert_tokens_to_ids(name) != reduction.new_id(old_id):
            raise ArtifactError(f"tokenizer: special token {name!r} lost its id in the trimmed tokenizer")
