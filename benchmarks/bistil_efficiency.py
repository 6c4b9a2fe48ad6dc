"""BiStil students vs their teachers: parameters, FLOPs per example and inference speed (Table 5.7).

Random models of the real shapes (configs written by hand, nothing downloaded): mBERT
(BertForTokenClassification, 12 layers, hidden 768, vocabulary 119,547, the NER model of Table
5.7b), XLM-R base (XLMRobertaForSequenceClassification, 12 layers, 768, 250,002, the NLI model of
Table 5.7c) and, with ``--families mdeberta``, mDeBERTa-v3 base (DebertaV2ForQuestionAnswering,
config vocabulary 251,000, QA, Table 5.7d). Students at LRF 2 and 3 are built with the real code
path: the teacher's vocabulary trimmed to ``--kept`` tokens (default 30,000, close to Table 5.2's
averages of 31K for mBERT and 28K for XLM-R; which tokens are kept does not change speed), then
``init_student``. Every model runs the same inputs: ``--length`` kept tokens per example, no padding.

CPU speed: batch 1, one thread, ``--examples`` timed examples after warm-up; teacher and students
are timed in interleaved rounds and the speed-up is the median over rounds of student/teacher
within a round (the range is printed too). GPU speed at ``--gpu-batch`` runs only where CUDA is.

    python benchmarks/bistil_efficiency.py [--length 128] [--kept 30000] [--rounds 3] [--families mbert xlmr]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from xlt.models.efficiency import count_parameters, cpu_throughput, flops_per_example, gpu_throughput
from xlt.models.student import init_student, model_dimensions
from xlt.models.vocabulary import VocabularyReduction, trim_model

# Table 5.7 (student / LtSft on the undistilled model): CPU batch 1, GPU at the training batch size, FLOPs
ANCHORS = {
    "mbert": {"task": "NER", 2: {"cpu": 1.97, "gpu": 1.98, "flops": 0.50},
              3: {"cpu": 2.97, "gpu": 2.78, "flops": 0.33}},
    "xlmr": {"task": "NLI", 2: {"cpu": 2.02, "gpu": 1.97, "flops": 0.50},
             3: {"cpu": 2.89, "gpu": 2.85, "flops": 0.33}},
    "mdeberta": {"task": "QA", 2: {"cpu": 1.99, "gpu": 1.85, "flops": 0.50},
                 3: {"cpu": 2.85, "gpu": 2.42, "flops": 0.33}},
}
# Table 5.2: #P of the undistilled model and of the BiStil students (averages over languages)
TABLE_5_2 = {"mbert": ("178M", "67M", "53M"), "xlmr": ("278M", "65M", "51M"), "mdeberta": ("278M", "75M", "60M")}


def build_teacher(family: str) -> torch.nn.Module:
    """A randomly initialised task model of the real architecture and size."""
    from transformers import (
        BertConfig,
        BertForTokenClassification,
        DebertaV2Config,
        DebertaV2ForQuestionAnswering,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    body = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
    if family == "mbert":  # bert-base-multilingual-cased
        config = BertConfig(vocab_size=119547, max_position_embeddings=512, type_vocab_size=2, num_labels=9, **body)
        model_class = BertForTokenClassification
    elif family == "xlmr":  # xlm-roberta-base
        config = XLMRobertaConfig(vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                                  bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, num_labels=3, **body)
        model_class = XLMRobertaForSequenceClassification
    elif family == "mdeberta":  # microsoft/mdeberta-v3-base
        config = DebertaV2Config(vocab_size=251000, max_position_embeddings=512, type_vocab_size=0,
                                 relative_attention=True, position_biased_input=False, pos_att_type=["p2c", "c2p"],
                                 position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
                                 max_relative_positions=-1, layer_norm_eps=1e-7, pad_token_id=0, **body)
        model_class = DebertaV2ForQuestionAnswering
    else:
        raise SystemExit(f"unknown family {family!r}")
    torch.manual_seed(0)
    return model_class(config).eval()


def plausible_reduction(vocab_size: int, kept: int, seed: int = 0) -> VocabularyReduction:
    """The first 5 ids (the special tokens of all three tokenizers) plus a seeded random sample."""
    generator = torch.Generator().manual_seed(seed)
    others = (torch.randperm(vocab_size - 5, generator=generator)[: kept - 5] + 5).tolist()
    return VocabularyReduction(tuple(sorted(set(range(5)) | set(others))), vocab_size)


def inputs(pool: torch.Tensor, count: int, length: int, batch_size: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """Batches of ``count`` examples of ``length`` token ids drawn from ``pool``."""
    generator = torch.Generator().manual_seed(seed)
    ids = pool[torch.randint(5, len(pool), (count, length), generator=generator)]
    return [{"input_ids": ids[i:i + batch_size], "attention_mask": torch.ones_like(ids[i:i + batch_size])}
            for i in range(0, count, batch_size)]


def remapped(batches: list[dict[str, torch.Tensor]], reduction: VocabularyReduction) -> list[dict[str, torch.Tensor]]:
    """The same inputs for a trimmed model."""
    return [{**b, "input_ids": reduction.remap_ids(b["input_ids"])} for b in batches]


def run_family(family: str, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    teacher = build_teacher(family)
    vocab = teacher.config.vocab_size
    reduction = plausible_reduction(vocab, args.kept)
    trimmed = copy.deepcopy(teacher)
    trim_model(trimmed, reduction)
    models = {"teacher": teacher}
    for lrf in (2, 3):
        models[f"lrf={lrf}"] = init_student(trimmed, lrf).eval()
    del trimmed
    pool = reduction.index()  # tokens both the teacher and the students know
    cpu_data = inputs(pool, args.examples, args.length, 1, seed=1)
    flops_data = inputs(pool, 4, args.length, 2, seed=2)
    gpu_data = inputs(pool, args.gpu_batch * args.gpu_batches, args.length, args.gpu_batch, seed=3)
    data = {name: (cpu_data, flops_data, gpu_data) if name == "teacher" else
            (remapped(cpu_data, reduction), remapped(flops_data, reduction), remapped(gpu_data, reduction))
            for name in models}
    flops = {name: flops_per_example(model, data[name][1]) for name, model in models.items()}
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):  # interleaved, so load changes hit every model alike
        for name, model in models.items():
            speeds[name].append(cpu_throughput(model, data[name][0], warmup=args.warmup))
    gpu = {name: gpu_throughput(model, data[name][2], warmup=args.warmup, rounds=args.rounds)
           for name, model in models.items()}
    anchors = ANCHORS[family]
    print(f"\n{family} ({anchors['task']} head), sequence length {args.length}, {time.perf_counter() - start:.0f} s")
    header = (f"{'model':<8} {'#L':>3} {'#V':>7} {'#P':>8} {'#P T5.2':>8} {'GFLOPs/ex':>10} {'FLOPs':>6} "
              f"{'(thesis)':>8} {'CPU ex/s':>9} {'CPU speed-up':>20} {'(thesis)':>8}")
    if any(v is not None for v in gpu.values()):
        header += f" {'GPU ex/s':>9} {'GPU':>6} {'(thesis)':>8}"
    print(header)
    table_params = dict(zip(models, TABLE_5_2[family]))
    for name, model in models.items():
        dims = model_dimensions(model)
        ratios = [s / t for s, t in zip(speeds[name], speeds["teacher"])]
        lrf = None if name == "teacher" else int(name.split("=")[1])
        anchor = anchors[lrf] if lrf else {"cpu": 1.0, "gpu": 1.0, "flops": 1.0}
        speed_up = f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        line = (f"{name:<8} {dims.layers:>3} {dims.vocab:>7} {count_parameters(model) / 1e6:>7.1f}M "
                f"{table_params[name]:>8} {flops[name] / 1e9:>10.2f} {flops[name] / flops['teacher']:>5.2f}x "
                f"{anchor['flops']:>7.2f}x {statistics.median(speeds[name]):>9.2f} {speed_up:>20} "
                f"{anchor['cpu']:>7.2f}x")
        if gpu[name] is not None:
            line += f" {gpu[name]:>9.1f} {gpu[name] / gpu['teacher']:>5.2f}x {anchor['gpu']:>7.2f}x"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=["mbert", "xlmr"], choices=sorted(ANCHORS))
    parser.add_argument("--length", type=int, default=128, help="tokens per example")
    parser.add_argument("--kept", type=int, default=30000, help="tokens kept by the vocabulary reduction")
    parser.add_argument("--examples", type=int, default=8, help="timed CPU examples per round (batch 1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--gpu-batch", type=int, default=32)
    parser.add_argument("--gpu-batches", type=int, default=8)
    args = parser.parse_args()
    print(f"BiStil efficiency: random models of the real shapes; students keep {args.kept:,} tokens; CPU batch 1, "
          f"1 thread, median of {args.rounds} interleaved rounds of {args.examples} examples; torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads available; CUDA: {torch.cuda.is_available()}")
    print("Thesis anchors (Table 5.7, CPU batch 1): 1.97x-2.02x at LRF 2, 2.85x-2.97x at LRF 3; FLOPs 0.50x / 0.33x")
    for family in args.families:
        run_family(family, args)


if __name__ == "__main__":
    main()
