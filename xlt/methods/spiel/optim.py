"""Optimisers for SpIEL's sparse values (thesis §7.3.1-7.3.2).

:class:`SpielAdamW` is AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with a per-entry
age: when SpIEL-AG grows an entry, its moments are seeded from the gradient-estimation window and
its bias correction continues from the window's length instead of from the global step (§7.3.1).
Seeding is consistent with Adam's own bias correction: after a window of ``a`` steps with mean
gradient g and mean squared gradient s, the raw moments are set to (1 - beta1^a) g and
(1 - beta2^a) s, so that the bias-corrected estimates are exactly g and s, as if Adam had seen
``a`` steps of those statistics. (The reference code stores g and s themselves as the raw moments
and then divides them by the bias correction again, inflating both.)

:class:`SparseSM3` is SM3-II (Anil et al., 2019) over the active entries of each weight matrix:
row and column accumulators r, c; for an active entry (i, j),
nu = min(r_i, c_j) + g^2, r_i <- max(r_i, nu), c_j <- max(c_j, nu), update g / sqrt(nu + eps).
It keeps r + c numbers per matrix instead of Adam's 2 per entry, and its accumulators are what
SpIEL-MA's growth criterion reads (eq. 7.7). Weight decay on phi is decoupled, towards 0, i.e.
towards the pre-trained weights.

Drop/grow leaves r and c as they are (Algorithm 3 initialises them once, lines 6-7; so does the
reference code): a newly grown entry (i, j) starts from nu = min(r_i, c_j) + g^2, the row's and
column's history, i.e. with a conservative step. SM3's invariant, nu >= the entry's summed squared
gradients, still holds (its gradients while inactive were zero), whereas resetting r_i or c_j would
shrink nu for the retained entries of that row or column, enlarge their steps, and erase the
long-run statistics SpIEL-MA's growth ranks by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn


class _Float32State(torch.optim.Optimizer):
    """Base of the SpIEL optimisers: the step loop (each parameter with a gradient goes to ``_update``
    as float32), and float32 state kept through ``load_state_dict`` (torch casts floating state to its
    parameter's dtype, which would round the moments/accumulators of bfloat16 values)."""

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        saved_ids = [i for group in state_dict["param_groups"] for i in group["params"]]
        params = [p for group in self.param_groups for p in group["params"]]
        for saved_id, param in zip(saved_ids, params):
            for key, value in state_dict["state"].get(saved_id, {}).items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    self.state[param][key] = value.to(param.device, copy=True)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad.float(), group)
        return loss

    def _update(self, param: nn.Parameter, grad: torch.Tensor, group: dict) -> None:
        raise NotImplementedError


class SpielAdamW(_Float32State):
    """AdamW with per-entry ages, and state surgery for drop/grow (seed, reset, permute)."""

    def __init__(self, params: Iterable[nn.Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid SpielAdamW settings lr={lr} betas={betas} eps={eps} weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    def _state(self, param: nn.Parameter) -> dict[str, torch.Tensor]:
        state = self.state[param]
        if not state:
            state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32)
            state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32)
            state["age"] = torch.zeros_like(param, dtype=torch.float32)
        return state

    def _update(self, param: nn.Parameter, grad: torch.Tensor, group: dict) -> None:
        beta1, beta2 = group["betas"]
        lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
        state = self._state(param)
        exp_avg, exp_avg_sq, age = state["exp_avg"], state["exp_avg_sq"], state["age"]
        age.add_(1)
        if decay:
            param.mul_(1 - lr * decay)
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - torch.pow(beta1, age)
        bias2 = 1 - torch.pow(beta2, age)
        denom = (exp_avg_sq / bias2).sqrt_().add_(eps)
        update = (exp_avg / bias1).div_(denom).mul_(lr)
        param.sub_(update.to(param.dtype))

    # ------------------------------------------------------------------ drop/grow surgery
    @torch.no_grad()
    def seed(self, param: nn.Parameter, slots: torch.Tensor, mean_grad: torch.Tensor, mean_sq_grad: torch.Tensor,
             age: int | torch.Tensor) -> None:
        """Moments of newly grown entries from a window of ``age`` steps (see module docstring);
        ``age == 0`` resets them to a fresh start."""
        state = self._state(param)
        beta1, beta2 = self.param_groups[0]["betas"]
        age_t = torch.as_tensor(age, dtype=torch.float32, device=param.device).expand(slots.shape)
        state["exp_avg"][slots] = (1 - torch.pow(beta1, age_t)) * mean_grad.float()
        state["exp_avg_sq"][slots] = (1 - torch.pow(beta2, age_t)) * mean_sq_grad.float()
        state["age"][slots] = age_t

    def reset(self, param: nn.Parameter, slots: torch.Tensor) -> None:
        zeros = torch.zeros(slots.shape, device=param.device)
        self.seed(param, slots, zeros, zeros, 0)

    @torch.no_grad()
    def permute(self, param: nn.Parameter, order: torch.Tensor) -> None:
        """Reorder per-entry state after the entries were sorted (new[i] = old[order[i]])."""
        for key, value in self.state.get(param, {}).items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                self.state[param][key] = value[order]


class SparseSM3(_Float32State):
    """SM3-II over the active entries of sparse deltas of 2-D weights.

    ``entries`` pairs each values parameter with its (live) flat-index tensor and weight shape;
    the index tensor may change between steps (drop/grow), in place: the accumulators are per
    row/column. (A resumed run restores the indices in place, so this reference stays valid.)
    A dense parameter (a task head trained beside the deltas) is an entry of its own: see
    :func:`dense_sm3_entry`.
    """

    def __init__(self, entries: Sequence[tuple[nn.Parameter, torch.Tensor, tuple[int, int]]], lr: float = 0.1,
                 eps: float = 1e-8, beta: float = 0.0, weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or not 0 <= beta < 1 or weight_decay < 0:
            raise ValueError(f"invalid SparseSM3 settings lr={lr} eps={eps} beta={beta} weight_decay={weight_decay}")
        params = [param for param, _, _ in entries]
        super().__init__(params, {"lr": lr, "eps": eps, "beta": beta, "weight_decay": weight_decay})
        self.layout = {param: (indices, tuple(shape)) for param, indices, shape in entries}

    def accumulators(self, param: nn.Parameter) -> tuple[torch.Tensor, torch.Tensor]:
        """(row accumulator r, column accumulator c) of ``param``'s weight matrix."""
        state = self.state[param]
        if not state:
            rows, cols = self.layout[param][1]
            state["row"] = torch.zeros(rows, dtype=torch.float32, device=param.device)
            state["col"] = torch.zeros(cols, dtype=torch.float32, device=param.device)
        return state["row"], state["col"]

    def _update(self, param: nn.Parameter, grad: torch.Tensor, group: dict) -> None:
        lr, eps, beta, decay = group["lr"], group["eps"], group["beta"], group["weight_decay"]
        indices, (_, n_cols) = self.layout[param]
        grad = grad.reshape(-1)
        flat = indices.long()
        rows = torch.div(flat, n_cols, rounding_mode="floor")
        cols = flat - rows * n_cols
        row_acc, col_acc = self.accumulators(param)
        nu = torch.minimum(row_acc[rows], col_acc[cols])
        if beta:
            nu.mul_(beta).addcmul_(grad, grad, value=1 - beta)
        else:
            nu.addcmul_(grad, grad)
        row_acc.scatter_reduce_(0, rows, nu, reduce="amax", include_self=True)
        col_acc.scatter_reduce_(0, cols, nu, reduce="amax", include_self=True)
        if decay:
            param.mul_(1 - lr * decay)
        update = torch.where(nu > 0, grad * torch.rsqrt(nu + eps), torch.zeros_like(grad))
        param.sub_((update * lr).to(param.dtype).view(param.shape))

    def seed(self, param: nn.Parameter, slots: torch.Tensor, *args: object) -> None:
        """SM3 has no per-entry state: nothing to seed for grown entries."""

    def reset(self, param: nn.Parameter, slots: torch.Tensor) -> None:
        """SM3 has no per-entry state."""

    def permute(self, param: nn.Parameter, order: torch.Tensor) -> None:
        """SM3 has no per-entry state."""


def dense_sm3_entry(param: nn.Parameter) -> tuple[nn.Parameter, torch.Tensor, tuple[int, int]]:
    """A dense parameter as a :class:`SparseSM3` entry with every entry active: a matrix (or a tensor of more
    dimensions, flattened after its first) gets SM3's row and column covers; a vector is one row, whose
    accumulator is at least every column's, so each entry's cover is its own (Adagrad; SM3-II's covers for a
    vector, Anil et al. 2019)."""
    rows = param.shape[0] if param.dim() > 1 else 1
    return param, torch.arange(param.numel(), device=param.device), (rows, param.numel() // rows)
