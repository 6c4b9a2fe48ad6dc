"""Chapter 7's finding on the world (SpIEL, §7.4): SpIEL-AG matches or beats LoRA at equal trainable
parameters. The thesis instruction-tunes Llama 2; the world has no causal LM yet, so the two PEFTs are
compared as task modules of the world's encoder (POS on qma, its own test set), the same rank (hence the
same number of trainable parameters: SpIEL-AG's K is LoRA's parameter count at ``rank``) and learning rate.

Its first measurement (2026-12-06) was invalid and showed why: LoRA and SpIEL trained and saved only deltas of
the body, so the POS head stayed at its random initialisation in training and was drawn anew for evaluation
(84% validation accuracy, 2-9% on the test set). Both now train the new head densely beside their deltas, in
their own optimiser, and save it (LoRA: ``head.safetensors``; SpIEL: the SFT's abs tensors), so the two compare
equal heads and equal body budgets."""

from __future__ import annotations

from xlt.report.findings import Finding, finding, mean_metric, target_list

SOURCE = ["qma"]
RANK = 8  # 7,168 LoRA parameters per rank over the encoder's 4 blocks: about 57K, a tenth of its body

finding(Finding(
    "spiel_ag_vs_lora", 7, "SpIEL-AG >= LoRA at equal trainable parameters",
    "SpIEL-AG best in 5 of 6 (scale, dataset) pairs; e.g. Flan v2 7b MMLU 50.7 vs 49.3 (Table 7.2)",
    {"spiel_ag": [target_list(SOURCE), "recipe.protocol=ta_only", "task_module=spiel_ag", f"task_module.rank={RANK}",
                  "task.train.weight_decay=0"],
     "lora": [target_list(SOURCE), "recipe.protocol=ta_only", "task_module=lora", f"task_module.rank={RANK}"]},
    lambda r: (mean_metric(r["spiel_ag"], SOURCE), mean_metric(r["lora"], SOURCE)), ("SpIEL-AG", "LoRA"),
    at_least=True, base=["task=pos", "+world=synthetic"]))  # no experiment: ltsft_ud_pos sets LT-SFT's phases
