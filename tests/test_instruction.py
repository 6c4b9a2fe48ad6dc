"""The instruction-tuning task family (§7.4.1, §7.4.3): formats, assistant-only labels, packing,
the multiple-choice evaluator against hand-computed log-likelihoods, and the harness hook."""

from __future__ import annotations

import sys
import types

import datasets
import pytest
import torch
import yaml

from xlt.config import parse
from xlt.data.collators import IGNORE_INDEX
from xlt.errors import ConfigError, DataError
from xlt.eval.harness import HarnessTask, run_harness
from xlt.eval.multiple_choice import MultipleChoiceAccuracy
from xlt.models.loading import ModelConfig
from xlt.tasks.instruction import (
    InstructionConfig,
    InstructionFamily,
    continuation_logprobs,
    detect_format,
    encode_chat,
    mc_prompt,
    next_token_logprobs,
    pack,
    render_chat,
    to_messages,
)


@pytest.fixture(scope="module")
def tokenizer(llama_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(llama_path)


def family(tokenizer, **overrides) -> InstructionFamily:
    return InstructionFamily({"name": "instruct", **overrides}, tokenizer)


def test_formats_become_messages():
    assert detect_format(["dataset", "id", "messages"], "x") == "messages"
    assert detect_format(["inputs", "targets"], "x") == "flan"
    assert detect_format(["instruction", "input", "output", "text"], "x") == "alpaca"
    with pytest.raises(DataError, match="cannot tell"):
        detect_format(["question"], "file.jsonl")
    # Flan: a newline after the input unless it ends with a newline or a colon
    assert to_messages({"inputs": "Q", "targets": "A"}, "flan")[0]["content"] == "Q\n"
    assert to_messages({"inputs": "Answer:", "targets": "A"}, "flan")[0]["content"] == "Answer:"
    alpaca = to_messages({"instruction": "Do.", "input": "this", "output": "done"}, "alpaca")
    assert alpaca == [{"role": "user", "content": "Do.\n\nthis"}, {"role": "assistant", "content": "done"}]
    assert to_messages({"instruction": "Do.", "input": "", "output": "ok"}, "alpaca")[0]["content"] == "Do."


def test_chat_rendering_and_assistant_only_labels(tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi.\n"},
                {"role": "assistant", "content": "Hi there."}, {"role": "user", "content": "Again"},
                {"role": "assistant", "content": "Hi."}]
    text, spans = render_chat(messages, "</s>")
    assert text == ("<|system|>\nBe brief.\n<|user|>\nSay hi.\n<|assistant|>\nHi there.</s>\n"
                    "<|user|>\nAgain\n<|assistant|>\nHi.</s>")
    assert [text[a:b] for a, b in spans] == ["Hi there.</s>", "Hi.</s>"]
    encoded = encode_chat(messages, tokenizer, 2048)
    assert encoded["input_ids"][0] == tokenizer.bos_token_id
    labelled = [t for t, label in zip(encoded["input_ids"], encoded["labels"]) if label != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == "Hi there.</s>Hi.</s>"
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(encoded["input_ids"], encoded["labels"]))
    short = encode_chat(messages, tokenizer, 8)
    assert len(short["input_ids"]) == 8 and all(label == IGNORE_INDEX for label in short["labels"])


def test_preprocess_drops_truncated_examples_packs_and_reports_bad_rows(tokenizer):
    data = datasets.Dataset.from_list([{"inputs": "What is two?", "targets": "Two."},
                                       {"inputs": "x " * 300, "targets": "late"}])
    examples = family(tokenizer, max_seq_length=64).preprocess(data, "train.jsonl")
    assert len(examples) == 1  # the second has no assistant token within 64 tokens
    packed = family(tokenizer, max_seq_length=16, packing=True).preprocess(
        datasets.Dataset.from_list([{"inputs": f"Question {i}?", "targets": f"Answer {i}."} for i in range(6)]),
        "train.jsonl")
    assert all(len(block["input_ids"]) <= 16 for block in packed) and len(packed) >= 2
    tokens = pack([{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, {"input_ids": [4, 5], "labels": [-100, 5]}], 4)
    assert tokens == [{"input_ids": [1, 2, 3, 4], "attention_mask": [1] * 4, "labels": [-100, 2, 3, -100]}]
    bad = datasets.Dataset.from_list([{"messages": [{"role": "robot", "content": "beep"}]}])
    with pytest.raises(DataError, match=r"tulu.jsonl: example 0: malformed messages record"):
        family(tokenizer).preprocess(bad, "tulu.jsonl")
    with pytest.raises(ConfigError, match="task.format"):
        family(tokenizer, format="xml")


SHOTS = [{"question": "What is 2 + 2?", "subject": "elementary_mathematics", "choices": ["3", "4", "5", "6"],
          "answer": 1},
         {"question": "Which is prime?", "subject": "elementary_mathematics", "choices": ["4", "6", "7", "9"],
          "answer": 2}]
QUESTION = {"question": "What is 3 x 3?", "subject": "elementary_mathematics", "choices": ["6", "9", "12", "3"],
            "answer": 1}
# open-instruct's eval/mmlu/run_eval.py (gen_prompt + format_example, ntrain=2), written out by hand;
# format_subject gives " elementary mathematics", hence the two spaces after "about"
REFERENCE_PROMPT = ("The following are multiple choice questions (with answers) about  elementary mathematics.\n\n"
                    "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer: B\n\n"
                    "Which is prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer: C\n\n"
                    "What is 3 x 3?\nA. 6\nB. 9\nC. 12\nD. 3\nAnswer:")


def test_mmlu_prompt_is_open_instructs_by_default_and_with_chat_format(tokenizer):
    """§7.4.4 / E.1: the default is open-instruct's 5-shot MMLU prompt without the chat format; the
    chat variant is its --use_chat_format (Tulu user turn, then "The answer is:")."""
    cfg = family(tokenizer).cfg.multiple_choice
    assert (cfg.num_fewshot, cfg.chat_format, cfg.choice_format) == (5, False, "letter")
    args = (QUESTION["question"], QUESTION["choices"], QUESTION["subject"], SHOTS)
    prompt, continuations = mc_prompt(*args, cfg)
    assert prompt == REFERENCE_PROMPT
    assert continuations == [" A", " B", " C", " D"]
    chat = family(tokenizer, multiple_choice={"chat_format": True}).cfg.multiple_choice
    assert mc_prompt(*args, chat)[0] == "<|user|>\n" + REFERENCE_PROMPT + "\n<|assistant|>\nThe answer is:"
    # the configured defaults (conf/task/instruct.yaml) are the same
    conf = yaml.safe_load(open("conf/task/instruct.yaml"))
    assert vars(parse(InstructionConfig, conf, "task").multiple_choice) == vars(cfg)


def test_mmlu_sequences_drop_whole_exemplars_until_the_prompt_fits(tokenizer):
    rows = datasets.Dataset.from_list([QUESTION])
    shots = datasets.Dataset.from_list(SHOTS + [{"question": "Other subject?", "subject": "law",
                                                 "choices": ["a", "b", "c", "d"], "answer": 0}])
    cfg = family(tokenizer).cfg.multiple_choice
    args = (QUESTION["question"], QUESTION["choices"], QUESTION["subject"])
    lengths = [len(tokenizer(mc_prompt(*args, SHOTS[:k], cfg)[0], add_special_tokens=False)["input_ids"])
               for k in range(3)]
    assert lengths[0] < lengths[1] < lengths[2]
    for limit, kept in ((lengths[2], 2), (lengths[2] - 1, 1), (lengths[1], 1), (lengths[1] - 1, 0), (lengths[0], 0)):
        inst = family(tokenizer, multiple_choice={"max_seq_length": limit})
        [sequence] = inst.preprocess_multiple_choice(rows, "mmlu.jsonl", shots)
        expected = mc_prompt(*args, SHOTS[:kept], cfg)[0]
        # the whole prompt with the tokenizer's BOS, as the reference scores it: no token cut away
        assert sequence["input_ids"] == tokenizer(expected)["input_ids"], (limit, kept)
        assert sequence["candidates"] == [tokenizer.encode(" " + x, add_special_tokens=False)[-1] for x in "ABCD"]
        assert (sequence["question"], sequence["answer"], sequence["num_choices"]) == (0, 1, 4)
    # a question longer than the limit even alone is cut from the left (the reference would loop)
    inst = family(tokenizer, multiple_choice={"max_seq_length": lengths[0] - 3})
    [sequence] = inst.preprocess_multiple_choice(rows, "mmlu.jsonl", shots)
    assert sequence["input_ids"] == tokenizer(mc_prompt(*args, [], cfg)[0])["input_ids"][-(lengths[0] - 3):]
    # choice_format text: one sequence per choice, labels on the choice's tokens
    text_rows = datasets.Dataset.from_list([{"question": "Who?", "subject": "s", "choices": ["a", "b", "c"],
                                             "answer": 2}])
    text_shots = datasets.Dataset.from_list([{"question": "Q", "subject": "s", "choices": ["x", "y"], "answer": 0}])
    text = family(tokenizer, multiple_choice={"num_fewshot": 1, "choice_format": "text"})
    assert mc_prompt("Who?", ["a", "b", "c"], "s", list(text_shots), text.cfg.multiple_choice) == (
        "The following are multiple choice questions (with answers) about  s.\n\nQ\nAnswer: x\n\nWho?\nAnswer:",
        [" a", " b", " c"])
    sequences = text.preprocess_multiple_choice(text_rows, "mmlu.jsonl", text_shots)
    assert [(s["question"], s["choice"], s["answer"], s["num_choices"]) for s in sequences] == \
        [(0, 0, 2, 3), (0, 1, 2, 3), (0, 2, 2, 3)]
    assert tokenizer.decode([t for t, label in zip(sequences[2]["input_ids"], sequences[2]["labels"])
                             if label != IGNORE_INDEX]) == " c"
    with pytest.raises(ConfigError, match="num_fewshot"):
        family(tokenizer, multiple_choice={"num_fewshot": 2}).preprocess_multiple_choice(rows, "mmlu.jsonl")
    broken = datasets.Dataset.from_list([{"question": "Q", "choices": ["a"], "answer": 3}])
    with pytest.raises(DataError, match="mmlu.jsonl: example 0: answer 3"):
        family(tokenizer, multiple_choice={"num_fewshot": 0}).preprocess_multiple_choice(broken, "mmlu.jsonl")


def test_mmlu_answer_is_the_letter_with_the_largest_next_token_logit(llama_path, tokenizer):
    """As open-instruct's get_next_word_predictions: the logits after the whole prompt (BOS added), the
    candidates " A".." D" (each ``encode(" X")[-1]``), the argmax; batched questions of different
    lengths and numbers of choices give the same as one at a time."""
    inst = family(tokenizer, multiple_choice={"num_fewshot": 2})
    rows = datasets.Dataset.from_list([QUESTION, {"question": "Who sees?", "subject": "elementary_mathematics",
                                                  "choices": ["dog", "cat"], "answer": 1},
                                       {"question": "Where is the long lake?", "subject": "geography",
                                        "choices": ["north", "south", "east"], "answer": 0}])
    sequences = inst.preprocess_multiple_choice(rows, "mmlu.jsonl", datasets.Dataset.from_list(SHOTS))
    assert len(sequences) == 3
    batch = inst.collator()(sequences)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(llama_path)
    letters = [tokenizer.encode(" " + x, add_special_tokens=False)[-1] for x in "ABCD"]
    with torch.no_grad():
        scores = next_token_logprobs(model, batch)
        expected_predictions = []
        for row, question in enumerate(rows):
            shots = SHOTS if question["subject"] == "elementary_mathematics" else []
            prompt = mc_prompt(question["question"], question["choices"], question["subject"], shots,
                               inst.cfg.multiple_choice)[0]
            ids = torch.tensor([tokenizer(prompt)["input_ids"]])
            n = len(question["choices"])
            probs = model(input_ids=ids).logits[0, -1].softmax(-1)[letters[:n]]
            expected_predictions.append(int(probs.argmax()))
            assert torch.allclose(scores[row, :n].exp(), probs, atol=1e-5)
            assert torch.isinf(scores[row, n:]).all()
    metric = MultipleChoiceAccuracy()
    metric.update_questions(batch["question"], batch["answer"], batch["num_choices"], scores)
    correct = sum(p == q["answer"] for p, q in zip(expected_predictions, rows))
    assert metric.compute() == {"accuracy": correct / 3, "questions": 3.0}
    # the task model's validation path gives the same
    task_model = inst.build_model(llama_path, ModelConfig(name_or_path=llama_path))
    through_model = MultipleChoiceAccuracy()
    with torch.no_grad():
        task_model.update_metric(through_model, batch)
    assert through_model.compute() == metric.compute()


def test_continuation_logprobs_match_a_manual_computation(llama_path, tokenizer):
    inst = family(tokenizer, multiple_choice={"num_fewshot": 0, "choice_format": "text"})
    rows = datasets.Dataset.from_list([{"question": "Who sees?", "choices": ["dog", "cat"], "answer": 1},
                                       {"question": "Where?", "choices": ["lake", "market", "school"], "answer": 0}])
    sequences = inst.preprocess_multiple_choice(rows, "mmlu.jsonl")
    batch = inst.collator()(sequences)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(llama_path)
    with torch.no_grad():
        scores = continuation_logprobs(model, batch)
        for row, sequence in enumerate(sequences):
            ids = torch.tensor([sequence["input_ids"]])
            logp = model(input_ids=ids).logits[0].log_softmax(-1)
            expected = sum(float(logp[i - 1, ids[0, i]]) for i, label in enumerate(sequence["labels"])
                           if label != IGNORE_INDEX)
            assert scores[row].item() == pytest.approx(expected, abs=1e-4)
    metric = MultipleChoiceAccuracy()
    metric.update(batch["question"], batch["choice"], batch["answer"], batch["num_choices"], scores)
    predictions = [max(range(2), key=lambda c: float(scores[c])), max(range(3), key=lambda c: float(scores[2 + c]))]
    assert metric.compute() == {"accuracy": ((predictions[0] == 1) + (predictions[1] == 0)) / 2, "questions": 2.0}


def test_multiple_choice_accuracy_hand_computed():
    metric = MultipleChoiceAccuracy()
    t = torch.tensor
    # question 0: choices scored in two batches; question 1 complete; question 2 missing a choice
    metric.update(t([0, 0, 1, 1]), t([0, 1, 0, 1]), t([1, 1, 0, 0]), t([3, 3, 2, 2]), t([-1.0, -0.5, -2.0, -3.0]))
    metric.update(t([0, 2]), t([2, 0]), t([1, 0]), t([3, 2]), t([-0.1, -1.0]))
    # q0: best is choice 2 (-0.1) but the answer is 1: wrong; q1: best 0 = answer: right; q2 incomplete
    assert metric.compute() == {"accuracy": 0.5, "questions": 2.0}


def test_harness_hook_calls_simple_evaluate_per_task(monkeypatch):
    calls = []

    class FakeLM:
        def __init__(self, pretrained, tokenizer, batch_size):
            self.pretrained, self.batch_size = pretrained, batch_size

    def simple_evaluate(model, tasks, num_fewshot, limit, **kwargs):
        calls.append((model.pretrained, tasks, num_fewshot, limit, kwargs))
        return {"results": {tasks[0]: {"alias": tasks[0], "acc,none": 0.25, "acc_stderr,none": 0.01}}}

    fake = types.ModuleType("lm_eval")
    fake.simple_evaluate = simple_evaluate
    models = types.ModuleType("lm_eval.models")
    huggingface = types.ModuleType("lm_eval.models.huggingface")
    huggingface.HFLM = FakeLM
    monkeypatch.setitem(sys.modules, "lm_eval", fake)
    monkeypatch.setitem(sys.modules, "lm_eval.models", models)
    monkeypatch.setitem(sys.modules, "lm_eval.models.huggingface", huggingface)
    tasks = [HarnessTask("mmlu", 5), HarnessTask("gsm8k_cot", 8, 200)]
    metrics = run_harness("model", "tok", tasks, batch_size=2)
    assert metrics == {"mmlu/acc_none": 0.25, "gsm8k_cot/acc_none": 0.25}
    assert calls == [("model", ["mmlu"], 5, None, {}), ("model", ["gsm8k_cot"], 8, 200, {})]
