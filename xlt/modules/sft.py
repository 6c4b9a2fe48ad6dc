"""Sparse fine-tunings (SFTs) as artifacts: format, apply, remove and compose.

An SFT (thesis §4.3.1, §7.2.2) is, per parameter tensor, a set of flat row-major indices and
the values to add there (the difference phi from the base weights), plus optional dense
"abs" tensors (e.g. a task head) that replace a module's parameters outright.

Composition is addition, F(.; theta + phi_task + phi_lang) (§4.3.1, eq. 7.9). Applying an SFT
keeps the base values it overwrote, so removing it restores the exact bytes: no fp32 drift
from add-then-subtract, which matters when language SFTs are switched every batch (§4.4.4).

File format (safetensors): tensors ``diff/<name>/indices`` (int32 where numel < 2^31, else
int64), ``diff/<name>/values`` (training dtype) or ``diff/<name>/dense`` for fully dense
diffs, and ``abs/<name>``; ``__metadata__["xlt"]`` holds a JSON header with the format
version, method, density, base model name, base-weights hash and every tensor's shape (so
any rank round-trips). The reference code stores a pickled gap-encoded list whose decoder is
only right for 1-D/2-D tensors; :func:`load_composable_sft` reads those files correctly.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from xlt.errors import ArtifactError
from xlt.models.loading import base_mismatch_message

FORMAT = "xlt-sft"
FORMAT_VERSION = 1
INT32_LIMIT = 2**31


@dataclass
class SparseDelta:
    """Difference for one parameter tensor: sparse (flat indices + values) or dense."""

    shape: tuple[int, ...]
    values: torch.Tensor
    indices: torch.Tensor | None = None  # None: ``values`` is a dense tensor of ``shape``

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def num_entries(self) -> int:
        return self.numel if self.indices is None else int(self.indices.numel())

    def flat_indices(self) -> torch.Tensor:
        if self.indices is None:
            return torch.arange(self.numel, device=self.values.device)
        return self.indices.long()

    def flat_values(self) -> torch.Tensor:
        return self.values.reshape(-1)

    def to_dense(self) -> torch.Tensor:
        if self.indices is None:
            return self.values.reshape(self.shape)
        dense = torch.zeros(self.numel, dtype=self.values.dtype, device=self.values.device)
        dense.index_add_(0, self.indices.long(), self.values)
        return dense.reshape(self.shape)


@dataclass
class SparseFineTuning:
    """A set of parameter differences (``diffs``) and dense replacements (``abs``)."""

    diffs: dict[str, SparseDelta] = field(default_factory=dict)
    abs: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_masks(
        cls,
        after: Mapping[str, torch.Tensor],
        before: Mapping[str, torch.Tensor],
        masks: Mapping[str, torch.Tensor],
        abs_tensors: Mapping[str, torch.Tensor] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> SparseFineTuning:
        """phi = after - before at the True entries of each flat boolean mask (stored on CPU)."""
        diffs: dict[str, SparseDelta] = {}
        for name, mask in masks.items():
            flat_mask = mask.reshape(-1)
            shape = tuple(after[name].shape)
            if bool(flat_mask.all()):
                values = (after[name].detach() - before[name].to(after[name].device)).cpu()
                diffs[name] = SparseDelta(shape, values.contiguous())
                continue
            indices = torch.nonzero(flat_mask.to(after[name].device)).flatten()
            if indices.numel() == 0:
                continue
            new = after[name].detach().reshape(-1)[indices]
            old = before[name].reshape(-1).to(new.device)[indices]
            dtype = torch.int32 if mask.numel() < INT32_LIMIT else torch.int64
            diffs[name] = SparseDelta(shape, (new - old).cpu(), indices.to(dtype).cpu())
        abs_copy = {name: t.detach().cpu().clone() for name, t in (abs_tensors or {}).items()}
        return cls(diffs, abs_copy, dict(meta or {}))

    # ----------------------------------------------------------------- properties
    @property
    def num_entries(self) -> int:
        """Number of stored diff entries (K for an LT-SFT), excluding abs tensors."""
        return sum(delta.num_entries for delta in self.diffs.values())

    def num_nonzero(self) -> int:
        return sum(int((delta.values != 0).sum()) for delta in self.diffs.values())

    # ----------------------------------------------------------------- composition
    @staticmethod
    def compose(sfts: Iterable[SparseFineTuning]) -> SparseFineTuning:
        """Sum of SFTs (union of indices, values added); later abs tensors win."""
        sfts = list(sfts)
        merged: dict[str, SparseDelta] = {}
        for name in dict.fromkeys(n for sft in sfts for n in sft.diffs):
            parts = [sft.diffs[name] for sft in sfts if name in sft.diffs]
            shape = parts[0].shape
            if any(part.shape != shape for part in parts):
                raise ArtifactError(f"cannot compose SFTs: shapes of {name!r} differ")
            dtype = torch.promote_types(*(p.values.dtype for p in parts)) if len(parts) > 1 else parts[0].values.dtype
            if any(part.indices is None for part in parts):
                dense = sum(part.to_dense().to(dtype) for part in parts)
                merged[name] = SparseDelta(shape, dense)
                continue
            indices = torch.cat([part.indices.long() for part in parts])
            values = torch.cat([part.values.to(dtype) for part in parts])
            unique, inverse = torch.unique(indices, sorted=True, return_inverse=True)
            summed = torch.zeros(len(unique), dtype=dtype).index_add_(0, inverse, values)
            index_dtype = torch.int32 if prod(shape) < INT32_LIMIT else torch.int64
            merged[name] = SparseDelta(shape, summed, unique.to(index_dtype))
        abs_tensors: dict[str, torch.Tensor] = {}
        for sft in sfts:
            abs_tensors.update(sft.abs)
        return SparseFineTuning(merged, abs_tensors, {"method": "composition",
                                                      "parts": [sft.meta for sft in sfts]})

    def __add__(self, other: SparseFineTuning) -> SparseFineTuning:
        return SparseFineTuning.compose([self, other])

    # ----------------------------------------------------------------- apply / remove
    def apply(self, module: nn.Module, with_abs: bool = True, abs_module: nn.Module | None = None) -> AppliedSFT:
        """Add the diffs to ``module``'s parameters in place (and copy abs tensors into
        ``abs_module``, default ``module``). Returns a handle whose ``remove()`` restores the
        exact original values."""
        params = dict(module.named_parameters(remove_duplicate=False))
        missing = [name for name in self.diffs if name not in params]
        if missing:
            raise ArtifactError(f"SFT has diffs for parameters the model lacks: {missing[:5]}")
        handle = AppliedSFT()
        with torch.no_grad():
            for name, delta in self.diffs.items():
                param = params[name]
                if tuple(param.shape) != delta.shape:
                    raise ArtifactError(f"SFT diff {name!r} has shape {delta.shape}, model has {tuple(param.shape)}")
                flat = param.data.view(-1)
                if delta.indices is None:
                    handle.saved.append((param, None, param.data.clone()))
                    param.data.add_(delta.values.to(param.device, param.dtype).reshape(param.shape))
                else:
                    index = delta.indices.to(param.device).long()
                    handle.saved.append((param, index, flat[index].clone()))
                    flat.index_add_(0, index, delta.values.to(param.device, param.dtype))
            if with_abs and self.abs:
                target = dict((abs_module or module).named_parameters())
                for name, tensor in self.abs.items():
                    if name not in target:
                        raise ArtifactError(f"SFT abs tensor {name!r} has no matching parameter")
                    param = target[name]
                    if tuple(param.shape) != tuple(tensor.shape):
                        raise ArtifactError(f"SFT abs tensor {name!r} has shape {tuple(tensor.shape)}, "
                                            f"model has {tuple(param.shape)}")
                    handle.saved.append((param, None, param.data.clone()))
                    param.data.copy_(tensor.to(param.device, param.dtype))
        return handle

    @contextmanager
    def applied(self, module: nn.Module, with_abs: bool = True) -> Iterator[None]:
        handle = self.apply(module, with_abs=with_abs)
        try:
            yield
        finally:
            handle.remove()

    def check_base(self, base_hash: str, where: str = "SFT") -> None:
        """Raise unless this SFT was trained against base weights with ``base_hash``."""
        expected = self.meta.get("base_hash")
        if expected and expected != base_hash:
            raise ArtifactError(base_mismatch_message(where, self.meta, base_hash))

    # ----------------------------------------------------------------- I/O
    def save(self, path: str | Path) -> None:
        """Write atomically as safetensors (temporary file, then rename)."""
        path = Path(path)
        tensors: dict[str, torch.Tensor] = {}
        shapes: dict[str, list[int]] = {}
        for name, delta in self.diffs.items():
            shapes[name] = list(delta.shape)
            if delta.indices is None:
                tensors[f"diff/{name}/dense"] = delta.values.contiguous()
            else:
                tensors[f"diff/{name}/indices"] = delta.indices.contiguous()
                tensors[f"diff/{name}/values"] = delta.values.contiguous()
        for name, tensor in self.abs.items():
            tensors[f"abs/{name}"] = tensor.contiguous()
        header = {"format": FORMAT, "format_version": FORMAT_VERSION, "shapes": shapes, **self.meta}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            save_file({k: v.cpu() for k, v in tensors.items()}, tmp, metadata={"xlt": json.dumps(header)})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | Path) -> SparseFineTuning:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"{path}: SFT file not found")
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        except Exception as error:  # safetensors raises several types for corrupt files
            raise ArtifactError(f"{path}: not a readable safetensors file ({error})") from None
        if "xlt" not in metadata:
            raise ArtifactError(f"{path}: no xlt SFT header (format {FORMAT!r} expected)")
        header = json.loads(metadata["xlt"])
        if header.get("format") != FORMAT or header.get("format_version", 0) > FORMAT_VERSION:
            raise ArtifactError(f"{path}: unsupported SFT format "
                                f"{header.get('format')} v{header.get('format_version')}")
        shapes = header.pop("shapes")
        header.pop("format")
        header.pop("format_version")
        diffs: dict[str, SparseDelta] = {}
        for name, shape in shapes.items():
            shape = tuple(shape)
            if f"diff/{name}/dense" in tensors:
                diffs[name] = SparseDelta(shape, tensors[f"diff/{name}/dense"])
            else:
                diffs[name] = SparseDelta(shape, tensors[f"diff/{name}/values"], tensors[f"diff/{name}/indices"])
        abs_tensors = {key[len("abs/"):]: t for key, t in tensors.items() if key.startswith("abs/")}
        return cls(diffs, abs_tensors, header)


class AppliedSFT:
    """Handle returned by :meth:`SparseFineTuning.apply`; ``remove()`` restores exact values."""

    def __init__(self) -> None:
        self.saved: list[tuple[nn.Parameter, torch.Tensor | None, torch.Tensor]] = []

    def remove(self) -> None:
        with torch.no_grad():
            for param, index, original in reversed(self.saved):
                if index is None:
                    param.data.copy_(original)
                else:
                    param.data.view(-1)[index] = original
        self.saved.clear()


def load_composable_sft(path: str | Path, strip_prefix: str | None = None) -> SparseFineTuning:
    """Read a ``pytorch_diff.bin`` of the authors' composable-sft library (e.g. the public
    ``cambridgeltl/*-sft-*`` modules) into an :class:`SparseFineTuning`.

    Their ``index_steps`` are gaps between consecutive indices in an order where the FIRST
    dimension varies fastest (column-major); we convert to row-major flat indices for any rank.
    ``strip_prefix`` removes a model prefix such as ``"roberta."`` from parameter names.
    """
    data = torch.load(str(path), map_location="cpu", weights_only=False)  # trusted files only
    if "diffs" in data:
        diff_part, abs_part = data["diffs"], data.get("abs", {})
    else:  # older layout
        diff_part, abs_part = data.get("body", {}), data.get("head", {})

    def rename(name: str) -> str:
        return name[len(strip_prefix):] if strip_prefix and name.startswith(strip_prefix) else name

    diffs: dict[str, SparseDelta] = {}
    for name, entry in diff_part.items():
        shape = tuple(int(s) for s in entry["size"])
        steps = torch.as_tensor([int(s) for s in entry["index_steps"]], dtype=torch.int64)
        column_major = torch.cumsum(steps, 0)
        coords = []
        stride = 1
        for size in shape:  # first dimension fastest
            coords.append((column_major // stride) % size)
            stride *= size
        row_major = torch.zeros_like(column_major)
        for coord, size in zip(coords, shape):
            row_major = row_major * size + coord
        order = torch.argsort(row_major)
        dtype = torch.int32 if prod(shape) < INT32_LIMIT else torch.int64
        diffs[rename(name)] = SparseDelta(shape, entry["values"].reshape(-1)[order].clone(), row_major[order].to(dtype))
    abs_tensors = {rename(name): tensor for name, tensor in abs_part.items()}
    return SparseFineTuning(diffs, abs_tensors, {"method": "composable-sft import", "source": str(path)})
