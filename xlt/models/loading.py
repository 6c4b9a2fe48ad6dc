"""Loading base models and tokenizers by hub name or local path (one code path).

A model config names a hub id or a local directory (``name_or_path``). With
``name_or_path: null`` and a ``tiny`` block, a small random model of the same architecture is
built once (with a tokenizer trained locally on the bundled corpora), saved to the cache and
then loaded through exactly the same ``from_pretrained`` path: this is what the offline smoke
profile and the tests use.

Artifact keys name a model by what determines its weights (:meth:`ModelConfig.identity`): a hub model
by id and revision, a local directory by a fingerprint of the files ``from_pretrained`` reads (weights,
configs, tokenizer files), so a checkpoint overwritten at the same path gets new keys and its stages
are rebuilt. Content hashes are kept in a sidecar file in the cache (``paths.cache``), keyed by each file's
size, mtime, ctime and inode: a 13 GB checkpoint is hashed once, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlt.errors import ConfigError
from xlt.utils.hashing import stable_hash, tensors_hash

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ModelConfig:
    """``model`` config group: which base model, and how to build its tiny stand-in."""

    name_or_path: str | None = None
    revision: str | None = None
    architecture: str | None = None  # transformers model_type (xlm-roberta, bert, llama, ...)
    num_parameters: int | None = None  # body parameters of the real model (scales absolute budgets)
    lora_params_per_rank: int | None = None  # LoRA parameters per rank on the real model's block linears
    tiny: dict[str, Any] | None = None  # build a random model of ``architecture`` with these sizes
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)  # passed to from_pretrained

    @property
    def is_tiny(self) -> bool:
        return self.name_or_path is None

    def identity(self, cache_dir: str | Path | None = None) -> dict[str, Any]:
        """What determines the weights (used in artifact keys): a tiny model's recipe, a hub model's id and
        revision, a local directory's file fingerprint (:func:`local_model_fingerprint`; its content hashes
        are kept under ``cache_dir``)."""
        if self.is_tiny:
            return {"architecture": self.architecture, "tiny": self.tiny}
        if is_local_model(self.name_or_path):
            return {"local_files": local_model_fingerprint(self.name_or_path, cache_dir)}
        return {"name_or_path": self.name_or_path, "revision": self.revision}

    def validate(self, where: str = "model") -> None:
        if self.name_or_path is None and not self.tiny:
            raise ConfigError(f"{where}: set name_or_path (hub id or local path) or a tiny block")
        if self.tiny and not self.architecture:
            raise ConfigError(f"{where}.architecture is required to build a tiny model")
        if self.dtype not in DTYPES:
            raise ConfigError(f"{where}.dtype={self.dtype!r}: expected one of {sorted(DTYPES)}")


# ---------------------------------------------------------------------------- local model fingerprints
# The files from_pretrained reads: weights (and their shard indexes), configs, tokenizer files, custom code.
MODEL_FILE_SUFFIXES = frozenset({".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".json", ".txt",
                                 ".model", ".spm", ".tiktoken", ".jinja", ".py"})
_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], str] = {}


def is_local_model(name_or_path: str | None) -> bool:
    """A local directory (loaded from disk) rather than a hub id."""
    return name_or_path is not None and Path(name_or_path).expanduser().is_dir()


# What xlt writes beside a model it built (an artifact's stage record: when, how long; its metrics: losses and
# timings): records of the build, not the model. A rebuild of the same weights keeps its fingerprint, and so do
# the keys of everything built on it.
BUILD_RECORDS = frozenset({"stage.json", "metrics.json"})


def model_files(directory: Path) -> list[Path]:
    """The files of a local model directory that make up the model (top level, not hidden, not a build record)."""
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix in MODEL_FILE_SUFFIXES
                  and p.name not in BUILD_RECORDS)


def _stat_key(stat: os.stat_result) -> tuple[int, ...]:
    """Changes whenever the file's content can have changed: rewriting a file updates its mtime and ctime (the
    ctime cannot be set back, so even an overwrite that restores size and mtime is seen), replacing it its inode."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(16 * 2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_model_fingerprint(path: str | Path, cache_dir: str | Path | None = None) -> str:
    """Fingerprint of a local model directory: a hash of the names and content hashes of its model files
    (:func:`model_files`). Each file's content hash is reused while its (size, mtime, ctime, inode) is
    unchanged: from this process's memory, else from the sidecar ``<cache_dir>/model-fingerprints/<path
    hash>.json`` (shared by the jobs of a sweep); only new or changed files are read. A checkpoint moved or
    copied elsewhere keeps its fingerprint (and its artifacts)."""
    directory = Path(path).expanduser().resolve()
    files = model_files(directory)
    if not files:
        raise ConfigError(f"model.name_or_path={str(path)!r}: a local directory without model files "
                          f"(weights, config.json, tokenizer files)")
    stats = tuple((file.name, _stat_key(file.stat())) for file in files)
    memo_key = (str(directory), stats)
    if memo_key in _FINGERPRINTS:
        return _FINGERPRINTS[memo_key]
    sidecar = Path(cache_dir) / "model-fingerprints" / f"{stable_hash(str(directory))}.json" if cache_dir else None
    known: dict[str, Any] = {}
    if sidecar is not None and sidecar.is_file():
        try:
            known = json.loads(sidecar.read_text()).get("files", {})
        except (OSError, json.JSONDecodeError, AttributeError):
            known = {}  # a damaged sidecar is only a cache: hash again
    hashes: dict[str, dict[str, Any]] = {}
    for file, (name, key) in zip(files, stats):
        entry = known.get(name)
        if isinstance(entry, Mapping) and entry.get("stat") == list(key) and isinstance(entry.get("hash"), str):
            hashes[name] = dict(entry)
        else:
            log.info("hashing %s (model fingerprint)", file)
            hashes[name] = {"stat": list(key), "hash": _content_hash(file)}
    if sidecar is not None and hashes != known:
        try:
            sidecar.parent.mkdir(parents=True, exist_ok=True)
            tmp = sidecar.with_name(f"{sidecar.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"path": str(directory), "files": hashes}, indent=1) + "\n")
            os.replace(tmp, sidecar)
        except OSError as error:  # a read-only cache costs time, not correctness
            log.warning("could not write the model fingerprint cache %s: %s", sidecar, error)
    fingerprint = stable_hash(sorted((name, entry["hash"]) for name, entry in hashes.items()), length=32)
    _FINGERPRINTS[memo_key] = fingerprint
    return fingerprint


def base_mismatch_message(where: str, meta: Mapping[str, Any], base_hash: str) -> str:
    """The one-line error for a module built on other base weights than the model it is applied to."""
    expected, built_on = str(meta.get("base_hash")), meta.get("base_model") or "(not recorded)"
    return (f"{where} was trained against base weights {expected[:12]} of {built_on}, "
            f"but the model it is applied to has weights {base_hash[:12]}: the base weights changed "
            f"since it was built (e.g. a hub model whose model.revision is not pinned moved on, or a module made "
            f"for another model). Load the weights it was built on (model.name_or_path, model.revision), or "
            f"delete {where} and the artifacts built from it, so that they are rebuilt on the current model")


def resolve_model_path(cfg: ModelConfig, cache_dir: str | Path) -> str:
    """Hub id or local path to load from; builds (once, cached) the tiny model if asked."""
    cfg.validate()
    if cfg.is_tiny:
        from xlt.models.tiny import build_tiny_model

        return str(build_tiny_model(cfg.architecture, cfg.tiny or {}, Path(cache_dir)))
    return cfg.name_or_path  # type: ignore[return-value]


def _pretrained_kwargs(cfg: ModelConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dtype": DTYPES[cfg.dtype], **cfg.extra}
    if cfg.revision and not cfg.is_tiny:
        kwargs["revision"] = cfg.revision
    return kwargs


def load_tokenizer(path: str, cfg: ModelConfig | None = None):
    from transformers import AutoTokenizer

    kwargs = {"revision": cfg.revision} if cfg and cfg.revision and not cfg.is_tiny else {}
    return AutoTokenizer.from_pretrained(path, **kwargs)


def load_masked_lm(path: str, cfg: ModelConfig) -> nn.Module:
    from transformers import AutoModelForMaskedLM

    return AutoModelForMaskedLM.from_pretrained(path, **_pretrained_kwargs(cfg))


def load_encoder(path: str, cfg: ModelConfig) -> nn.Module:
    """The body (no head) of an encoder; pooler-free where the architecture allows it."""
    from transformers import AutoConfig, AutoModel

    revision = {"revision": cfg.revision} if cfg.revision and not cfg.is_tiny else {}
    config = AutoConfig.from_pretrained(path, **revision)
    kwargs = _pretrained_kwargs(cfg)
    try:
        return AutoModel.from_pretrained(path, config=config, add_pooling_layer=False, **kwargs)
    except TypeError:
        return AutoModel.from_pretrained(path, config=config, **kwargs)


def body_of(model: nn.Module) -> nn.Module:
    """The base (headless) module of a transformers model; the model itself if it is a body."""
    prefix = getattr(model, "base_model_prefix", "")
    return getattr(model, prefix, model) if prefix else model


def base_weights_hash(body: nn.Module) -> str:
    """Hash of a body's parameters: SFT headers record it to catch base mismatches."""
    return tensors_hash(dict(body.named_parameters()))
