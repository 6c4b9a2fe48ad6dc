"""SpIEL's sparse-delta linear layer (thesis §7.3, eqs. 7.2-7.4, 7.8; Appendix E.4).

Every target linear layer i keeps a vector of flat row-major indices eta_i into its weight
W_i (shape ``out x in``) and a vector of values phi_i (zeros at the start). The forward pass uses
W_i' = W_i + scatter(eta_i, phi_i) (eq. 7.2); W_i stays frozen and never receives a gradient, so
the memory overhead is O(d_phi): the values, their indices and their gradient (the dense W_i' is
a transient of one layer at a time, recomputed in the backward pass instead of being saved).

The backward pass realises Appendix E.4, which the thesis and its reference code left as future
work: with X the ``b x in`` input and dY the ``b x out`` output gradient, the gradient of the
j-th value is (dY^T X)[r_j, c_j] = X[:, c_j] . dY[:, r_j]; it is computed for the active entries
only (a sampled dense-dense matrix product, ``torch.sparse.sampled_addmm`` on a CSR pattern built
once per index set) in O(b d_phi) instead of the O(b d_in d_out) of ``X^T dY``-then-gather.
The dense product is formed only when a selection window asks for it (SpIEL-AG's candidate
step, xlt.methods.spiel.selection) or when ``grad_mode="dense"`` (the thesis's implementation,
kept as a baseline).

qSpIEL (eq. 7.8): the base layer may be a bitsandbytes ``Linear4bit`` (NF4, double quantised);
its weight is dequantised on use, in the forward and again in the backward pass.

The budget (§7.3 footnote 2, §7.4.4): d_phi is split across the target tensors in proportion to
their size (the same density everywhere); a LoRA-rank equivalent is r x sum(d_in + d_out) over
the targets (2,498,560 per rank for Llama-2-7B).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from math import prod
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from xlt.methods.core.sft import INT32_LIMIT, SparseDelta, SparseFineTuning

GRAD_MODES = ("sparse", "dense")
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- base layers
def is_4bit(module: nn.Module) -> bool:
    """A bitsandbytes 4-bit linear layer (qSpIEL's NF4 base weights)."""
    return type(module).__name__ == "Linear4bit" and hasattr(module.weight, "quant_state")


def is_target_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or is_4bit(module)


def linear_shape(module: nn.Module) -> tuple[int, int]:
    """(out_features, in_features) of a dense or 4-bit linear layer."""
    return int(module.out_features), int(module.in_features)


def dense_base_weight(module: nn.Module, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The base weight as a dense ``out x in`` tensor (dequantised for a 4-bit layer: a fresh tensor)."""
    if is_4bit(module):
        import bitsandbytes.functional as bnbf

        weight = bnbf.dequantize_4bit(module.weight.data, module.weight.quant_state)
        return weight if dtype is None else weight.to(dtype)
    weight = module.weight.detach()
    return weight if dtype is None else weight.to(dtype)


def find_target_linears(root: nn.Module, targets: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Linear layers of ``root`` by qualified name: all of them (the default: every linear layer
    of the transformer blocks when ``root`` is the body), or those whose last name component
    (e.g. ``q_proj``) or full name is in ``targets``."""
    wanted = set(targets) if targets is not None else None
    found = {}
    for name, module in root.named_modules():
        if isinstance(module, SpielLinear) or not is_target_linear(module):
            continue
        if any(name.startswith(f"{other}.") for other in found):
            continue
        if wanted is None or name in wanted or name.rsplit(".", 1)[-1] in wanted:
            found[name] = module
    return found


# ----------------------------------------------------------------------------- budget
def lora_equivalent_budget(modules: Mapping[str, nn.Module], rank: int) -> int:
    """d_phi of a LoRA of rank r on the same layers: r x sum(d_in + d_out) (§7.4.4)."""
    return rank * sum(sum(linear_shape(m)) for m in modules.values())


def allocate_budget(numels: Mapping[str, int], total: int) -> dict[str, int]:
    """Split ``total`` entries across tensors in proportion to their size (largest remainder,
    so the parts sum to ``total`` exactly and no tensor gets more entries than it has)."""
    capacity = sum(numels.values())
    if not 0 <= total <= capacity:
        raise ValueError(f"budget {total} outside [0, {capacity}]")
    exact = {name: total * numel / capacity for name, numel in numels.items()}
    parts = {name: int(value) for name, value in exact.items()}
    remainder = total - sum(parts.values())
    order = sorted(numels, key=lambda name: (-(exact[name] - parts[name]), name))
    for name in order:
        if remainder == 0:
            break
        if parts[name] < numels[name]:
            parts[name] += 1
            remainder -= 1
    return parts


def index_dtype(numel: int) -> torch.dtype:
    return torch.int32 if numel < INT32_LIMIT else torch.int64


def random_indices(numel: int, k: int, generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """A uniformly random sorted subset of k flat indices (eta's initialisation, Algorithm 2 line 4).

    For a small fraction of a large tensor, distinct values of i.i.d. draws (topped up until there
    are k, then a uniformly random k of them) avoid a permutation of all ``numel`` positions."""
    if 4 * k > numel:
        chosen = torch.randperm(numel, generator=generator)[:k]
    else:
        chosen = torch.zeros(0, dtype=torch.int64)
        while chosen.numel() < k:
            draws = torch.randint(numel, (int(1.05 * (k - chosen.numel())) + 16,), generator=generator)
            chosen = torch.unique(torch.cat([chosen, draws]))
        chosen = chosen[torch.randperm(chosen.numel(), generator=generator)[:k]]
    return torch.sort(chosen).values.to(index_dtype(numel)).to(device)


# ----------------------------------------------------------------------------- the delta gradient
@dataclass
class CSRPattern:
    """The active entries of an ``out x in`` matrix as CSR row pointers and column indices."""

    crow: torch.Tensor  # (out + 1,)
    cols: torch.Tensor  # (N,)
    shape: tuple[int, int]

    @classmethod
    def from_flat(cls, flat: torch.Tensor, shape: tuple[int, int]) -> CSRPattern:
        """From SORTED flat row-major indices."""
        out_features, in_features = shape
        flat = flat.long()
        rows = flat // in_features
        crow = torch.zeros(out_features + 1, dtype=torch.int64, device=flat.device)
        if flat.numel():
            crow[1:] = torch.cumsum(torch.bincount(rows, minlength=out_features), 0)
        return cls(crow, (flat - rows * in_features), shape)


_SDDMM_OK: dict[str, bool] = {}
"""Per device type: whether ``torch.sparse.sampled_addmm`` works there. After its first failure on a
device type the process uses the chunked fallback there, with one warning that says why."""


def sparse_delta_grad(x: torch.Tensor, dy: torch.Tensor, pattern: CSRPattern) -> torch.Tensor:
    """(dY^T X) at the pattern's entries, in float32, without forming the dense product (E.4).

    ``x``: ``b x in``, ``dy``: ``b x out``. The sampled product runs row by row over the pattern,
    one length-b dot product per active entry: O(b N) work and O(N) output. Inputs are given to
    the kernel in the layouts it reads contiguously (rows of dY^T, columns of X)."""
    n = pattern.cols.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.float32, device=x.device)
    device = x.device.type
    if _SDDMM_OK.get(device, True):
        try:
            dy_t = dy.float().t().contiguous()  # out x b
            x_cols = x.float().t().contiguous().t()  # b x in, column-major: X[:, c] contiguous
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
                template = torch.sparse_csr_tensor(pattern.crow, pattern.cols,
                                                   torch.zeros(n, dtype=torch.float32, device=x.device),
                                                   size=pattern.shape, check_invariants=False)
                return torch.sparse.sampled_addmm(template, dy_t, x_cols, beta=0.0).values()
        except (RuntimeError, NotImplementedError) as error:
            _SDDMM_OK[device] = False
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            log.warning("SpIEL: torch.sparse.sampled_addmm failed on %s (%s: %s); the sparse delta gradient "
                        "(Appendix E.4) uses the slower chunked gather for the rest of this process",
                        device, type(error).__name__, reason)
    return _gathered_delta_grad(x, dy, pattern)


def _gathered_delta_grad(x: torch.Tensor, dy: torch.Tensor, pattern: CSRPattern,
                         chunk_elements: int = 1 << 24) -> torch.Tensor:
    """Fallback of :func:`sparse_delta_grad`: gathered column pairs, in chunks of bounded size."""
    rows = torch.repeat_interleave(torch.arange(pattern.shape[0], device=x.device), torch.diff(pattern.crow))
    x_t = x.float().t().contiguous()
    dy_t = dy.float().t().contiguous()
    step = max(1, chunk_elements // max(1, x.shape[0]))
    out = torch.empty(rows.numel(), dtype=torch.float32, device=x.device)
    for start in range(0, rows.numel(), step):
        r = rows[start:start + step]
        c = pattern.cols[start:start + step]
        out[start:start + step] = (dy_t[r] * x_t[c]).sum(1)
    return out


def dense_delta_grad(x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """The dense ``out x in`` gradient dY^T X that eq. 7.4 gathers from, in the backward pass's dtype
    (``dy``'s: bfloat16 in a bfloat16 run, as autograd computes a linear layer's weight gradient there,
    with float32 accumulation inside the GEMM), so the thesis's implementation is measured as it ran."""
    return dy.t() @ x.to(dy.dtype)


# ----------------------------------------------------------------------------- the layer
class GradientObserver(Protocol):
    """Selection-window hooks called from the backward pass (SpIEL-AG's gradient estimation)."""

    def wants_dense(self, layer: SpielLinear) -> bool: ...

    def observe_dense(self, layer: SpielLinear, grad: torch.Tensor) -> None: ...

    def observe_sparse(self, layer: SpielLinear, x: torch.Tensor, dy: torch.Tensor) -> None: ...


class _SparseDeltaLinear(torch.autograd.Function):
    """y = x (W + scatter(eta, phi))^T + b with W frozen; gradients for x and phi only."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, values: torch.Tensor, layer: SpielLinear) -> torch.Tensor:
        dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
        weight = layer.merged_weight(values, dtype)
        bias = layer.base.bias
        out = F.linear(x.to(dtype), weight, None if bias is None else bias.to(dtype))
        ctx.layer = layer
        ctx.indices_version = layer.indices_version()
        ctx.save_for_backward(x, values)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        x, values = ctx.saved_tensors
        layer: SpielLinear = ctx.layer
        if layer.indices_version() != ctx.indices_version:
            raise RuntimeError("SpIEL indices changed between the forward and the backward pass")
        grad_x = grad_values = None
        if ctx.needs_input_grad[0]:
            weight = layer.merged_weight(values.detach(), grad_out.dtype)
            grad_x = (grad_out @ weight).to(x.dtype)
        if ctx.needs_input_grad[1] or layer.observer is not None:
            x2 = x.reshape(-1, x.shape[-1])
            dy2 = grad_out.reshape(-1, grad_out.shape[-1])
            grad_values = layer.delta_gradient(x2, dy2).to(values.dtype)
            if not ctx.needs_input_grad[1]:
                grad_values = None
        return grad_x, grad_values, None


class SpielLinear(nn.Module):
    """A frozen linear layer (dense or NF4) plus a trainable sparse delta (eta, phi).

    ``indices`` is a buffer that training rewrites (drop/grow): it is declared a trained buffer, so
    checkpoints, finished-phase records and best-state snapshots keep it with the values
    (xlt.training.resume)."""

    trained_buffers = ("indices",)

    def __init__(self, base: nn.Module, indices: torch.Tensor, values: torch.Tensor | None = None,
                 values_dtype: torch.dtype = torch.float32):
        super().__init__()
        self.base = base
        self.shape = linear_shape(base)
        numel = prod(self.shape)
        indices = torch.as_tensor(indices)
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= numel):
            raise ValueError(f"indices out of range for a {self.shape} weight")
        order = torch.argsort(indices.long())
        device = base.weight.device
        self.register_buffer("indices", indices.long()[order].to(index_dtype(numel)).to(device))
        if values is None:
            values = torch.zeros(indices.numel(), dtype=values_dtype)
        elif values.shape != indices.shape:
            raise ValueError("values and indices differ in length")
        self.values = nn.Parameter(values.detach().to(device)[order.to(device)].clone())
        if torch.unique(self.indices).numel() != self.indices.numel():
            raise ValueError("duplicate SpIEL indices")
        self.grad_mode = "sparse"
        self.observer: GradientObserver | None = None
        self._pattern: tuple[tuple[int, int, str], CSRPattern] | None = None

    # ------------------------------------------------------------------ the wrapped layer's attributes
    @property
    def weight(self) -> nn.Parameter:
        """The frozen base weight (code that inspects ``.weight`` keeps working)."""
        return self.base.weight

    @property
    def bias(self) -> nn.Parameter | None:
        return self.base.bias

    @property
    def in_features(self) -> int:
        return self.shape[1]

    @property
    def out_features(self) -> int:
        return self.shape[0]

    # ------------------------------------------------------------------ indices
    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def num_entries(self) -> int:
        return int(self.indices.numel())

    def indices_version(self) -> tuple[int, int]:
        return (self.indices.data_ptr(), self.indices._version)

    def pattern(self) -> CSRPattern:
        """CSR pattern of the active entries (rebuilt only after the indices change)."""
        key = (*self.indices_version(), str(self.indices.device))
        if self._pattern is None or self._pattern[0] != key:
            self._pattern = (key, CSRPattern.from_flat(self.indices, self.shape))
        return self._pattern[1]

    @torch.no_grad()
    def set_entries(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Replace (eta, phi) in place (the Parameter object stays the same, so optimisers keep
        it); sorts by index and returns the permutation applied (for per-entry optimiser state)."""
        if indices.shape != self.indices.shape:
            raise ValueError("the number of entries of a SpIEL layer is fixed")
        order = torch.argsort(indices.long())
        self.indices.copy_(indices.to(self.indices.dtype)[order])
        self.values.data.copy_(values.to(self.values.dtype)[order])
        return order

    # ------------------------------------------------------------------ weights
    def merged_weight(self, values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """W + scatter(eta, phi) as a fresh dense ``out x in`` tensor of ``dtype`` (eq. 7.2/7.8);
        each touched entry is summed in float32 and rounded once."""
        base = dense_base_weight(self.base)  # dequantised: already a fresh tensor
        weight = base.to(dtype) if is_4bit(self.base) else base.to(dtype, copy=True)
        index = self.indices.long()
        flat_base = base.reshape(-1)
        weight.view(-1)[index] = (flat_base[index].float() + values.detach().float()).to(dtype)
        return weight

    def delta(self) -> torch.Tensor:
        """The dense delta scatter(eta, phi) (for tests and inspection)."""
        dense = torch.zeros(self.numel, dtype=self.values.dtype, device=self.values.device)
        dense[self.indices.long()] = self.values.detach()
        return dense.view(self.shape)

    # ------------------------------------------------------------------ autograd
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
            bias = None if self.base.bias is None else self.base.bias.to(dtype)
            return F.linear(x.to(dtype), self.merged_weight(self.values, dtype), bias)
        return _SparseDeltaLinear.apply(x, self.values, self)

    def delta_gradient(self, x: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
        """Gradient of phi from a ``b x in`` input and ``b x out`` output gradient (E.4)."""
        observer = self.observer
        wants_dense = observer is not None and observer.wants_dense(self)
        dense = dense_delta_grad(x, dy) if wants_dense or self.grad_mode == "dense" else None
        if self.grad_mode == "dense":
            assert dense is not None
            grad = dense.view(-1)[self.indices.long()]
        else:  # also when the observer takes the dense gradient: phi's gradient always comes from one kernel
            grad = sparse_delta_grad(x, dy, self.pattern())
        if wants_dense:
            observer.observe_dense(self, dense)
        elif observer is not None:
            observer.observe_sparse(self, x, dy)
        return grad

    def extra_repr(self) -> str:
        return f"shape={self.shape}, entries={self.num_entries}, base={type(self.base).__name__}"


# ----------------------------------------------------------------------------- attaching
def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


class SpielModules:
    """The SpIEL layers attached to a model (by qualified name relative to ``root``)."""

    def __init__(self, root: nn.Module, layers: dict[str, SpielLinear]):
        self.root = root
        self.layers = layers
        self.saved: list[tuple[nn.Parameter, torch.Tensor]] = []  # (parameter, original): a copied task head

    def __iter__(self) -> Iterator[tuple[str, SpielLinear]]:
        return iter(self.layers.items())

    @property
    def num_entries(self) -> int:
        return sum(layer.num_entries for layer in self.layers.values())

    def parameters(self) -> list[nn.Parameter]:
        return [layer.values for layer in self.layers.values()]

    def set_grad_mode(self, mode: str) -> None:
        if mode not in GRAD_MODES:
            raise ValueError(f"grad_mode {mode!r}: expected one of {GRAD_MODES}")
        for layer in self.layers.values():
            layer.grad_mode = mode

    def to_sft(self, meta: Mapping[str, Any] | None = None) -> SparseFineTuning:
        """The deltas as an SFT artifact: ``<layer>.weight`` -> flat row-major indices + values."""
        diffs = {}
        for name, layer in self.layers.items():
            diffs[f"{name}.weight"] = SparseDelta(
                layer.shape, layer.values.detach().cpu().clone(), layer.indices.detach().cpu().clone())
        return SparseFineTuning(diffs, {}, dict(meta or {}))

    def remove(self) -> None:
        """Put the original base layers back (the deltas are dropped), and any copied head's originals."""
        for name, layer in self.layers.items():
            _set_submodule(self.root, name, layer.base)
        self.layers = {}
        with torch.no_grad():
            for param, original in reversed(self.saved):
                param.copy_(original)
        self.saved.clear()

    @torch.no_grad()
    def merge(self) -> None:
        """Add the deltas into the (dense) base weights, then remove the SpIEL layers."""
        for layer in self.layers.values():
            if is_4bit(layer.base):
                raise ValueError("cannot merge a sparse delta into 4-bit weights; merge into the unquantised base")
            flat = layer.base.weight.data.view(-1)
            index = layer.indices.long()
            flat[index] = (flat[index].float() + layer.values.float()).to(flat.dtype)
        self.saved.clear()  # merged for good: a copied head stays too
        self.remove()


def attach_spiel(root: nn.Module, num_entries: int, targets: Iterable[str] | None = None, seed: int = 0,
                 values_dtype: torch.dtype = torch.float32) -> SpielModules:
    """Wrap the target linear layers of ``root`` in :class:`SpielLinear` with ``num_entries``
    entries in total (split in proportion to size), at uniformly random initial indices and
    zero values; every base parameter of the wrapped layers is frozen."""
    modules = find_target_linears(root, targets)
    if not modules:
        raise ValueError(f"no linear layers match the SpIEL targets {list(targets) if targets else 'all'}")
    budget = allocate_budget({name: prod(linear_shape(m)) for name, m in modules.items()}, num_entries)
    generator = torch.Generator().manual_seed(seed)
    layers: dict[str, SpielLinear] = {}
    for name, module in modules.items():
        for param in module.parameters():
            param.requires_grad_(False)
        indices = random_indices(prod(linear_shape(module)), budget[name], generator)
        layer = SpielLinear(module, indices, values_dtype=values_dtype)
        _set_submodule(root, name, layer)
        layers[name] = layer
    return SpielModules(root, layers)


def attach_sft_as_spiel(root: nn.Module, sft: SparseFineTuning, trainable: bool = False) -> SpielModules:
    """Wrap the layers an SFT touches so that it applies on the fly (e.g. on NF4 weights, where it
    cannot be added in place). Diffs of tensors that are not linear weights are an error."""
    layers: dict[str, SpielLinear] = {}
    for key, delta in sft.diffs.items():
        name = key[: -len(".weight")] if key.endswith(".weight") else None
        module = root.get_submodule(name) if name else None
        if module is None or not is_target_linear(module):
            raise ValueError(f"SFT diff {key!r} is not the weight of a linear layer")
        if tuple(delta.shape) != linear_shape(module):
            raise ValueError(f"SFT diff {key!r} has shape {delta.shape}, the layer has {linear_shape(module)}")
        layer = SpielLinear(module, delta.flat_indices().cpu(), delta.flat_values().cpu(),
                            values_dtype=delta.values.dtype)
        layer.values.requires_grad_(trainable)
        _set_submodule(root, name, layer)
        layers[name] = layer
    return SpielModules(root, layers)
