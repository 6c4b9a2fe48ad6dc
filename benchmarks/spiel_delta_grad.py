"""SpIEL's delta gradient: the sparse backward of Appendix E.4 vs dense-then-gather (eq. 7.4).

For a linear layer with input X (b x d_in) and output gradient dY (b x d_out), the gradient of the
N active entries of the sparse delta is (dY^T X)[r_j, c_j]. The thesis and its reference code form
the dense d_out x d_in product and gather N entries from it (b d_in d_out multiply-adds); xlt computes
only the N dot products (b N multiply-adds, ``xlt.methods.spiel.sparse_linear.sparse_delta_grad``).
Both run side by side on the same tensors, Llama-2-7B layer shapes, at densities 0.5%, 1%, 2% and 5%,
for b = 512 and 2,048 tokens (2,048: one sequence of the instruction-tuning set-up, a real
micro-batch) and in float32 and bfloat16. The baseline runs in the inputs' dtype, as autograd computes
a weight gradient (``dense_delta_grad``: a bfloat16 GEMM in a bfloat16 run); the sparse kernel
accumulates in float32. The results are checked equal (to bfloat16's precision where it applies) and
the speed-up printed.

    python benchmarks/spiel_delta_grad.py [--tokens 512,2048] [--dtypes float32,bfloat16]
                                          [--device cpu|cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from xlt.methods.spiel.sparse_linear import CSRPattern, dense_delta_grad, sparse_delta_grad

SHAPES = {"attention (4096 x 4096)": (4096, 4096), "mlp up (11008 x 4096)": (11008, 4096)}
DENSITIES = (0.005, 0.01, 0.02, 0.05)


def timed_pair(first, second, repeats: int, device: str) -> tuple[float, float, torch.Tensor, torch.Tensor]:
    """Mean times of two functions, run alternately (so background load hits both alike)."""
    results = [first(), second()]  # warm-up
    totals = [0.0, 0.0]
    for _ in range(repeats):
        for i, function in enumerate((first, second)):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            results[i] = function()
            if device == "cuda":
                torch.cuda.synchronize()
            totals[i] += time.perf_counter() - start
    return totals[0] / repeats, totals[1] / repeats, results[0], results[1]


def measure(tokens: int, dtype: torch.dtype, args: argparse.Namespace) -> dict[float, list[float]]:
    generator = torch.Generator().manual_seed(0)
    name = str(dtype).removeprefix("torch.")
    print(f"\nb = {tokens} tokens, {name}")
    print(f"{'layer':26} {'density':>8} {'entries':>10} {'dense+gather':>13} {'sparse (E.4)':>13} {'speed-up':>9}")
    speedups: dict[float, list[float]] = {d: [] for d in DENSITIES}
    for label, (d_out, d_in) in SHAPES.items():
        x = torch.randn(tokens, d_in, generator=generator).to(args.device, dtype)
        dy = torch.randn(tokens, d_out, generator=generator).to(args.device, dtype)
        for density in DENSITIES:
            n = int(density * d_in * d_out)
            flat = torch.sort(torch.randperm(d_in * d_out, generator=generator)[:n]).values.to(args.device)
            pattern = CSRPattern.from_flat(flat, (d_out, d_in))
            dense_s, sparse_s, dense, sparse = timed_pair(
                lambda x=x, dy=dy, flat=flat: dense_delta_grad(x, dy).view(-1)[flat],
                lambda x=x, dy=dy, pattern=pattern: sparse_delta_grad(x, dy, pattern), args.repeats, args.device)
            scale = float(dense.float().abs().max())
            tolerance = (1e-4, 1e-3) if dtype == torch.float32 else (2e-2, 2e-2)  # bfloat16 output rounding
            if not torch.allclose(sparse, dense.float(), atol=tolerance[0] * scale, rtol=tolerance[1]):
                raise SystemExit(f"mismatch at {label} density {density} ({name}, b = {tokens})")
            speedups[density].append(dense_s / sparse_s)
            print(f"{label:26} {100 * density:7.1f}% {n:10,d} {1e3 * dense_s:11.1f}ms {1e3 * sparse_s:11.1f}ms "
                  f"{dense_s / sparse_s:8.1f}x")
    return speedups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", default="512,2048", help="b: tokens in the micro-batch (comma-separated)")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {args.device}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    summary = {}
    for dtype_name in args.dtypes.split(","):
        for tokens in (int(t) for t in args.tokens.split(",")):
            speedups = measure(tokens, getattr(torch, dtype_name), args)
            summary[f"{dtype_name}, b = {tokens}"] = {
                d: torch.tensor(v).log().mean().exp().item() for d, v in speedups.items()}
    print("\ngeometric-mean speed-up of the sparse backward over dense-then-gather (same dtype):")
    print(f"{'':24}" + "".join(f"{100 * d:>8.1f}%" for d in DENSITIES))
    for label, row in summary.items():
        print(f"{label:24}" + "".join(f"{row[d]:>8.1f}x" for d in DENSITIES))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    print(json.dumps({"config": vars(args), "geomean_speedup": summary}))


if __name__ == "__main__":
    main()
