"""Sparse fine-tunings (SFTs) as artifacts: format, apply, remove and compose.

An SFT (thesis §4.3.1, §7.2.2) is, per parameter tensor of the model's body, a set of flat row-major
indices and the values to add there (the difference phi from the base weights), plus optional dense
"abs" tensors (the head: e.g. a task classifier, or a language SFT's MLM head) that replace a
module's parameters outright.

Composition is addition, F(.; theta + phi_task + phi_lang) (§4.3.1, eq. 7.9): the body diffs of every
part are summed, and the head (abs tensors) comes from one part only, by default the part that is not
a language module (:meth:`SparseFineTuning.compose`). Applying an SFT checks the base-weights hash
it was trained against (the caller passes the model's hash, computed once) and keeps the base values
it overwrote, so removing it restores the exact bytes: no fp32 drift from add-then-subtract, which
matters when language SFTs are switched every batch (§4.4.4). Stacked SFTs may be removed in any
order: the ones applied after it on the same parameters are taken off and put back on.

File format (safetensors): tensors ``diff/<name>/indices`` (int32 where numel < 2^31, else
int64), ``diff/<name>/values`` (training dtype) or ``diff/<name>/dense`` for fully dense
diffs, and ``abs/<name>``; ``__metadata__["xlt"]`` holds a JSON header with the format
version, method, density, base model name, base-weights hash and every tensor's shape (so
any rank round-trips). Loading checks every index against its tensor's shape. The reference code
stores a pickled gap-encoded list whose decoder is only right for 1-D/2-D tensors;
:func:`load_composable_sft` reads those files correctly, without running code from them.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from xlt.errors import ArtifactError
from xlt.models.loading import base_mismatch_message, base_weights_hash
from xlt.utils.untrusted import NUMPY_INTEGERS, load_untrusted_torch

log = logging.getLogger(__name__)

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

    def check(self, where: str) -> None:
        """Raise an ArtifactError naming ``where`` (file and tensor) unless the values fit the shape and
        every index lies in [0, numel)."""
        if any(int(size) < 0 for size in self.shape):
            raise ArtifactError(f"{where}: invalid shape {self.shape}")
        if self.indices is None:
            if self.values.numel() != self.numel:
                raise ArtifactError(f"{where}: dense diff has {self.values.numel()} values, "
                                    f"its shape {self.shape} has {self.numel} entries")
            return
        if self.indices.dtype not in (torch.int32, torch.int64) or self.indices.dim() != 1:
            raise ArtifactError(f"{where}: indices must be a 1-D int32/int64 tensor, "
                                f"got {self.indices.dtype} of shape {tuple(self.indices.shape)}")
        if self.values.dim() != 1 or self.values.numel() != self.indices.numel():
            raise ArtifactError(f"{where}: {self.indices.numel()} indices but values of shape "
                                f"{tuple(self.values.shape)}")
        if self.indices.numel():
            low, high = int(self.indices.min()), int(self.indices.max())
            if low < 0 or high >= self.numel:
                bad = low if low < 0 else high
                raise ArtifactError(f"{where}: index {bad} lies outside the tensor's {self.numel} entries "
                                    f"(shape {self.shape})")


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
    def compose(sfts: Iterable[SparseFineTuning], head: int | Literal["task"] | None = "task") -> SparseFineTuning:
        """Sum of SFTs: the union of their body indices, values added (eq. 7.9).

        The head (abs tensors) is not summed: it comes from one part. ``head="task"`` (default) takes
        it from the parts that are not language modules (``meta["kind"] != "language"``: a language
        SFT's abs tensors are its MLM head, which a task model does not have) and refuses two such
        parts that both carry one; ``head=i`` takes part i's; ``head=None`` keeps none. The
        composition records the parts' base hash (they must agree; if a part has none, neither has
        the composition)."""
        sfts = list(sfts)
        merged: dict[str, SparseDelta] = {}
        for name in dict.fromkeys(n for sft in sfts for n in sft.diffs):
            parts = [sft.diffs[name] for sft in sfts if name in sft.diffs]
            shape = parts[0].shape
            if any(part.shape != shape for part in parts):
                raise ArtifactError(f"cannot compose SFTs: shapes of {name!r} differ")
            dtype = functools.reduce(torch.promote_types, (part.values.dtype for part in parts))  # any number of parts
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
        head_part = _head_part(sfts, head)
        abs_tensors = dict(sfts[head_part].abs) if head_part is not None else {}
        meta: dict[str, Any] = {"method": "composition", "head_from": head_part,
                                "parts": [sft.meta for sft in sfts]}
        hashes = {sft.meta.get("base_hash") for sft in sfts}
        if len(hashes - {None, ""}) > 1:
            raise ArtifactError("cannot compose SFTs trained against different base weights "
                                f"({', '.join(sorted(str(h)[:12] for h in hashes if h))})")
        if len(hashes) == 1 and (base_hash := next(iter(hashes))):
            meta["base_hash"] = base_hash
            meta["base_model"] = sfts[0].meta.get("base_model")
        return SparseFineTuning(merged, abs_tensors, meta)

    def __add__(self, other: SparseFineTuning) -> SparseFineTuning:
        return SparseFineTuning.compose([self, other])

    # ----------------------------------------------------------------- apply / remove
    def apply(self, module: nn.Module, with_abs: bool = True, abs_module: nn.Module | None = None, *,
              base_hash: str | None = None, verify_base: bool = True, where: str = "SFT") -> AppliedSFT:
        """Add the diffs to ``module``'s parameters in place (and copy abs tensors into
        ``abs_module``, default ``module``). Returns a handle whose ``remove()`` restores the
        exact original values.

        ``base_hash`` is the model's base-weights hash (``base_weights_hash`` of the pristine body,
        computed once by the caller): an SFT trained against other base weights, or one that records
        none, is refused (:meth:`check_base`). ``verify_base=False`` is the explicit opt-out, for a
        caller that knows the base by other means."""
        if verify_base:
            if base_hash is None:
                raise ValueError(f"{where}: pass the model's base_hash to apply an SFT (or verify_base=False)")
            self.check_base(base_hash, where)
        params = dict(module.named_parameters(remove_duplicate=False))
        missing = [name for name in self.diffs if name not in params]
        if missing:
            raise ArtifactError(f"{where} has diffs for parameters the model lacks: {missing[:5]}")
        writes: list[_Write] = []
        for name, delta in self.diffs.items():
            param = params[name]
            if tuple(param.shape) != delta.shape:
                raise ArtifactError(f"{where}: diff {name!r} has shape {delta.shape}, model has {tuple(param.shape)}")
            index = None if delta.indices is None else delta.indices.to(param.device).long()
            writes.append(_Write(param, index, delta.values, add=True))
        if with_abs and self.abs:
            target = dict((abs_module or module).named_parameters())
            for name, tensor in self.abs.items():
                if name not in target:
                    raise ArtifactError(f"{where}: abs tensor {name!r} has no matching parameter")
                param = target[name]
                if tuple(param.shape) != tuple(tensor.shape):
                    raise ArtifactError(f"{where}: abs tensor {name!r} has shape {tuple(tensor.shape)}, "
                                        f"model has {tuple(param.shape)}")
                writes.append(_Write(param, None, tensor, add=False))
        handle = AppliedSFT(writes)
        handle._put_on()
        return handle

    @contextmanager
    def applied(self, module: nn.Module, with_abs: bool = True, *, base_hash: str | None = None,
                verify_base: bool = True) -> Iterator[None]:
        handle = self.apply(module, with_abs=with_abs, base_hash=base_hash, verify_base=verify_base)
        try:
            yield
        finally:
            handle.remove()

    def check_base(self, base_hash: str, where: str = "SFT") -> None:
        """Raise unless this SFT records that it was trained against base weights with ``base_hash``."""
        expected = self.meta.get("base_hash")
        if not expected:
            raise ArtifactError(
                f"{where} records no base-weights hash, so nothing says it belongs to this model "
                "(import a composable-sft module with load_composable_sft(..., base_body=...), "
                "or apply it with verify_base=False)")
        if expected != base_hash:
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
        try:
            header = json.loads(metadata["xlt"])
        except json.JSONDecodeError as error:
            raise ArtifactError(f"{path}: invalid xlt SFT header ({error.msg})") from None
        if header.get("format") != FORMAT or header.get("format_version", 0) > FORMAT_VERSION:
            raise ArtifactError(f"{path}: unsupported SFT format "
                                f"{header.get('format')} v{header.get('format_version')}")
        shapes = header.pop("shapes", {})
        header.pop("format")
        header.pop("format_version")
        diffs: dict[str, SparseDelta] = {}
        for name, shape in shapes.items():
            shape = tuple(int(size) for size in shape)
            if f"diff/{name}/dense" in tensors:
                diffs[name] = SparseDelta(shape, tensors[f"diff/{name}/dense"])
            elif f"diff/{name}/values" in tensors and f"diff/{name}/indices" in tensors:
                diffs[name] = SparseDelta(shape, tensors[f"diff/{name}/values"], tensors[f"diff/{name}/indices"])
            else:
                raise ArtifactError(f"{path}: the header lists diff {name!r}, the file has no tensors for it")
            diffs[name].check(f"{path}: diff {name!r}")
        abs_tensors = {key[len("abs/"):]: t for key, t in tensors.items() if key.startswith("abs/")}
        return cls(diffs, abs_tensors, header)


def _head_part(sfts: list[SparseFineTuning], head: int | Literal["task"] | None) -> int | None:
    """Which part's abs tensors a composition keeps (see :meth:`SparseFineTuning.compose`)."""
    if head is None:
        return None
    if isinstance(head, int):
        if not -len(sfts) <= head < len(sfts):
            raise ValueError(f"compose(head={head}): there are {len(sfts)} parts")
        return head % len(sfts)
    if head != "task":
        raise ValueError(f"compose(head={head!r}): expected 'task', a part's index or None")
    carriers = [i for i, sft in enumerate(sfts) if sft.abs and sft.meta.get("kind") != "language"]
    if len(carriers) > 1:
        raise ArtifactError(f"cannot compose SFTs: parts {carriers} all carry a head (abs tensors); "
                            "choose one with compose(..., head=i)")
    return carriers[0] if carriers else None


@dataclass
class _Write:
    """One tensor write of an applied SFT: ``source`` added at ``index`` (or everywhere), or copied in."""

    param: nn.Parameter
    index: torch.Tensor | None  # flat indices on the parameter's device; None: the whole tensor
    source: torch.Tensor  # the SFT's own tensor (not copied): diff values or an abs tensor
    add: bool  # diff (add) or abs (copy)
    saved: torch.Tensor | None = None  # the values it overwrote

    def put_on(self) -> None:
        data = self.param.data
        values = self.source.to(data.device, data.dtype)
        if self.index is None:
            self.saved = data.clone()
            if self.add:
                data.add_(values.reshape(data.shape))
            else:
                data.copy_(values)
        else:
            flat = data.view(-1)
            self.saved = flat[self.index].clone()
            flat.index_add_(0, self.index, values)

    def take_off(self) -> None:
        assert self.saved is not None
        if self.index is None:
            self.param.data.copy_(self.saved)
        else:
            self.param.data.view(-1)[self.index] = self.saved
        self.saved = None


# Per parameter (by id, dropped when the parameter is freed), the applied SFTs that wrote to it in
# application order, as weak references: a handle dropped without remove() stays applied for good.
_STACKS: dict[int, list[weakref.ref[AppliedSFT]]] = {}
_ORDER = itertools.count()


def _stack(param: nn.Parameter) -> list[weakref.ref[AppliedSFT]]:
    key = id(param)
    if key not in _STACKS:
        _STACKS[key] = []
        weakref.finalize(param, _STACKS.pop, key, None)
    return _STACKS[key]


class AppliedSFT:
    """Handle returned by :meth:`SparseFineTuning.apply`; ``remove()`` restores exact values.

    Removal is exact in any order: the SFTs applied after this one to any of its parameters (and,
    in turn, those applied after them) are taken off, this one is taken off, and they are put back
    on in their order, so the model holds exactly what applying only the remaining ones gives. An
    SFT applied after this one whose handle was dropped cannot be taken off: removing this one is
    then refused."""

    def __init__(self, writes: list[_Write]) -> None:
        self.writes = writes
        self.params = list({id(w.param): w.param for w in writes}.values())
        self.order = -1
        self.active = False

    def _put_on(self) -> None:
        with torch.no_grad():
            for write in self.writes:
                write.put_on()
        self.order = next(_ORDER)
        self.active = True
        for param in self.params:
            _stack(param).append(weakref.ref(self))

    def _take_off(self) -> None:
        with torch.no_grad():
            for write in reversed(self.writes):
                write.take_off()
        self.active = False
        for param in self.params:
            stack = _STACKS.get(id(param), [])
            for i in range(len(stack) - 1, -1, -1):
                if stack[i]() is self:
                    del stack[i]
                    break

    def _applied_after(self) -> list[AppliedSFT]:
        """The live SFTs that must come off before this one, in application order."""
        found: dict[int, AppliedSFT] = {}
        frontier: list[AppliedSFT] = [self]
        while frontier:
            handle = frontier.pop()
            for param in handle.params:
                stack = _STACKS.get(id(param), [])
                position = next(i for i, ref in enumerate(stack) if ref() is handle)
                for ref in stack[position + 1:]:
                    later = ref()
                    if later is None:
                        raise RuntimeError("cannot remove this SFT: an SFT applied after it to the same parameters "
                                           "was never removed (its handle was dropped), so it cannot be taken off")
                    if id(later) not in found:
                        found[id(later)] = later
                        frontier.append(later)
        return sorted(found.values(), key=lambda handle: handle.order)

    def remove(self) -> None:
        if not self.active:
            return
        later = self._applied_after()
        for handle in reversed(later):
            handle._take_off()
        self._take_off()
        for handle in later:
            handle._put_on()


def _reference_steps(value: Any, where: str) -> torch.Tensor:
    """The reference format's ``index_steps``: a list of ints (the first may be a numpy integer)."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1 or value.dtype.is_floating_point or value.dtype == torch.bool:
            raise ArtifactError(f"{where}: index_steps must be a 1-D integer sequence")
        return value.to(torch.int64)
    if not isinstance(value, (list, tuple)):
        raise ArtifactError(f"{where}: index_steps must be a list of integers, got {type(value).__name__}")
    steps = []
    for step in value:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise ArtifactError(f"{where}: index_steps holds a {type(step).__name__}, integers expected")
        steps.append(int(step))
    return torch.tensor(steps, dtype=torch.int64)


def load_composable_sft(path: str | Path, strip_prefix: str | None = None, *, base_body: nn.Module | None = None,
                        base_hash: str | None = None, base_model: str | None = None) -> SparseFineTuning:
    """Read a ``pytorch_diff.bin`` of the authors' composable-sft library (e.g. the public
    ``cambridgeltl/*-sft-*`` modules) into an :class:`SparseFineTuning`.

    Their ``index_steps`` are gaps between consecutive indices in an order where the FIRST
    dimension varies fastest (column-major); we convert to row-major flat indices for any rank.

    Safety: the file is read with ``weights_only=True``, allowing exactly what the format holds
    (dicts, lists, ints, tensors, ``torch.Size`` and the numpy integer the reference encoder writes
    as the first step); a pickle that carries anything else (a callable to run) is refused with an
    ArtifactError, and so is a malformed entry or an index outside its tensor.

    Body and head: ``strip_prefix`` is the body's prefix in the reference model (e.g. ``"roberta."``).
    Diffs under it are the body's (renamed); diffs outside it belong to the reference model's head (a
    language SFT's MLM head) and are dropped, listed in ``meta["dropped_head_diffs"]``: xlt applies
    diffs to the body, and language modules without their head. Abs tensors are kept (renamed). A module
    with no diff under the prefix, or (with ``base_body``) one naming a body parameter under another
    prefix (``bert.encoder...`` for a ``roberta.`` body), is another model's and refused.

    Base: these files record no base weights. With ``base_body`` (the body the module was trained
    on, e.g. XLM-R base's), every body diff's name and shape is checked against it and its hash is
    recorded (``base_hash`` if the caller has it already): the SFT then applies like one trained by
    xlt. Without it, the SFT records no base hash and :meth:`SparseFineTuning.apply` refuses it
    unless called with ``verify_base=False``.
    """
    path = Path(path)
    data = load_untrusted_torch(path, NUMPY_INTEGERS, "composable-sft file")
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: not a composable-sft file (a dict of diffs expected, got {type(data).__name__})")
    if "diffs" in data:
        diff_part, abs_part = data["diffs"], data.get("abs", {})
    else:  # older layout
        diff_part, abs_part = data.get("body", {}), data.get("head", {})
    if not isinstance(diff_part, dict) or not isinstance(abs_part, dict):
        raise ArtifactError(f"{path}: not a composable-sft file (diffs and abs must be dicts)")

    def rename(name: str) -> str:
        return name[len(strip_prefix):] if strip_prefix and name.startswith(strip_prefix) else name

    body = dict(base_body.named_parameters()) if base_body is not None else None
    diffs: dict[str, SparseDelta] = {}
    dropped: list[str] = []
    for name, entry in diff_part.items():
        where = f"{path}: diff {name!r}"
        if not (isinstance(name, str) and isinstance(entry, dict) and {"size", "index_steps", "values"} <= set(entry)):
            raise ArtifactError(f"{where}: expected a dict with size, index_steps and values")
        if strip_prefix and not name.startswith(strip_prefix):
            rest = name.split(".", 1)[-1]
            if body is not None and rest in body:  # e.g. "bert.encoder..." for a "roberta." body
                raise ArtifactError(f"{where}: the base body's parameter {rest!r} under another prefix than "
                                    f"{strip_prefix!r}: a module of another model")
            dropped.append(name)
            continue
        size, values = entry["size"], entry["values"]
        if not isinstance(size, (torch.Size, list, tuple)) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in size):
            raise ArtifactError(f"{where}: size must be a list of non-negative integers")
        if not isinstance(values, torch.Tensor):
            raise ArtifactError(f"{where}: values must be a tensor, got {type(values).__name__}")
        shape = tuple(int(s) for s in size)
        steps = _reference_steps(entry["index_steps"], where)
        if steps.numel() != values.numel():
            raise ArtifactError(f"{where}: {steps.numel()} index steps but {values.numel()} values")
        if steps.numel() and (int(steps[0]) < 0 or (steps.numel() > 1 and int(steps[1:].min()) < 1)):
            raise ArtifactError(f"{where}: index steps must give increasing indices")
        column_major = torch.cumsum(steps, 0)
        if column_major.numel() and int(column_major[-1]) >= prod(shape):
            raise ArtifactError(f"{where}: index {int(column_major[-1])} lies outside the tensor's "
                                f"{prod(shape)} entries (shape {shape})")
        coords = []
        stride = 1
        for size_d in shape:  # first dimension fastest
            coords.append((column_major // stride) % size_d)
            stride *= size_d
        row_major = torch.zeros_like(column_major)
        for coord, size_d in zip(coords, shape):
            row_major = row_major * size_d + coord
        order = torch.argsort(row_major)
        dtype = torch.int32 if prod(shape) < INT32_LIMIT else torch.int64
        delta = SparseDelta(shape, values.reshape(-1)[order].clone(), row_major[order].to(dtype))
        delta.check(where)
        if body is not None:
            param = body.get(rename(name))
            if param is None or tuple(param.shape) != shape:
                found = "missing" if param is None else f"of shape {tuple(param.shape)}"
                raise ArtifactError(f"{where}: the base body's parameter {rename(name)!r} is {found}, the diff has "
                                    f"shape {shape} (wrong base model, or strip_prefix?)")
        diffs[rename(name)] = delta
    abs_tensors: dict[str, torch.Tensor] = {}
    for name, tensor in abs_part.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise ArtifactError(f"{path}: abs entry {name!r} must be a tensor")
        abs_tensors[rename(name)] = tensor
    meta: dict[str, Any] = {"method": "composable-sft import", "source": str(path)}
    if dropped and not diffs:
        raise ArtifactError(f"{path}: none of its {len(dropped)} diffs lies under the body prefix {strip_prefix!r} "
                            f"({dropped[0]}, ...): a module of another model")
    if dropped:
        log.warning("%s: %d diffs outside the body (%s...) dropped: a head xlt does not apply", path, len(dropped),
                    dropped[0])
        meta["dropped_head_diffs"] = dropped
    if base_body is not None:
        meta["base_hash"] = base_hash or base_weights_hash(base_body)
        meta["base_model"] = base_model
    return SparseFineTuning(diffs, abs_tensors, meta)


class SFTModule:
    """A trained SFT as a pipeline module (xlt.methods.ModuleArtifact): applied to a task model's
    ``body`` (the head as abs tensors with ``with_head``)."""

    def __init__(self, sft: SparseFineTuning):
        self.sft = sft
        self.checked: tuple[str | None, str] | None = None  # (base hash, where) once check_base passed

    def save(self, directory: Path) -> None:
        self.sft.save(directory / "sft.safetensors")

    def checked_base(self) -> tuple[str | None, str]:
        if self.checked is None:
            raise ValueError("an SFT module attaches after check_base(base_hash, where) (base_hash=None: unchecked)")
        return self.checked

    def attach(self, model: Any, with_head: bool) -> AppliedSFT:
        base_hash, where = self.checked_base()
        return self.sft.apply(model.body, with_abs=with_head, abs_module=model, base_hash=base_hash,
                              verify_base=base_hash is not None, where=where)

    def check_base(self, base_hash: str | None, where: str) -> None:
        if base_hash is not None:
            self.sft.check_base(base_hash, where)
        self.checked = (base_hash, where)


def load_sft_module(directory: Path) -> SFTModule:
    return SFTModule(SparseFineTuning.load(directory / "sft.safetensors"))
