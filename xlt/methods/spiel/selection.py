"""SpIEL's index updates: the drop/grow schedule, SpIEL-AG and SpIEL-MA (thesis §7.3.1-7.3.2,
Algorithms 2 and 3, eqs. 7.5-7.7, Appendix E.2).

Schedule: the k-th update happens at optimiser step t = gamma + k S (S = 20, gamma = 5), after a
gradient-estimation window made of steps t - gamma + 1 .. t. The first update replaces every
entry (the initial indices are random, eq. 7.6); later ones replace
k(i, t) = xi (T - t) / T d_phi_i (linear, eq. 7.6) or xi / 2 (1 + cos(t pi / T)) d_phi_i (cosine,
eq. E.1), rounded down. Updates after the last step T do not happen.

Drop/grow (both variants): DROP the k entries with the smallest |phi| (the least change from the
pre-trained weights); GROW the k best-scoring candidates that are not among the retained
entries. A dropped entry that is also chosen for growth simply stays (with its value and
optimiser state; only SpIEL-AG's candidates can include dropped entries, see SpIEL-MA below);
every other grown entry starts at phi = 0. Candidates with a zero score are
never grown, so an update may replace fewer than k entries; the budget never changes and no
index is ever duplicated. Entries are kept sorted by index (the CSR pattern of the sparse
backward needs it) and per-entry optimiser state is permuted along.

SpIEL-AG: growth candidates are the top-K_i |grad| entries (K_i = d_phi_i) of the dense gradient of
the window's first (micro-)batch, the only dense gradient ever formed; over the window the
candidates' gradients (via the sparse backward at the candidate positions) and their squares are
accumulated per optimiser step; the score is |mean gradient| (eq. 7.5), and Adam's moments of the
grown entries are seeded from the window's mean and mean square with age gamma (spiel_optim).

SpIEL-MA: the score of an inactive entry (i, j) is (r_i c_j)^(1/4) from SM3's accumulators
(eq. 7.7), ranked in row chunks so that no more than one chunk of one layer's scores exists at
a time; no statistics are kept between updates. Growth ranks only entries outside eta, the
just-dropped ones included (as the reference code's ``select_sm3``): eq. 7.7 scores a row and a
column, not the entry, and a dropped entry's row and column are exactly those whose accumulators its
own updates raised, so admitting it would mostly undo the drop on evidence about its neighbours
(AG's score is the entry's own window gradient, so AG keeps the regrown-in-place rule). Every
dropped entry therefore gets a new index and phi = 0 (unless fewer candidates with a positive score
exist). SM3's accumulators are not reset by drop/grow (Algorithm 3 initialises r and c once, lines
6-7): they are the long-run memory that growth ranks by, they bound every entry's summed squared
gradient as SM3 requires (a grown entry's earlier gradients are zero), and lowering them would
enlarge the steps of the retained entries sharing the row or column (xlt.methods.spiel.optim).

Checkpointing: the selectors' ``state_dict``/``load_state_dict`` carry what lives between
optimiser steps (grown_at, the update reports and, for AG, the open windows), so that a phase
interrupted inside a selection window resumes exactly (xlt.training.resume); the indices are a
trained buffer of the layers and travel with the values.

Data parallel: every statistic a decision depends on is all-reduced (averaged, like DDP's
gradients) on a dedicated process group before it is used, so every rank picks the same
indices: the candidate step's dense gradients, each window step's candidate gradients, and
SM3's accumulators. The values phi are identical across ranks already.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from xlt.methods.spiel.optim import SparseSM3, SpielAdamW
from xlt.methods.spiel.sparse_linear import CSRPattern, SpielLinear, SpielModules, sparse_delta_grad

SCHEDULES = ("linear", "cosine")


# ----------------------------------------------------------------------------- schedule
@dataclass
class UpdateSchedule:
    """When SpIEL updates its indices and how many it replaces (eq. 7.6, E.1)."""

    total_steps: int
    interval: int = 20  # S
    window: int = 5  # gamma: length of the gradient-estimation phase (and step of the first update)
    replace_rate: float = 0.2  # xi: peak replacement rate after the first update
    kind: str = "linear"

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"schedule kind {self.kind!r}: expected one of {SCHEDULES}")
        if not 1 <= self.window <= self.interval:
            raise ValueError(f"window {self.window} must lie in [1, interval={self.interval}]")
        if not 0 <= self.replace_rate <= 1:
            raise ValueError(f"replace_rate {self.replace_rate} must lie in [0, 1]")

    def is_update_step(self, step: int) -> bool:
        return self.window <= step <= self.total_steps and (step - self.window) % self.interval == 0

    def in_window(self, step: int) -> bool:
        """Whether optimiser step ``step`` (1-based) estimates gradients for an upcoming update."""
        update = step + (self.window - 1 - (step - 1) % self.interval)
        return (step - 1) % self.interval < self.window and update <= self.total_steps

    def window_start(self, step: int) -> bool:
        return self.in_window(step) and (step - 1) % self.interval == 0

    def fraction(self, step: int) -> float:
        if step == self.window:
            return 1.0
        if self.kind == "linear":
            return self.replace_rate * (self.total_steps - step) / self.total_steps
        return self.replace_rate / 2 * (1 + math.cos(step * math.pi / self.total_steps))

    def num_replacements(self, step: int, entries: int) -> int:
        return min(entries, int(self.fraction(step) * entries))

    def update_steps(self) -> list[int]:
        return list(range(self.window, self.total_steps + 1, self.interval))


# ----------------------------------------------------------------------------- drop / grow
@dataclass
class DropGrow:
    """Result of one layer's update: which slots of the values vector get which new index."""

    slots: torch.Tensor  # positions in the (sorted) entries that are replaced
    new_indices: torch.Tensor  # their new flat indices
    candidate_positions: torch.Tensor  # positions of the new indices in the candidate list
    dropped: int  # entries dropped (k), including those regrown in place


def drop_and_grow(indices: torch.Tensor, values: torch.Tensor, k: int, candidates: torch.Tensor,
                  scores: torch.Tensor) -> DropGrow:
    """Drop the k smallest |values|, grow the best-scoring candidates not retained (module docstring).

    ``indices`` must be sorted; ties are broken by position (stable sorts), so the result is a
    pure function of the inputs."""
    device = indices.device
    n = indices.numel()
    k = min(k, n)
    empty = torch.zeros(0, dtype=torch.long, device=device)
    if k == 0 or candidates.numel() == 0:
        return DropGrow(empty, empty.to(indices.dtype), empty, 0)
    drop = torch.sort(values.detach().abs().float(), stable=True).indices[:k]
    retained = torch.ones(n, dtype=torch.bool, device=device)
    retained[drop] = False
    kept = indices[retained].long()  # still sorted
    flat = candidates.long()
    position = torch.searchsorted(kept, flat).clamp(max=max(kept.numel() - 1, 0))
    is_kept = (kept[position] == flat) if kept.numel() else torch.zeros_like(flat, dtype=torch.bool)
    valid = (~is_kept) & (scores > 0)
    valid_positions = torch.nonzero(valid).flatten()
    order = torch.sort(scores[valid_positions].float(), descending=True, stable=True).indices
    chosen = valid_positions[order[:k]]
    grown = flat[chosen]
    dropped_flat = indices[drop].long()
    regrown = torch.isin(grown, dropped_flat)
    new_positions = chosen[~regrown]
    new_indices = grown[~regrown]
    free_slots = drop[~torch.isin(dropped_flat, grown)]  # in drop order: smallest |phi| first
    slots = free_slots[: new_indices.numel()]
    return DropGrow(slots, new_indices.to(indices.dtype), new_positions, k)


def top_outer_product(row: torch.Tensor, col: torch.Tensor, k: int, exclude: torch.Tensor,
                      chunk_elements: int = 1 << 22) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest entries of the outer product row x col (flat row-major index, value),
    skipping the sorted flat indices ``exclude``, computed in row chunks of at most
    ``chunk_elements`` scores (never the whole matrix)."""
    n_rows, n_cols = row.numel(), col.numel()
    best_index = torch.zeros(0, dtype=torch.long, device=row.device)
    best_score = torch.zeros(0, dtype=torch.float32, device=row.device)
    if k <= 0:
        return best_index, best_score
    exclude = exclude.long()
    chunk_rows = max(1, chunk_elements // max(1, n_cols))
    for start in range(0, n_rows, chunk_rows):
        stop = min(n_rows, start + chunk_rows)
        block = torch.outer(row[start:stop].float(), col.float()).view(-1)
        lo, hi = torch.searchsorted(exclude, torch.tensor([start * n_cols, stop * n_cols], device=exclude.device))
        block[exclude[int(lo):int(hi)] - start * n_cols] = -math.inf
        score, local = torch.topk(block, min(k, block.numel()))
        merged_index = torch.cat([best_index, local + start * n_cols])
        merged_score = torch.cat([best_score, score])
        order = torch.sort(merged_score, descending=True, stable=True).indices[:k]
        best_index, best_score = merged_index[order], merged_score[order]
    keep = best_score > -math.inf
    return best_index[keep], best_score[keep]


# ----------------------------------------------------------------------------- distributed
class Reducer:
    """Averages tensors over the ranks of a dedicated process group (a no-op on one process)."""

    def __init__(self, group: Any = None):
        self.group = group
        self.world = 1
        try:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                self.group = group if group is not None else dist.new_group()
                self.world = dist.get_world_size(self.group)
        except (ImportError, RuntimeError):
            self.world = 1

    def mean_(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=self.group)
            tensor.div_(self.world)
        return tensor


# ----------------------------------------------------------------------------- selectors
@dataclass
class LayerUpdate:
    replaced: int
    dropped: int


@dataclass
class UpdateReport:
    step: int
    layers: dict[str, LayerUpdate] = field(default_factory=dict)

    @property
    def replaced(self) -> int:
        return sum(update.replaced for update in self.layers.values())

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "layers": {name: [u.replaced, u.dropped] for name, u in self.layers.items()}}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> UpdateReport:
        return cls(int(state["step"]), {name: LayerUpdate(int(r), int(d)) for name, (r, d) in state["layers"].items()})


class _Selector:
    """Shared bookkeeping: the schedule, and the step at which each entry was last grown."""

    def __init__(self, modules: SpielModules, optimizer: Any, schedule: UpdateSchedule, group: Any = None):
        self.modules = modules
        self.optimizer = optimizer
        self.schedule = schedule
        self.reducer = Reducer(group)
        self.grown_at = {name: torch.zeros(layer.num_entries, dtype=torch.int32, device=layer.values.device)
                         for name, layer in modules}
        self.reports: list[UpdateReport] = []

    # hooks the training loop calls (a Lightning callback in xlt.training)
    def begin_micro_batch(self, step: int, first: bool) -> None:
        """Before the forward pass of a micro-batch of optimiser step ``step`` (1-based)."""

    def before_optimizer_step(self, step: int) -> None:
        """After the last backward pass of step ``step``, before the optimiser updates phi."""

    def after_optimizer_step(self, step: int) -> UpdateReport | None:
        if not self.schedule.is_update_step(step):
            return None
        report = self.update(step)
        self.reports.append(report)
        return report

    def update(self, step: int) -> UpdateReport:
        raise NotImplementedError

    @torch.no_grad()
    def _apply(self, name: str, layer: SpielLinear, result: DropGrow, step: int,
               seed: tuple[torch.Tensor, torch.Tensor, int] | None) -> LayerUpdate:
        indices = layer.indices.clone()
        values = layer.values.detach().clone()
        slots = result.slots
        indices[slots] = result.new_indices.to(indices.device, indices.dtype)
        values[slots] = 0
        if seed is not None:
            mean, mean_sq, age = seed
            self.optimizer.seed(layer.values, slots, mean, mean_sq, age)
        else:
            self.optimizer.reset(layer.values, slots)
        grown_at = self.grown_at[name]
        grown_at[slots] = step
        order = layer.set_entries(indices, values)
        self.optimizer.permute(layer.values, order)
        self.grown_at[name] = grown_at[order]
        return LayerUpdate(int(slots.numel()), result.dropped)

    # checkpointing (a resumed phase continues exactly; xlt.training.resume)
    def state_dict(self) -> dict[str, Any]:
        """Everything the selector carries between optimiser steps (tensors are not copied).
        The indices and values live in the layers, per-entry optimiser state in the optimiser."""
        return {"grown_at": dict(self.grown_at), "reports": [report.to_dict() for report in self.reports]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (from a selector over the same layers)."""
        self._check_layers(state["grown_at"], "grown_at", exact=True)
        for name, layer in self.modules:
            grown_at = state["grown_at"][name]
            if grown_at.shape != self.grown_at[name].shape:
                raise ValueError(f"SpIEL selector state: grown_at of {name!r} has {grown_at.numel()} entries, "
                                 f"the layer has {layer.num_entries}")
            self.grown_at[name] = grown_at.to(self.grown_at[name].device, torch.int32, copy=True)
        self.reports = [UpdateReport.from_dict(report) for report in state["reports"]]

    def _check_layers(self, names: Any, what: str, exact: bool = False) -> None:
        layers = {name for name, _ in self.modules}
        if not set(names) <= layers or (exact and set(names) != layers):
            other = sorted(set(names) ^ layers)
            raise ValueError(f"SpIEL selector state: {what} is for other layers than this model's (e.g. {other[0]!r})")

    def age_histogram(self) -> dict[int, int]:
        """How many entries were last grown at each step (0 = initial random indices; §7.5.3)."""
        steps, counts = torch.unique(torch.cat([g.cpu() for g in self.grown_at.values()]), return_counts=True)
        return {int(s): int(c) for s, c in zip(steps, counts)}


@dataclass
class _Window:
    candidates: torch.Tensor
    pattern: CSRPattern
    step_grad: torch.Tensor
    grad_sum: torch.Tensor
    grad_sq_sum: torch.Tensor
    steps: int = 0


class SpielAG(_Selector):
    """Accumulated-gradient SpIEL (§7.3.1): the selection-window observer of every layer."""

    def __init__(self, modules: SpielModules, optimizer: SpielAdamW, schedule: UpdateSchedule,
                 candidates: Mapping[str, int] | None = None, group: Any = None):
        super().__init__(modules, optimizer, schedule, group)
        self.num_candidates = {name: int((candidates or {}).get(name, layer.num_entries)) for name, layer in modules}
        self._names = {id(layer): name for name, layer in modules}
        self.windows: dict[str, _Window] = {}
        self._dense_pending: set[str] = set()

    # -------------------------------------------------------------- checkpointing
    def state_dict(self) -> dict[str, Any]:
        """Adds the open selection windows (candidates and their accumulated statistics; the CSR
        pattern is rebuilt from the candidates) and the layers still waiting for a dense gradient."""
        windows = {name: {"candidates": w.candidates, "step_grad": w.step_grad, "grad_sum": w.grad_sum,
                          "grad_sq_sum": w.grad_sq_sum, "steps": w.steps} for name, w in self.windows.items()}
        return {**super().state_dict(), "windows": windows, "dense_pending": sorted(self._dense_pending)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self._check_layers(state["windows"], "windows")
        self._check_layers(state["dense_pending"], "dense_pending")
        self.windows = {}
        for name, layer in self.modules:
            saved = state["windows"].get(name)
            if saved is None:
                continue
            device = layer.values.device
            candidates = saved["candidates"].to(device, copy=True)
            self.windows[name] = _Window(
                candidates, CSRPattern.from_flat(candidates, layer.shape),
                *(saved[key].to(device, torch.float32, copy=True) for key in ("step_grad", "grad_sum", "grad_sq_sum")),
                steps=int(saved["steps"]))
        self._dense_pending = set(state["dense_pending"])

    # -------------------------------------------------------------- GradientObserver
    def wants_dense(self, layer: SpielLinear) -> bool:
        return self._names[id(layer)] in self._dense_pending

    @torch.no_grad()
    def observe_dense(self, layer: SpielLinear, grad: torch.Tensor) -> None:
        name = self._names[id(layer)]
        self.reducer.mean_(grad)
        flat = grad.view(-1)
        k = min(self.num_candidates[name], flat.numel())
        candidates = torch.sort(torch.topk(flat.abs(), k, sorted=False).indices).values
        step_grad = flat[candidates].float()  # window statistics in float32, whatever the run's dtype
        self.windows[name] = _Window(candidates, CSRPattern.from_flat(candidates, layer.shape), step_grad,
                                     torch.zeros_like(step_grad), torch.zeros_like(step_grad))
        self._dense_pending.discard(name)

    @torch.no_grad()
    def observe_sparse(self, layer: SpielLinear, x: torch.Tensor, dy: torch.Tensor) -> None:
        window = self.windows.get(self._names[id(layer)])
        if window is not None:
            window.step_grad += sparse_delta_grad(x, dy, window.pattern)

    # -------------------------------------------------------------- training-loop hooks
    def begin_micro_batch(self, step: int, first: bool) -> None:
        if not self.schedule.in_window(step):
            for _, layer in self.modules:
                layer.observer = None
            return
        for name, layer in self.modules:
            layer.observer = self
            if first and self.schedule.window_start(step):
                self._dense_pending.add(name)
                self.windows.pop(name, None)

    @torch.no_grad()
    def before_optimizer_step(self, step: int) -> None:
        if not self.schedule.in_window(step):
            return
        for window in self.windows.values():
            grad = self.reducer.mean_(window.step_grad)  # the step's full-batch gradient at the candidates
            window.grad_sum += grad
            window.grad_sq_sum.addcmul_(grad, grad)
            window.steps += 1
            window.step_grad.zero_()

    @torch.no_grad()
    def update(self, step: int) -> UpdateReport:
        report = UpdateReport(step)
        for name, layer in self.modules:
            layer.observer = None
            window = self.windows.pop(name, None)
            if window is None or window.steps == 0:
                continue
            mean = window.grad_sum / window.steps
            mean_sq = window.grad_sq_sum / window.steps
            k = self.schedule.num_replacements(step, layer.num_entries)
            result = drop_and_grow(layer.indices, layer.values, k, window.candidates, mean.abs())
            positions = result.candidate_positions
            report.layers[name] = self._apply(name, layer, result, step,
                                              (mean[positions], mean_sq[positions], window.steps))
        self._dense_pending.clear()
        return report


class SpielMA(_Selector):
    """Momentum-approximation SpIEL (§7.3.2): growth by (r_i c_j)^(1/4) from SM3's accumulators."""

    def __init__(self, modules: SpielModules, optimizer: SparseSM3, schedule: UpdateSchedule,
                 chunk_elements: int = 1 << 22, group: Any = None):
        super().__init__(modules, optimizer, schedule, group)
        self.chunk_elements = chunk_elements

    def growth_candidates(self, layer: SpielLinear, k: int,
                          exclude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-k entries by (r_i c_j)^(1/4) outside the sorted flat indices ``exclude`` (flat indices, scores)."""
        row, col = self.optimizer.accumulators(layer.values)
        row = self.reducer.mean_(row.clone())
        col = self.reducer.mean_(col.clone())
        index, product = top_outer_product(row, col, k, exclude, self.chunk_elements)
        return index, product.clamp(min=0).pow(0.25)

    @torch.no_grad()
    def update(self, step: int) -> UpdateReport:
        report = UpdateReport(step)
        for name, layer in self.modules:
            k = self.schedule.num_replacements(step, layer.num_entries)
            if k == 0:
                continue
            # growth over the entries outside eta: the dropped ones are not candidates (module docstring)
            candidates, scores = self.growth_candidates(layer, k, layer.indices)
            result = drop_and_grow(layer.indices, layer.values, k, candidates, scores)
            report.layers[name] = self._apply(name, layer, result, step, None)
        return report

