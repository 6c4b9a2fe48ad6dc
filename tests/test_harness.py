"""The lm-evaluation-harness path of chapter 7 (§7.4.1, Appendix E.1), offline: the bundled local task
``xlt_mmlu_sample`` (a task YAML over the MMLU-format sample JSONL) evaluated on the tiny Llama through
``xlt.eval.harness.run_harness``, its accuracy checked against log-likelihoods computed here by hand.

Needs the ``[eval]`` extra (``lm-eval``); skipped, with the reason, where it is not installed."""

from __future__ import annotations

import json

import pytest
import torch

from xlt.errors import ConfigError
from xlt.eval.harness import SAMPLE_TASKS, HarnessTask, run_harness
from xlt.eval.harness_tasks.samples import MMLU_SAMPLE
from xlt.pipeline.stages.instruction import HarnessConfig


def _continuation_logprob(model, tokenizer, context: str, continuation: str) -> float:
    """log p(continuation | context), tokenised as the harness does: the whole string, split after the
    context's tokens, no BOS."""
    context_ids = tokenizer(context, add_special_tokens=False).input_ids
    whole = tokenizer(context + continuation, add_special_tokens=False).input_ids
    target = whole[len(context_ids):]
    with torch.no_grad():
        logits = model(torch.tensor([whole[:-1]])).logits[0].float()
    logprobs = logits[len(context_ids) - 1:].log_softmax(-1)
    return float(logprobs.gather(1, torch.tensor(target)[:, None]).sum())


@pytest.mark.slow  # imports lm-eval and scores 48 continuations: ~1 min on 2 busy cores
def test_local_harness_task_on_the_tiny_llama_matches_hand_computed_accuracy(llama_path):
    pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install xlt[eval])")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(llama_path)
    model = AutoModelForCausalLM.from_pretrained(llama_path).eval()
    limit = 12
    metrics = run_harness(model, tokenizer, [HarnessTask("xlt_mmlu_sample", num_fewshot=1, limit=limit)],
                          batch_size=4, include_path=str(SAMPLE_TASKS))

    def read(split: str) -> list[dict]:
        lines = (MMLU_SAMPLE / f"{split}.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    shot = read("dev")[0]  # the task's fewshot sampler is first_n over the dev split
    prefix = f"{shot['question'].strip()}\nAnswer: {shot['choices'][shot['answer']]}\n\n"
    correct = []
    for doc in read("test")[:limit]:
        context = f"{prefix}{doc['question'].strip()}\nAnswer:"
        scores = [_continuation_logprob(model, tokenizer, context, f" {choice}") for choice in doc["choices"]]
        correct.append(max(range(len(scores)), key=scores.__getitem__) == doc["answer"])
    assert set(metrics) >= {"xlt_mmlu_sample/acc_none"}
    assert metrics["xlt_mmlu_sample/acc_none"] == pytest.approx(sum(correct) / limit)


def test_local_tasks_folder_is_checked_and_keys_the_stage(tmp_path):
    with pytest.raises(ConfigError, match="recipe.harness.include_path"):
        HarnessConfig(include_path=str(tmp_path / "missing")).include_fingerprint()
    (tmp_path / "task.yaml").write_text("task: a\n")
    before = HarnessConfig(include_path=str(tmp_path)).include_fingerprint()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "samples.pyc").write_bytes(b"x")
    assert HarnessConfig(include_path=str(tmp_path)).include_fingerprint() == before
    (tmp_path / "task.yaml").write_text("task: b\n")
    assert HarnessConfig(include_path=str(tmp_path)).include_fingerprint() != before
    assert HarnessConfig().include_fingerprint() is None
    assert (SAMPLE_TASKS / "xlt_mmlu_sample.yaml").is_file()
