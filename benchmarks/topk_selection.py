"""LT-SFT parameter selection: exact global top-K, ours vs the reference implementation.

The authors' composable-sft selects the K largest |theta1 - theta0| by building a Python list of
every difference and calling ``np.partition``; a plain-torch alternative concatenates all
tensors and calls ``torch.topk``. Ours (xlt.methods.core.selection) streams chunks through a radix
select. Each method runs in its own subprocess on the same tensors (BERT-base-shaped body
layers, N entries in total); we report wall time and the extra peak RSS over the tensors
themselves, side by side, and check that all three pick the same number of entries.

    python benchmarks/topk_selection.py [--layers 4] [--density 0.05]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def make_tensors(layers: int, seed: int = 0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    shapes = {"embeddings.word_embeddings.weight": (30000, 768)}
    for i in range(layers):
        for name, shape in {"q": (768, 768), "k": (768, 768), "v": (768, 768), "o": (768, 768),
                            "ffn_in": (3072, 768), "ffn_out": (768, 3072)}.items():
            shapes[f"layer.{i}.{name}.weight"] = shape
    before = {n: torch.randn(s, generator=generator) for n, s in shapes.items()}
    after = {n: t + 1e-3 * torch.randn(t.shape, generator=generator) for n, t in before.items()}
    return after, before


def run(method: str, layers: int, density: float) -> dict:
    import numpy as np
    import torch

    after, before = make_tensors(layers)
    total = sum(t.numel() for t in after.values())
    k = int(density * total)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if method == "reference":  # composable-sft: a Python list of every difference, np.partition
        diffs = []
        for name in after:
            diffs.extend((after[name] - before[name]).abs().flatten().tolist())
        threshold = np.partition(np.array(diffs), len(diffs) - k)[len(diffs) - k]
        selected = sum(int(((after[n] - before[n]).abs() >= threshold).sum()) for n in after)
    elif method == "concat_topk":
        flat = torch.cat([(after[n] - before[n]).abs().flatten() for n in after])
        selected = int(torch.topk(flat, k).indices.numel())
    else:
        from xlt.methods.sparse.ltsft import lottery_ticket_masks

        masks = lottery_ticket_masks(after, before, k)
        selected = sum(int(m.sum()) for m in masks.values())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": method, "entries": total, "k": k, "selected": selected, "seconds": seconds,
            "extra_peak_mib": (peak - baseline) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(args.worker, args.layers, args.density)))
        return
    rows = []
    for method in ("reference", "concat_topk", "xlt"):
        out = subprocess.run([sys.executable, __file__, "--worker", method, "--layers", str(args.layers),
                              "--density", str(args.density)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ours = rows[-1]
    print(f"{ours['entries']:,} entries, K = {ours['k']:,}")
    print(f"{'method':<14}{'seconds':>10}{'extra peak MiB':>16}{'time vs xlt':>13}{'memory vs xlt':>15}")
    for row in rows:
        time_ratio = row["seconds"] / ours["seconds"]
        memory_ratio = row["extra_peak_mib"] / max(ours["extra_peak_mib"], 1)
        print(f"{row['method']:<14}{row['seconds']:>10.2f}{row['extra_peak_mib']:>16.0f}"
              f"{time_ratio:>12.1f}x{memory_ratio:>14.1f}x")
        assert row["selected"] >= row["k"]
    assert ours["selected"] == ours["k"], "xlt must select exactly K"


if __name__ == "__main__":
    main()
