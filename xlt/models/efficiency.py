"""Inference efficiency of distilled models (thesis §5.5, Tables 5.2 and 5.7).

* parameters (#P, tied ones once), layers, hidden size and vocabulary rows (#V) of Table 5.2;
* FLOPs per example: ``torch.utils.flop_counter.FlopCounterMode`` over the given batches, divided
  by the number of examples (the thesis used fvcore over the first target's test set; the
  reference code sums over batches and counts every batch twice while timing). Like fvcore it
  counts the matrix products (linear layers, attention, convolutions), not element-wise ops;
  fused SDPA attention counts the same as eager attention (torch lacks a formula for the CPU kernel);
* throughput (examples per second): on the CPU at batch size 1 with one thread (the thread count is
  restored afterwards) and on the GPU at the training batch size, after warm-up passes, with
  FLOP counting off;
* ratios relative to a baseline (Table 5.7: speed-ups student/baseline, FLOPs student/baseline).

Per-example FLOPs depend on sequence lengths only: batches padded to a common length count the
padding, so batch unpadded or equal-length examples when comparing batchings.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import cycle, islice
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from xlt.errors import ConfigError
from xlt.models.student import model_dimensions

Batch = Mapping[str, Any]
Forward = Callable[[nn.Module, Batch], Any]


def default_forward(model: nn.Module, batch: Batch) -> Any:
    """``model(**batch)``."""
    return model(**batch)


def batch_size_of(batch: Batch) -> int:
    """Examples in a batch: the first dimension of ``input_ids`` (or of its first tensor)."""
    tensor = batch.get("input_ids")
    if not isinstance(tensor, torch.Tensor):
        tensor = next((v for v in batch.values() if isinstance(v, torch.Tensor)), None)
    if tensor is None:
        raise ConfigError("efficiency: a batch needs at least one tensor")
    return int(tensor.shape[0])


def _to(batch: Batch, device: torch.device) -> dict[str, Any]:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _cpu_flash_attention_flops(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any,
                               out_shape: Any = None, **kwargs: Any) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# Fused attention kernels torch's counter does not know: without them SDPA attention on the CPU
# would count 0 FLOPs while eager attention counts its matrix products.
EXTRA_FLOP_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops}


def count_parameters(model: nn.Module) -> int:
    """#P: every parameter of the model, tied parameters counted once."""
    return sum(p.numel() for p in model.parameters())


def flops_per_example(model: nn.Module, batches: Iterable[Batch], forward: Forward = default_forward) -> float:
    """Inference FLOPs per example over ``batches`` (no gradients, evaluation mode)."""
    was_training = model.training
    model.eval()
    device = _device_of(model)
    examples = 0
    try:
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter:
            for batch in batches:
                forward(model, _to(batch, device))
                examples += batch_size_of(batch)
    finally:
        model.train(was_training)
    if examples == 0:
        raise ConfigError("efficiency: no examples to count FLOPs on")
    return counter.get_total_flops() / examples


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(model: nn.Module, batches: Sequence[Batch], device: str | torch.device = "cpu", warmup: int = 2,
               rounds: int = 1, threads: int | None = None, forward: Forward = default_forward) -> float:
    """Examples per second of inference over ``batches`` on ``device`` (median of ``rounds`` passes,
    each over all batches, after ``warmup`` untimed batches). ``threads``: torch intra-op threads
    during the measurement (restored afterwards). The model is moved to ``device`` and back."""
    if not batches:
        raise ConfigError("efficiency: no batches to time")
    if rounds < 1 or warmup < 0:
        raise ConfigError(f"efficiency: rounds={rounds} must be >= 1 and warmup={warmup} >= 0")
    device = torch.device(device)
    original_device = _device_of(model)
    was_training = model.training
    previous_threads = torch.get_num_threads()
    prepared = [_to(batch, device) for batch in batches]
    examples = sum(batch_size_of(batch) for batch in batches)
    model.to(device)
    model.eval()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        speeds = []
        with torch.inference_mode():
            for batch in islice(cycle(prepared), warmup):
                forward(model, batch)
            _synchronise(device)
            for _ in range(rounds):
                start = time.perf_counter()
                for batch in prepared:
                    forward(model, batch)
                _synchronise(device)
                speeds.append(examples / (time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous_threads)
        model.to(original_device)
        model.train(was_training)
    return statistics.median(speeds)


def interleaved_throughputs(runs: Sequence[tuple[nn.Module, Sequence[Batch]]], device: str | torch.device = "cpu",
                            warmup: int = 2, rounds: int = 1, threads: int | None = None,
                            forward: Forward = default_forward) -> list[float]:
    """Examples per second of each (model, batches) in ``runs``, timed in turn within each of ``rounds``
    rounds (one pass each per round; the median over rounds per model): a change of the machine's load hits
    every model alike, where timing one model's rounds and then the other's would let it fall on one of them
    (measured on a shared 2-core machine: a 2-layer student timed at 0.46x its 4-layer teacher's speed once,
    1.52x twice)."""
    speeds: list[list[float]] = [[] for _ in runs]
    for round_index in range(rounds):
        for i, (model, batches) in enumerate(runs):
            speeds[i].append(throughput(model, batches, device, warmup if round_index == 0 else 0, 1, threads,
                                        forward))
    return [statistics.median(values) for values in speeds]


def cpu_throughput(model: nn.Module, batches: Sequence[Batch], warmup: int = 2, rounds: int = 1,
                   forward: Forward = default_forward) -> float:
    """Table 5.7's CPU speed: one thread; pass batches of one example."""
    return throughput(model, batches, "cpu", warmup, rounds, threads=1, forward=forward)


def gpu_throughput(model: nn.Module, batches: Sequence[Batch], warmup: int = 2, rounds: int = 1,
                   forward: Forward = default_forward, device: str = "cuda") -> float | None:
    """Table 5.7's GPU speed (batches of the training batch size); None without CUDA."""
    if not torch.cuda.is_available():
        return None
    return throughput(model, batches, device, warmup, rounds, forward=forward)


@dataclass
class EfficiencyMeasurement:
    """What Tables 5.2 and 5.7 report about one model."""

    parameters: int
    flops_per_example: float
    cpu_examples_per_second: float | None = None
    gpu_examples_per_second: float | None = None
    layers: int | None = None
    hidden: int | None = None
    vocab: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_efficiency(model: nn.Module, flops_batches: Iterable[Batch], cpu_batches: Sequence[Batch] | None = None,
                       gpu_batches: Sequence[Batch] | None = None, body: nn.Module | None = None, warmup: int = 2,
                       rounds: int = 1, forward: Forward = default_forward) -> EfficiencyMeasurement:
    """Parameters, FLOPs per example (counted in their own pass), CPU and GPU throughput (timed
    without counting). ``body``: the transformers model whose layers/hidden/vocab to report
    (default ``model`` when it is one)."""
    source = body if body is not None else model
    dimensions = model_dimensions(source) if hasattr(source, "get_input_embeddings") else None
    flops = flops_per_example(model, flops_batches, forward)
    cpu = cpu_throughput(model, cpu_batches, warmup, rounds, forward) if cpu_batches else None
    gpu = gpu_throughput(model, gpu_batches, warmup, rounds, forward) if gpu_batches else None
    return EfficiencyMeasurement(
        parameters=count_parameters(model), flops_per_example=flops, cpu_examples_per_second=cpu,
        gpu_examples_per_second=gpu, layers=dimensions.layers if dimensions else None,
        hidden=dimensions.hidden if dimensions else None, vocab=dimensions.vocab if dimensions else None)


def _ratio(value: float | None, reference: float | None) -> float | None:
    return None if value is None or not reference else value / reference


def relative_efficiency(measured: EfficiencyMeasurement, baseline: EfficiencyMeasurement) -> dict[str, float | None]:
    """Table 5.7's ratios: speed-ups (higher is better) and FLOPs/parameter fractions (lower is better)."""
    return {
        "cpu_speedup": _ratio(measured.cpu_examples_per_second, baseline.cpu_examples_per_second),
        "gpu_speedup": _ratio(measured.gpu_examples_per_second, baseline.gpu_examples_per_second),
        "flops_ratio": _ratio(measured.flops_per_example, baseline.flops_per_example),
        "parameters_ratio": _ratio(measured.parameters, baseline.parameters),
        "vocab_ratio": _ratio(measured.vocab, baseline.vocab),
    }
