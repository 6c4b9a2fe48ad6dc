"""LT-SFT parameter selection at mBERT size: exact global top-K, ours vs the reference and torch.topk.

The K entries with the largest |theta1 - theta0| over every maskable tensor of mBERT (the word,
position and token-type embeddings and the 12 layers' attention and feed-forward weights and
biases: 177M entries; LayerNorm and pooler are not maskable) are selected by

- ``reference``: the authors' composable-sft, a Python list of every difference and ``np.partition``;
- ``torch.topk``: the differences concatenated into one float32 tensor, then ``torch.topk``;
- ``xlt``: ``xlt.methods.sparse.ltsft.lottery_ticket_masks`` (``xlt.methods.core.selection``).

The tensors are random (theta1 = theta0 + 1e-3 N(0, 1), float32) with mBERT's shapes; no model is
downloaded. Each method runs in its own subprocess on the same tensors; we report wall time and the
extra peak memory: the process's peak resident set size during the selection above its resident
size just before it (``/proc/self/clear_refs`` resets the peak; this counts torch's allocations,
which ``tracemalloc`` does not see). The reference needs ~32 bytes of Python objects per entry, so
by default it runs on a smaller copy (``--reference-scale``, the embedding matrix cut so that the
total is that fraction of mBERT's) and its time and memory are extrapolated linearly to the full
size (marked ``extrapolated``); ``--reference-scale 1`` runs it at full size (~10 GiB). ``CPU s`` is
the process's CPU time (all threads): on cores shared with other jobs the wall time can be several
times larger, so the load average is printed too.

    python benchmarks/topk_selection.py [--density 0.08] [--threads 2] [--untouched-rows 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

VOCAB, HIDDEN, INTERMEDIATE, LAYERS, POSITIONS = 119547, 768, 3072, 12, 512


def mbert_shapes(scale: float = 1.0) -> dict[str, tuple[int, ...]]:
    """mBERT's maskable tensors (bert-base-multilingual-cased); ``scale`` < 1 keeps that fraction of the
    word-embedding rows and of the layers (at least one), for a smaller copy of the same mix."""
    rows, layers = max(1, round(VOCAB * scale)), max(1, round(LAYERS * scale))
    layer: dict[str, tuple[int, ...]] = {}
    for part in ("query", "key", "value"):
        layer[f"attention.self.{part}.weight"] = (HIDDEN, HIDDEN)
        layer[f"attention.self.{part}.bias"] = (HIDDEN,)
    layer.update({"attention.output.dense.weight": (HIDDEN, HIDDEN), "attention.output.dense.bias": (HIDDEN,),
                  "intermediate.dense.weight": (INTERMEDIATE, HIDDEN), "intermediate.dense.bias": (INTERMEDIATE,),
                  "output.dense.weight": (HIDDEN, INTERMEDIATE), "output.dense.bias": (HIDDEN,)})
    shapes: dict[str, tuple[int, ...]] = {"embeddings.word_embeddings.weight": (rows, HIDDEN),
                                          "embeddings.position_embeddings.weight": (POSITIONS, HIDDEN),
                                          "embeddings.token_type_embeddings.weight": (2, HIDDEN)}
    for i in range(layers):
        shapes.update({f"encoder.layer.{i}.{name}": shape for name, shape in layer.items()})
    return shapes


def make_tensors(scale: float, untouched_rows: float, seed: int = 0):
    """(theta1, theta0): random float32 tensors of mBERT's maskable shapes. ``untouched_rows``: the
    fraction of word-embedding rows left unchanged (exact-zero differences, as for tokens a language's
    corpus never contains)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    before, after = {}, {}
    for name, shape in mbert_shapes(scale).items():
        before[name] = torch.randn(shape, generator=generator)
        after[name] = torch.randn(shape, generator=generator).mul_(1e-3).add_(before[name])
        if untouched_rows and name == "embeddings.word_embeddings.weight":
            rows = torch.rand(shape[0], generator=generator) < untouched_rows
            after[name][rows] = before[name][rows]
    return after, before


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM, the peak resident set size
        return True
    except OSError:
        return False


def run(method: str, args: argparse.Namespace) -> dict:
    import gc

    import numpy as np
    import torch

    from xlt.methods.sparse.ltsft import lottery_ticket_masks  # imported before the clock starts

    torch.set_num_threads(args.threads)
    scale = args.reference_scale if method == "reference" else 1.0
    after, before = make_tensors(scale, args.untouched_rows)
    total = sum(t.numel() for t in after.values())
    k = int(args.density * total)
    gc.collect()
    exact_peak = _reset_peak()
    baseline_kib = _rss_kib("VmRSS") if exact_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    if method == "reference":  # composable-sft: a Python list of every difference, np.partition
        diffs = []
        for name in after:
            diffs.extend((after[name] - before[name]).abs().flatten().tolist())
        threshold = np.partition(np.array(diffs), len(diffs) - k)[len(diffs) - k]
        del diffs
        selected = sum(int(((after[n] - before[n]).abs() >= threshold).sum()) for n in after)
    elif method == "torch.topk":
        flat = torch.cat([(after[n] - before[n]).abs().flatten() for n in after])
        indices = torch.topk(flat, k, sorted=False).indices  # flat indices only, no per-tensor masks
    else:
        masks = lottery_ticket_masks(after, before, k)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kib = _rss_kib("VmHWM") if exact_peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if method == "torch.topk":
        selected = int(indices.numel())
    elif method == "xlt":  # counted after the clock stops (a bool sum widens to int64)
        selected = sum(int(torch.count_nonzero(m)) for m in masks.values())
    return {"method": method, "entries": total, "k": k, "selected": selected, "seconds": seconds,
            "cpu_seconds": cpu_seconds, "extra_peak_mib": (peak_kib - baseline_kib) / 1024, "scale": scale}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--density", type=float, default=0.08, help="K / N (mBERT's largest LT-SFT density: 8%%)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each method (interleaved); the best is kept")
    parser.add_argument("--reference-scale", type=float, default=0.125,
                        help="fraction of mBERT's entries the reference runs on (1: full size)")
    parser.add_argument("--untouched-rows", type=float, default=0.0,
                        help="fraction of word-embedding rows with exactly zero difference")
    parser.add_argument("--methods", default="reference,torch.topk,xlt")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(args.worker, args)))
        return
    argv = [a for a in sys.argv[1:]]
    best: dict[str, dict] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for method in args.methods.split(","):
            out = subprocess.run([sys.executable, __file__, *argv, "--worker", method],
                                 capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            if method not in best or row["seconds"] < best[method]["seconds"]:
                best[method] = row
    rows = list(best.values())
    full = max(row["entries"] for row in rows)
    ours = best.get("xlt", rows[-1])
    print(f"mBERT-shaped: {full:,} maskable entries, K = {ours['k']:,} (density {args.density:g}), "
          f"{args.threads} threads, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}, "
          f"best of {args.repeats}")
    print(f"{'method':<14}{'seconds':>10}{'CPU s':>8}{'extra peak MiB':>16}{'time vs xlt':>13}"
          f"{'memory vs xlt':>15}  note")
    for row in rows:
        factor = full / row["entries"]
        seconds, cpu, memory = (row[key] * factor for key in ("seconds", "cpu_seconds", "extra_peak_mib"))
        note = (f"extrapolated x{factor:.1f} from {row['entries']:,} entries "
                f"({row['seconds']:.2f} s, {row['extra_peak_mib']:.0f} MiB measured)" if factor > 1.001 else "")
        print(f"{row['method']:<14}{seconds:>10.2f}{cpu:>8.2f}{memory:>16.0f}{seconds / ours['seconds']:>12.1f}x"
              f"{memory / max(ours['extra_peak_mib'], 1):>14.1f}x  {note}")
        assert row["selected"] >= row["k"]
    assert ours["selected"] == ours["k"], "xlt must select exactly K"
    print(f"one float32 copy of the scores: {4 * full / 2**20:.0f} MiB; the masks (the output): {full / 2**20:.0f} MiB")
    print(json.dumps({"config": vars(args), "results": rows}))


if __name__ == "__main__":
    main()
