"""Stable content hashes for configs, files and tensors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where tensors are hashed: the stage runner and the report start fast
    import torch

FILE_CONTENT_HASH_LIMIT = 64 * 2**20  # files up to this size are hashed by content


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable object, independent of dict key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_fingerprint(path: str | Path) -> str:
    """Content hash for small files; size and mtime for large ones (e.g. Wikipedia dumps)."""
    path = Path(path)
    stat = path.stat()
    if path.is_dir():
        return stable_hash(sorted((str(p.relative_to(path)), file_fingerprint(p))
                                  for p in path.rglob("*") if p.is_file()))
    if stat.st_size > FILE_CONTENT_HASH_LIMIT:
        return f"size={stat.st_size},mtime={stat.st_mtime_ns}"
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def tensors_hash(named_tensors: Iterable[tuple[str, torch.Tensor]] | Mapping[str, torch.Tensor]) -> str:
    """Hash of named tensors (name, dtype, shape and bytes), e.g. the base weights of an SFT."""
    import torch

    items = named_tensors.items() if isinstance(named_tensors, Mapping) else named_tensors
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(items, key=lambda item: item[0]):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def directory_hash(path: str | Path, exclude: Iterable[str] = ()) -> str:
    """Content hash of every file under ``path`` (relative names and bytes), e.g. a built artifact."""
    path, skip = Path(path), set(exclude)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        name = str(file.relative_to(path))
        if name in skip:
            continue
        digest.update(f"{name}\0".encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()[:32]
