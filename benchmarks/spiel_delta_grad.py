"""SpIEL's delta gradient: the sparse backward of Appendix E.4 vs dense-then-gather (eq. 7.4).

For a linear layer with input X (b x d_in) and output gradient dY (b x d_out), the gradient of the
N active entries of the sparse delta is (dY^T X)[r_j, c_j]. The thesis and its reference code form
the dense d_out x d_in product and gather N entries from it (b d_in d_out multiply-adds); xlt computes
only the N dot products (b N multiply-adds, ``xlt.methods.spiel.sparse_linear.sparse_delta_grad``). Both run side by
side on the same tensors, Llama-2-7B layer shapes, at densities 0.5%, 1%, 2% and 5%; the results are
checked equal and the speed-up printed.

    python benchmarks/spiel_delta_grad.py [--tokens 512] [--device cpu|cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=512, help="b: tokens in the batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    generator = torch.Generator().manual_seed(0)
    print(f"device {args.device}, {torch.get_num_threads()} threads, b = {args.tokens} tokens, inputs {args.dtype}")
    print(f"{'layer':26} {'density':>8} {'entries':>10} {'dense+gather':>13} {'sparse (E.4)':>13} {'speed-up':>9}")
    speedups: dict[float, list[float]] = {d: [] for d in DENSITIES}
    for label, (d_out, d_in) in SHAPES.items():
        x = torch.randn(args.tokens, d_in, generator=generator).to(args.device, dtype)
        dy = torch.randn(args.tokens, d_out, generator=generator).to(args.device, dtype)
        for density in DENSITIES:
            n = int(density * d_in * d_out)
            flat = torch.sort(torch.randperm(d_in * d_out, generator=generator)[:n]).values.to(args.device)
            pattern = CSRPattern.from_flat(flat, (d_out, d_in))
            dense_s, sparse_s, dense, sparse = timed_pair(
                lambda x=x, dy=dy, flat=flat: dense_delta_grad(x, dy).view(-1)[flat],
                lambda x=x, dy=dy, pattern=pattern: sparse_delta_grad(x, dy, pattern), args.repeats, args.device)
            scale = float(dense.abs().max())
            if not torch.allclose(sparse, dense, atol=1e-4 * scale, rtol=1e-3):
                raise SystemExit(f"mismatch at {label} density {density}")
            speedups[density].append(dense_s / sparse_s)
            print(f"{label:26} {100 * density:7.1f}% {n:10,d} {1e3 * dense_s:11.1f}ms {1e3 * sparse_s:11.1f}ms "
                  f"{dense_s / sparse_s:8.1f}x")
    print("geometric-mean speed-up per density: " + ", ".join(
        f"{100 * d:.1f}%: {torch.tensor(v).log().mean().exp().item():.1f}x" for d, v in speedups.items()))


if __name__ == "__main__":
    main()
