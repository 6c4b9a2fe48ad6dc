"""Chapter 4's findings on the world (LT-SFT, §4.5; POS tagging, single source qma unless said): language
adaptation helps, and helps unseen languages most; LT-SFT beats rand-SFT at equal K and BitFit; sparse
composition beats dense; multi-source task training beats single-source."""

from __future__ import annotations

from xlt.report.findings import (
    OTHER_ORDERS,
    SEEN_LOW,
    TARGETS,
    UNSEEN_SVO,
    Finding,
    finding,
    mean_metric,
    run_means,
    target_list,
)

ZS_LA = [target_list(TARGETS)]  # LT-SFT language and task modules composed (Algorithm 1)
ZS = [target_list(TARGETS), "recipe.protocol=ta_only_at_inference"]  # the same task module, no language module
UNSEEN = [*UNSEEN_SVO, *OTHER_ORDERS]


def _gain(results, languages):
    return mean_metric(results["zs_la"], languages) - mean_metric(results["zs"], languages)


finding(Finding(
    "la_helps", 4, "language adaptation helps: ZS-LA > ZS",
    "POS 71.1 vs 51.3 (Table 4.2, LT-SFT vs LT-SFT TA-only); ZS vs ZS - LA: +6-13 (Table 6.3)",
    {"zs_la": ZS_LA, "zs": ZS},
    run_means("zs_la", "zs", TARGETS), ("ZS-LA", "ZS")))

finding(Finding(
    "la_helps_unseen_most", 4, "LA gain: unseen > seen low-resource",
    "POS gain +19.8 over all targets (mostly unseen, Table 4.2) vs -1.9 on seen ar/ja/zh (Table 4.5)",
    {"zs_la": ZS_LA, "zs": ZS},
    lambda r: (_gain(r, UNSEEN_SVO), _gain(r, SEEN_LOW)), ("gain unseen", "gain seen-low")))

finding(Finding(
    "ltsft_beats_rand_sft", 4, "LT-SFT > rand-SFT at equal K",
    "POS 71.1 vs 69.2, DP LAS 37.8 vs 33.9 (Table 4.2, Figure 4.2)",
    {"ltsft": ZS_LA, "rand_sft": [target_list(UNSEEN_SVO), "lang_module=rand_sft", "task_module=rand_sft"]},
    run_means("ltsft", "rand_sft", UNSEEN_SVO), ("LT-SFT", "rand-SFT")))

finding(Finding(
    "ltsft_beats_bitfit", 4, "LT-SFT > BitFit",
    "POS 71.1 vs 58.1, NLI 51.4 vs 38.3 (Table 4.2)",
    {"ltsft": ZS_LA, "bitfit": [target_list(UNSEEN_SVO), "lang_module=bitfit", "task_module=bitfit"]},
    run_means("ltsft", "bitfit", UNSEEN_SVO), ("LT-SFT", "BitFit")))

finding(Finding(
    "sparse_beats_dense", 4, "task + language SFTs at density <= 30% > at 100%",
    "performance falls markedly above ~30% density (Figure 4.3, DP and NER)",
    {"sparse": ZS_LA,
     "dense": [target_list(UNSEEN_SVO), "lang_module.num_trainable=null", "lang_module.density=1.0",
               "task_module.num_trainable=null", "task_module.density=1.0"]},
    run_means("sparse", "dense", UNSEEN_SVO), ("thesis K", "100%")))

finding(Finding(
    "multi_source", 4, "multi-source > single-source task training",
    "DP UAS 64.3 vs 57.1, LAS 47.6 vs 37.8, NLI 53.1 vs 51.4 (Table 4.4)",
    {"single": ZS_LA, "multi": [target_list(UNSEEN), "data=world_pos_multisource"]},
    run_means("multi", "single", UNSEEN), ("multi", "single")))
