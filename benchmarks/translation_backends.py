"""Translation throughput: transformers ``generate`` vs CTranslate2 on the same model and inputs (§6.4.2).

Both backends (xlt.translation) translate the same segments with the same settings (greedy by
default, forced BOS of the target code), sorted by length and batched as the translation engine
does; each is timed over ``--repeats`` alternating runs after a warm-up, and the greedy outputs are
compared. Without ``--model`` a tiny random NLLB-shaped model is built from the bundled corpora
(xlt.models.nmt.build_tiny_nmt); random models decode to the length cap, which is fine for
throughput.

    python benchmarks/translation_backends.py [--model facebook/nllb-200-distilled-600M] [--input FILE]
        [--segments 512] [--src spa_Latn] [--tgt eng_Latn] [--max-new-tokens 64] [--batch-size 32]
        [--device cpu|cuda] [--compute-type default] [--dtype float32] [--threads N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from xlt.translation import CTranslate2Translator, GenerationSettings, TransformersTranslator


def tiny_model(cache: Path) -> Path:
    from xlt.data.synthetic import SAMPLES_DIR
    from xlt.models.nmt import build_tiny_nmt

    corpora = [SAMPLES_DIR / "corpora" / f"{lang}.txt" for lang in ("en", "es", "ind", "aym", "gn", "quy")]
    return build_tiny_nmt(corpora, ["eng_Latn", "spa_Latn", "ind_Latn", "ayr_Latn", "grn_Latn", "quy_Latn"], cache,
                          {"d_model": 256, "encoder_layers": 3, "decoder_layers": 3, "attention_heads": 4,
                           "ffn_dim": 1024, "init_std": 1.0})


def segments(path: str | None, count: int) -> list[str]:
    if path:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        from xlt.data.synthetic import SAMPLES_DIR

        lines = [line.strip() for lang in ("es", "en") for line in
                 (SAMPLES_DIR / "corpora" / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    return [lines[i % len(lines)] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="hub id or local path (default: a tiny random NLLB-shaped model)")
    parser.add_argument("--input", help="a text file, one segment per line (default: the bundled corpora)")
    parser.add_argument("--segments", type=int, default=512)
    parser.add_argument("--src", default="spa_Latn")
    parser.add_argument("--tgt", default="eng_Latn")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", help="transformers weights: float32, bfloat16, float16")
    parser.add_argument("--compute-type", default="default", help="CTranslate2: default, float32, int8, float16, ...")
    parser.add_argument("--cache", default=os.environ.get("XLT_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                                      "xlt-benchmark-cache"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="CPU threads of both backends (torch intra-op threads, CTranslate2 intra_threads)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = args.model or str(tiny_model(Path(args.cache)))
    texts = segments(args.input, args.segments)
    settings = GenerationSettings(num_beams=args.num_beams, max_new_tokens=args.max_new_tokens,
                                  batch_size=args.batch_size)
    hf = TransformersTranslator.load(model, settings, dtype=args.dtype, device=args.device)
    ct2 = CTranslate2Translator(model, args.cache, settings, compute_type=args.compute_type, device=args.device,
                                intra_threads=args.threads if args.device == "cpu" else 0)
    lengths = hf.token_lengths(texts)
    ordered = [texts[i] for i in sorted(range(len(texts)), key=lambda i: (-lengths[i], i))]  # as the engine does

    outputs = {backend.backend: backend.translate(ordered[:args.batch_size], args.src, args.tgt)
               for backend in (hf, ct2)}  # warm-up
    times = {hf.backend: 0.0, ct2.backend: 0.0}
    for _ in range(args.repeats):
        for backend in (hf, ct2):
            if args.device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            outputs[backend.backend] = backend.translate(ordered, args.src, args.tgt)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times[backend.backend] += time.perf_counter() - start
    same = sum(a == b for a, b in zip(outputs[hf.backend], outputs[ct2.backend]))
    print(f"model {model}")
    print(f"device {args.device} ({torch.get_num_threads()} torch threads), {len(texts)} segments "
          f"({sum(lengths) / len(lengths):.1f} input tokens on average), {args.src} -> {args.tgt}, "
          f"beams {args.num_beams}, max_new_tokens {args.max_new_tokens}, batch {args.batch_size}, "
          f"transformers {args.dtype}, CTranslate2 {args.compute_type}")
    print(f"{'backend':14} {'segments/s':>11} {'s/run':>8}")
    for name, total in times.items():
        per_run = total / args.repeats
        print(f"{name:14} {len(texts) / per_run:11.1f} {per_run:8.2f}")
    print(f"speed-up {times[hf.backend] / times[ct2.backend]:.2f}x; identical outputs: {same}/{len(texts)}")


if __name__ == "__main__":
    main()
