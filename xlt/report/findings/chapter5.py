"""Chapter 5's findings on the world (BiStillation, §5.3-5.5), through the real ``bistil`` recipe
(``+experiment=bistil_ud_dp +world=synthetic``): the teacher is the world's pretrained encoder (4 layers, a
WordPiece vocabulary), the students have half its layers (LRF 2), one per source-target pair.

- BiStil-TF > BiStil-ST (Table 5.3: task distillation beats the student's task SFT trained alone);
- BiStil-ST > Scratch (Table 5.3: a student distilled from the MMT beats one of the same shape trained from a
  random initialisation by MLM on the same corpora, with no teacher);
- the student is faster than its teacher on the CPU at batch size 1 (Table 5.7).

The design, fixed from its rationale before anything was measured (docs/fidelity.md):

- task: dependency parsing (LAS), the task of Table 5.3, the only table that reports Scratch (footnote 9:
  "as this method is clearly inferior, we opted to reduce computational expense by not repeating it");
- source ``qma``; targets ``qmb`` (seen, low-resource) and ``qmc`` (unseen), its SVO siblings: Table 5.3's
  targets are low-resource languages mBERT saw little of or never, and on the world transfer works at all only
  within the source's word-order type. The teacher's language SFTs (the students' stage 1 dresses the teacher
  in them) are the chapter-4 findings' artifacts: the same configuration, corpus and base model, so one key;
- LRF 2 (the thesis's main setting; the world's 4 layers -> 2; LRF 3 does not divide 4);
- stage 1 (§5.4.2): "200,000 steps, to equal the total length of the two phases of LT-SFT training" of the
  language SFTs; the world's language SFTs train at most 500 steps a phase, so stage 1 trains 1,000 steps
  (batch 8, the world's 128-token blocks), at ten times the thesis's rate (1e-3, as every world rate is
  ten times the thesis's), no warm-up, validated every 100 steps (the world's interval), the smallest held-out
  loss kept;
- stage 2 and every task SFT: the experiment's (density 8%, §5.4.3) at the world profile's budget (at most
  600 steps, lr 3e-4) - the budget of the chapter-4 findings' task modules;
- speed: Table 5.7's CPU column, the ``efficiency`` stage of the BiStil-TF run (the first target's student with
  its task SFT against the teacher with the same head, both timed in one build at batch size 1 on one thread,
  over the target's test set), as the student's throughput in percent of the teacher's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xlt.report.findings import Finding, finding, run_means, target_list

BISTIL = ["+experiment=bistil_ud_dp", "+world=synthetic"]
SEEN_LOW, UNSEEN = "qmb", "qmc"
TARGETS = [SEEN_LOW, UNSEEN]
LRF = 2
# stage 1's steps: the budget's (xlt.report.findings.Budget.distillation_steps: twice the language modules' cap)
STAGE1 = ["recipe.distillation.train.lr=1e-3", "recipe.distillation.train.eval_every=100"]
DESIGN = [target_list(TARGETS), f"recipe.lrf={LRF}", *STAGE1]
NO_EFFICIENCY = "recipe.efficiency.enabled=false"  # measured once, on the BiStil-TF run
TF = [*DESIGN, "recipe.variant=tf"]
ST = [*DESIGN, "recipe.variant=st", NO_EFFICIENCY]
SCRATCH = [*DESIGN, "recipe.variant=scratch", NO_EFFICIENCY]


def cpu_throughputs(results: Mapping[str, Any]) -> tuple[float, float]:
    """(student, teacher) CPU throughput at batch size 1 from a bistil run's efficiency stage, in percent of the
    teacher's: Table 5.7's CPU speed-up times 100, and 100. Both timings come from one build on one machine, so
    the ratio compares like with like where the examples per second of two seeds (two builds, another load on
    the machine) would not."""
    efficiency = results["efficiency"]
    student = efficiency["measured"]["cpu_examples_per_second"]
    teacher = efficiency["reference"]["cpu_examples_per_second"]
    return 100 * student / teacher, 100.0


finding(Finding(
    "bistil_tf_beats_st", 5, "BiStil-TF > BiStil-ST",
    "DP LAS 36.5 vs 35.6 (Table 5.3, LRF 2); NER F1 71.3 vs 69.8 (Table 5.4)",
    {"tf": TF, "st": ST},
    run_means("tf", "st", TARGETS), ("BiStil-TF", "BiStil-ST"),
    base=BISTIL))

finding(Finding(
    "bistil_st_beats_scratch", 5, "BiStil-ST > Scratch",
    "DP LAS 35.6 vs 11.0 (Table 5.3, LRF 2)",
    {"st": ST, "scratch": SCRATCH},
    run_means("st", "scratch", TARGETS), ("BiStil-ST", "Scratch"),
    base=BISTIL))

finding(Finding(
    "bistil_student_faster", 5, "the student is faster than its teacher (CPU, batch 1)",
    "CPU speed-up at LRF 2: DP 1.44x, NER 1.97x, NLI 2.02x, QA 1.99x (Table 5.7)",
    {"tf": TF},
    lambda r: cpu_throughputs(r["tf"]), ("student % of teacher", "teacher"),
    base=BISTIL))
