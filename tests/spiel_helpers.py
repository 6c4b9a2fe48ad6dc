"""Small models and a plain training loop for the SpIEL tests (no Lightning)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from xlt.methods.spiel.sparse_linear import SpielModules, attach_spiel


class TinyMLP(nn.Module):
    """Two linear layers with a nonlinearity: enough structure for drop/grow to matter."""

    def __init__(self, d_in: int = 12, d_hidden: int = 20, d_out: int = 6, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.up = nn.Linear(d_in, d_hidden)
        self.down = nn.Linear(d_hidden, d_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.tanh(self.up(x)))


def make_batches(steps: int, accumulate: int, batch: int = 8, d_in: int = 12, d_out: int = 6,
                 seed: int = 1) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    generator = torch.Generator().manual_seed(seed)
    teacher = torch.randn(d_in, d_out, generator=generator)
    out = []
    for _ in range(steps):
        micro = []
        for _ in range(accumulate):
            x = torch.randn(batch, d_in, generator=generator)
            micro.append((x, torch.tanh(x @ teacher)))
        out.append(micro)
    return out


def mse(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def train(model: nn.Module, selector, optimizer: torch.optim.Optimizer,
          batches: Sequence[Sequence[tuple[torch.Tensor, torch.Tensor]]],
          loss_fn: Callable = mse, on_backward: Callable | None = None) -> list[float]:
    """The hook order a Lightning run follows (xlt.methods.spiel.procedure.SpielCallback)."""
    losses = []
    for step, micro in enumerate(batches, 1):
        for j, batch in enumerate(micro):
            selector.begin_micro_batch(step, j == 0)
            loss = loss_fn(model, batch) / len(micro)
            loss.backward()
            if on_backward is not None:
                on_backward(step, j, batch)
            losses.append(float(loss.detach()) * len(micro))
        selector.before_optimizer_step(step)
        optimizer.step()
        optimizer.zero_grad()
        selector.after_optimizer_step(step)
    return losses


def spiel_mlp(density: float = 0.25, seed: int = 0, **sizes: int) -> tuple[TinyMLP, SpielModules]:
    model = TinyMLP(seed=seed, **sizes)
    total = sum(m.weight.numel() for m in (model.up, model.down))
    modules = attach_spiel(model, int(density * total), seed=seed)
    for param in model.parameters():
        if all(param is not layer.values for _, layer in modules):
            param.requires_grad_(False)
    return model, modules
