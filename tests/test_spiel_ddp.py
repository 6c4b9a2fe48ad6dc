"""SpIEL selection under data parallelism: two CPU processes (gloo, DistributedDataParallel), each
with its own data, must pick the same indices, and the same ones as one process on all the data."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.spiel_helpers import make_batches, spiel_mlp, train
from xlt.methods.spiel.optim import SparseSM3, SpielAdamW
from xlt.methods.spiel.selection import SpielAG, SpielMA, UpdateSchedule

STEPS = 26  # updates at steps 3 and 13, 23 (window 3, interval 10)


def _run(variant: str, batches, model_wrapper=None, reduce: bool = True) -> dict[str, torch.Tensor]:
    model, modules = spiel_mlp(density=0.3)
    schedule = UpdateSchedule(total_steps=STEPS, interval=10, window=3)
    if variant == "ag":
        optimizer = SpielAdamW(modules.parameters(), lr=3e-2)
        selector = SpielAG(modules, optimizer, schedule)
    else:
        optimizer = SparseSM3([(layer.values, layer.indices, layer.shape) for _, layer in modules], lr=0.1)
        selector = SpielMA(modules, optimizer, schedule)
    if not reduce:
        selector.reducer.world = 1  # negative control: decide on local statistics only
    train(model_wrapper(model) if model_wrapper else model, selector, optimizer, batches)
    assert [r.step for r in selector.reports] == [3, 13, 23]
    return {name: layer.indices.clone() for name, layer in modules}


def _rank_batches(rank: int):
    return make_batches(steps=STEPS, accumulate=2, batch=8, seed=100 + rank)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from torch.nn.parallel import DistributedDataParallel

        def wrap(model):  # buffers (the indices) are NOT broadcast: each rank decides on its own
            return DistributedDataParallel(model, broadcast_buffers=False)

        results = {}
        for variant, reduce in (("ag", True), ("ag", False), ("ma", True)):
            results[f"{variant}-{reduce}"] = _run(variant, _rank_batches(rank), wrap, reduce)
        torch.save(results, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_selection_is_identical_across_ranks_and_equals_one_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for key in ("ag-True", "ma-True"):
        for name in rank0[key]:
            assert torch.equal(rank0[key][name], rank1[key][name]), (key, name)
    # without the all-reduce, each rank's AG candidates come from its own data: they differ
    assert any(not torch.equal(rank0["ag-False"][n], rank1["ag-False"][n]) for n in rank0["ag-False"])
    # one process on both ranks' micro-batches (DDP averages the two ranks' mean losses)
    both = [[(torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])) for a, b in zip(m0, m1)]
            for m0, m1 in zip(_rank_batches(0), _rank_batches(1))]
    for variant in ("ag", "ma"):
        single = _run(variant, both)
        for name, indices in single.items():
            assert torch.equal(indices, rank0[f"{variant}-True"][name]), (variant, name)
