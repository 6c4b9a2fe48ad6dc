"""Instruction tuning of causal LMs (thesis §7.4.1, §7.4.3) and the built-in multiple-choice evaluator.

Training data in any of the three formats of chapter 7 becomes a list of chat messages:
Flan v2 (``inputs``/``targets``: a user turn, a newline appended unless the input ends with a
newline or a colon, and an assistant turn), GPT4-Alpaca (``instruction``/``input``/``output``:
the instruction, a blank line and the input, as one user turn; the reference pipeline samples
one of several prompt templates at random instead) and Tulu v2 (``messages`` as they are). The
conversation is rendered in the Tulu chat format (``<|system|>``/``<|user|>``/``<|assistant|>``
lines, each assistant turn ending with the EOS token) and tokenised once; the loss is on the
assistant turns only (token offsets decide which tokens belong to them), sequences are cut at
2,048 tokens, and packing (concatenating examples into full-length blocks) is off by default.
Schedule (§7.4.3): 2 epochs, effective batch 128 by gradient accumulation, 3% warm-up then
linear decay.

Evaluation (§7.4.4, Appendix E.1): multiple-choice questions in MMLU's format (``question``,
``subject``, ``choices``, ``answer``) are scored as the thesis's code scores MMLU (open-instruct's
``eval/mmlu/run_eval.py``): a 5-shot prompt without the chat format, "The following are multiple
choice questions (with answers) about {subject}." then each exemplar (the subject's first rows of a
separate file, MMLU's dev split) as "{question}\nA. ...\nD. ...\nAnswer: X\n\n" and the question
ending in "\nAnswer:"; exemplars are dropped from the end while the prompt is longer than 2,048
tokens; the prediction is the answer letter whose token (`` A``.. `` D``) has the largest next-token
logit. ``chat_format: true`` is the reference's ``--use_chat_format`` (the prompt as one Tulu user
turn, then "The answer is:"); ``choice_format: text`` (no reference counterpart) scores the
log-likelihood of each choice's text instead. The lm-evaluation-harness benchmarks run through
xlt.eval.harness.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from xlt.config import parse
from xlt.data.collators import IGNORE_INDEX
from xlt.data.locations import row_origin, visible_columns
from xlt.errors import ConfigError, DataError
from xlt.eval.metrics import MeanLoss, Metric
from xlt.eval.multiple_choice import MultipleChoiceAccuracy
from xlt.models.loading import DTYPES, ModelConfig
from xlt.schedule import Schedule
from xlt.tasks import register_family
from xlt.tasks.base import TaskFamily

if TYPE_CHECKING:
    from xlt.tasks.models.base import TaskModel

log = logging.getLogger(__name__)

FORMATS = ("auto", "messages", "flan", "alpaca")
ROLES = ("system", "user", "assistant")
LETTERS = "ABCDEFGHIJ"


@dataclass
class MultipleChoiceConfig:
    """The built-in MMLU-style evaluator; the defaults are open-instruct's MMLU script as the thesis ran it."""

    num_fewshot: int = 5  # exemplars per question (fewer when the prompt is too long)
    choice_format: str = "letter"  # letter: next-token logits of " A".." D" | text: log-likelihood of the choice
    chat_format: bool = False  # the prompt as a Tulu chat user turn + answer_prefix (--use_chat_format)
    answer_prefix: str = "The answer is:"  # the assistant's words before the answer (chat format only)
    max_seq_length: int = 2048  # prompt tokens (special tokens not counted) before exemplars are dropped


@dataclass
class InstructionConfig:
    name: str = "instruct"
    family: str = "instruction"
    format: str = "auto"
    max_seq_length: int = 2048
    packing: bool = False
    gradient_checkpointing: bool = False  # activation checkpointing (Table 7.4's right-hand columns)
    multiple_choice: MultipleChoiceConfig = field(default_factory=MultipleChoiceConfig)
    train: Schedule = field(default_factory=Schedule)


# ----------------------------------------------------------------------------- formats
def detect_format(columns: Sequence[str], where: str) -> str:
    if "messages" in columns:
        return "messages"
    if {"inputs", "targets"} <= set(columns):
        return "flan"
    if {"instruction", "output"} <= set(columns):
        return "alpaca"
    raise DataError(f"{where}: cannot tell the instruction format from columns {visible_columns(columns)} "
                    "(expected messages, inputs/targets or instruction/input/output)")


def to_messages(row: dict[str, Any], fmt: str) -> list[dict[str, str]]:
    """One example as chat messages (module docstring)."""
    if fmt == "messages":
        return [{"role": m["role"], "content": m["content"]} for m in row["messages"]]
    if fmt == "flan":
        prompt = row["inputs"]
        if not prompt.endswith("\n") and not prompt.rstrip().endswith(":"):
            prompt += "\n"
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["targets"]}]
    given = row.get("input") or ""
    prompt = f"{row['instruction']}\n\n{given}" if given.strip() else row["instruction"]
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]


def render_chat(messages: Sequence[dict[str, str]], eos_token: str) -> tuple[str, list[tuple[int, int]]]:
    """Tulu chat text and the character spans of the assistant turns (content + EOS)."""
    text, spans = "", []
    for message in messages:
        role, content = message["role"], message["content"].strip()
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        text += f"<|{role}|>\n"
        if role == "assistant":
            start = len(text)
            text += content + eos_token
            spans.append((start, len(text)))
        else:
            text += content
        text += "\n"
    return text.rstrip("\n"), spans


def encode_chat(messages: Sequence[dict[str, str]], tokenizer: Any, max_length: int | None) -> dict[str, list[int]]:
    """Token ids and labels: assistant tokens keep their id, everything else is IGNORE_INDEX;
    cut at ``max_length`` tokens (None: not cut, e.g. before packing)."""
    text, spans = render_chat(messages, tokenizer.eos_token or "")
    encoded = tokenizer(text, truncation=max_length is not None, max_length=max_length, return_offsets_mapping=True)
    labels = []
    for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        inside = end > start and any(a <= start < b for a, b in spans)
        labels.append(token if inside else IGNORE_INDEX)
    return {"input_ids": list(encoded["input_ids"]), "attention_mask": [1] * len(labels), "labels": labels}


def pack(examples: Sequence[dict[str, list[int]]], length: int) -> list[dict[str, list[int]]]:
    """Concatenate examples and cut into blocks of ``length`` tokens (labels kept)."""
    ids: list[int] = []
    labels: list[int] = []
    for example in examples:
        ids += example["input_ids"]
        labels += example["labels"]
    blocks = []
    for start in range(0, len(ids), length):
        block_labels = labels[start:start + length]
        if any(label != IGNORE_INDEX for label in block_labels[1:]):
            block = ids[start:start + length]
            blocks.append({"input_ids": block, "attention_mask": [1] * len(block), "labels": block_labels})
    return blocks


# ----------------------------------------------------------------------------- multiple choice
def format_subject(subject: str) -> str:
    """MMLU's subject formatting: each ``_``-separated word preceded by a space (" abstract algebra")."""
    return "".join(" " + word for word in subject.split("_"))


def mc_header(subject: str | None) -> str:
    """The task description; ``about`` + :func:`format_subject` gives two spaces, as the reference."""
    if not subject:
        return ""
    return f"The following are multiple choice questions (with answers) about {format_subject(subject)}.\n\n"


def format_mc_example(question: str, choices: Sequence[str], answer: int | None, choice_format: str) -> str:
    """One question as open-instruct's ``format_example``: the question, ``\\nA. choice`` lines and
    ``\\nAnswer:``, then `` B\\n\\n`` for an exemplar. ``choice_format: text`` (xlt's variant) lists no
    choices and answers with the choice's text."""
    text = question
    if choice_format == "letter":
        text += "".join(f"\n{LETTERS[i]}. {choice}" for i, choice in enumerate(choices))
    text += "\nAnswer:"
    if answer is not None:
        text += f" {LETTERS[answer] if choice_format == 'letter' else choices[answer]}\n\n"
    return text


def mc_prompt(question: str, choices: Sequence[str], subject: str | None, exemplars: Sequence[dict[str, Any]],
              cfg: MultipleChoiceConfig) -> tuple[str, list[str]]:
    """(prompt text, one continuation per choice) with every exemplar given: the task description,
    the exemplars with their answers and the question (open-instruct's ``gen_prompt`` +
    ``format_example``); in the chat format the whole prompt is one user turn of the Tulu format
    followed by the assistant's ``answer_prefix`` ("The answer is:")."""
    prompt = mc_header(subject) + "".join(
        format_mc_example(e["question"], list(e["choices"]), int(e["answer"]), cfg.choice_format) for e in exemplars)
    prompt += format_mc_example(question, choices, None, cfg.choice_format)
    if cfg.chat_format:
        # create_prompt_with_tulu_chat_format(add_bos=False): it ends in a newline, so no space before the prefix
        prompt = f"<|user|>\n{prompt}\n<|assistant|>\n{cfg.answer_prefix}"
    continuations = [" " + (LETTERS[i] if cfg.choice_format == "letter" else choice)
                     for i, choice in enumerate(choices)]
    return prompt, continuations


def fit_mc_prompt(question: str, choices: Sequence[str], subject: str | None, exemplars: Sequence[dict[str, Any]],
                  cfg: MultipleChoiceConfig, tokenizer: Any) -> tuple[str, list[str], int, bool]:
    """:func:`mc_prompt` with as many exemplars as fit: while the prompt's tokens (special tokens not
    counted) exceed ``cfg.max_seq_length``, the last exemplar is dropped (open-instruct's ``k -= 1``).
    Returns (prompt, continuations, exemplars used, whether it fits); a question too long even alone
    does not fit (the reference would then loop; we cut it, see :func:`encode_prompt`)."""
    shots = len(exemplars)
    while True:
        prompt, continuations = mc_prompt(question, choices, subject, exemplars[:shots], cfg)
        fits = len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= cfg.max_seq_length
        if fits or shots == 0:
            return prompt, continuations, shots, fits
        shots -= 1


def answer_token_ids(tokenizer: Any, count: int) -> list[int]:
    """The token of each answer letter after a space, as open-instruct: ``encode(" A")[-1]``."""
    ids = [tokenizer.encode(" " + letter, add_special_tokens=False)[-1] for letter in LETTERS[:count]]
    if len(set(ids)) != count:
        raise ConfigError(f"task.multiple_choice.choice_format=letter: the tokenizer gives the answer letters "
                          f"{list(LETTERS[:count])} the same token ids {ids}; use choice_format=text")
    return ids


def encode_prompt(prompt: str, tokenizer: Any, max_length: int | None) -> dict[str, list[int]]:
    """The prompt with the tokenizer's special tokens (BOS for Llama: the reference tokenises its
    prompts so); ``max_length``: cut from the left to that many tokens (for a prompt that does not fit)."""
    ids = list(tokenizer(prompt)["input_ids"])
    if max_length is not None and len(ids) > max_length:
        ids = ids[-max_length:]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [IGNORE_INDEX] * len(ids)}


def encode_continuation(prompt: str, continuation: str, tokenizer: Any,
                        max_length: int | None) -> dict[str, list[int]]:
    """prompt + continuation; labels on the continuation's tokens only; ``max_length``: cut from the
    left to that many tokens (for a prompt that does not fit)."""
    text = prompt + continuation
    encoded = tokenizer(text, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    labels = [token if start >= len(prompt) and end > start else IGNORE_INDEX
              for token, (start, end) in zip(ids, encoded["offset_mapping"])]
    if max_length is not None and len(ids) > max_length:
        ids, labels = ids[-max_length:], labels[-max_length:]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


# ----------------------------------------------------------------------------- model and family
class InstructionCollator:
    """Right padding: pad id, attention 0, labels IGNORE_INDEX; integer fields stacked."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        length = max(len(e["input_ids"]) for e in examples)
        batch = {
            "input_ids": torch.tensor([e["input_ids"] + [self.pad_token_id] * (length - len(e["input_ids"]))
                                       for e in examples]),
            "attention_mask": torch.tensor([e["attention_mask"] + [0] * (length - len(e["attention_mask"]))
                                            for e in examples]),
            "labels": torch.tensor([e["labels"] + [IGNORE_INDEX] * (length - len(e["labels"])) for e in examples]),
        }
        for key in ("question", "choice", "answer", "num_choices"):
            if key in examples[0]:
                batch[key] = torch.tensor([e[key] for e in examples])
        if "candidates" in examples[0]:  # answer-letter token ids per question, padded with -1
            width = max(len(e["candidates"]) for e in examples)
            batch["candidates"] = torch.tensor([e["candidates"] + [-1] * (width - len(e["candidates"]))
                                                for e in examples])
        return batch


def continuation_logprobs(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log p(label token | prefix) per sequence (only labelled positions are normalised)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    mask = targets != IGNORE_INDEX
    rows, cols = torch.nonzero(mask, as_tuple=True)
    selected = logits[:, :-1][rows, cols].float().log_softmax(-1)
    token_logprobs = selected.gather(1, targets[rows, cols].unsqueeze(1)).squeeze(1)
    scores = torch.zeros(targets.shape[0], dtype=torch.float32, device=logits.device)
    return scores.index_add_(0, rows, token_logprobs)


def next_token_logprobs(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[B, C]: log p(candidate token | the whole prompt) at each sequence's last real position (right
    padding) for ``batch["candidates"]`` (padding -1 gives -inf). open-instruct compares the softmax
    probabilities of the candidates; their order is the same."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    last = batch["attention_mask"].sum(1) - 1
    logprobs = logits[torch.arange(logits.shape[0], device=logits.device), last].float().log_softmax(-1)
    candidates = batch["candidates"]
    scores = logprobs.gather(1, candidates.clamp(min=0))
    return scores.masked_fill(candidates < 0, float("-inf"))


def load_causal_lm(path: str, model_cfg: ModelConfig, quantize: str | None = None) -> nn.Module:
    """A causal LM by hub id or path; ``quantize="nf4"`` loads its linear layers as NF4 (qSpIEL/qLoRA)."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": DTYPES[model_cfg.dtype], **model_cfg.extra}
    if model_cfg.revision and not model_cfg.is_tiny:
        kwargs["revision"] = model_cfg.revision
    if quantize is not None:
        if quantize != "nf4":
            raise ConfigError(f"quantize={quantize!r}: only nf4 is supported")
        from xlt.methods.core.quantization import keep_training_numerics, nf4_config

        compute = DTYPES[model_cfg.dtype]
        kwargs["quantization_config"] = nf4_config(compute)
        kwargs.setdefault("device_map", {"": torch.cuda.current_device()} if torch.cuda.is_available() else "cpu")
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        keep_training_numerics(model)
        return model
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


@register_family("instruction")
class InstructionFamily(TaskFamily):
    def __init__(self, cfg: Any, tokenizer: Any):
        self.cfg = cfg if isinstance(cfg, InstructionConfig) else parse(InstructionConfig, cfg, "task")
        if self.cfg.format not in FORMATS:
            raise ConfigError(f"task.format={self.cfg.format!r}: expected one of {FORMATS}")
        if self.cfg.multiple_choice.choice_format not in ("letter", "text"):
            raise ConfigError(f"task.multiple_choice.choice_format={self.cfg.multiple_choice.choice_format!r}: "
                              "expected letter or text")
        if self.cfg.multiple_choice.num_fewshot < 0:
            raise ConfigError(f"task.multiple_choice.num_fewshot={self.cfg.multiple_choice.num_fewshot}: "
                              "must be >= 0")
        self.name = self.cfg.name
        self.schedule = self.cfg.train
        self.tokenizer = tokenizer
        if tokenizer is not None and tokenizer.pad_token is None:  # Llama 2 has none (notes §8): unk, else eos
            tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token

    def build_model(self, model_path: str, model_cfg: ModelConfig, quantize: str | None = None) -> TaskModel:
        backbone = load_causal_lm(model_path, model_cfg, quantize)
        if self.cfg.gradient_checkpointing:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            backbone.config.use_cache = False
        from xlt.tasks.models.instruction import CausalLMModel

        return CausalLMModel(backbone, None, self.metric)

    def metric(self) -> Metric:
        return MeanLoss()

    def mc_metric(self) -> Metric:
        return MultipleChoiceAccuracy()

    def collator(self) -> InstructionCollator:
        return InstructionCollator(self.tokenizer.pad_token_id)

    def preprocess(self, dataset: Any, where: str) -> Sequence[dict[str, Any]]:
        fmt = self.cfg.format if self.cfg.format != "auto" else detect_format(dataset.column_names, where)
        examples = []
        for row_number, row in enumerate(dataset):
            try:
                messages = to_messages(row, fmt)
                example = encode_chat(messages, self.tokenizer, None if self.cfg.packing else self.cfg.max_seq_length)
            except (KeyError, TypeError, ValueError) as error:
                raise DataError(f"{row_origin(row, where, row_number)}: malformed {fmt} record ({error})") from None
            if any(label != IGNORE_INDEX for label in example["labels"][1:]):
                examples.append(example)
        if self.cfg.packing:
            examples = pack(examples, self.cfg.max_seq_length)
        if not examples:
            raise DataError(f"{where}: no example has an assistant turn within {self.cfg.max_seq_length} tokens")
        return examples

    def preprocess_multiple_choice(self, dataset: Any, where: str, exemplars: Any = None) -> list[dict[str, Any]]:
        """The sequences that score an MMLU-format dataset (module docstring): one per question
        (``letter``: the prompt and the answer letters' token ids) or one per (question, choice)
        (``text``: prompt + the choice)."""
        cfg = self.cfg.multiple_choice
        missing = [c for c in ("question", "choices", "answer") if c not in dataset.column_names]
        if missing:
            raise DataError(f"{where}: missing column(s) {missing} (found {visible_columns(dataset.column_names)})")
        shots: dict[str | None, list[dict[str, Any]]] = {}
        if cfg.num_fewshot:
            if exemplars is None:
                raise ConfigError(f"task.multiple_choice.num_fewshot={cfg.num_fewshot}: no exemplar split "
                                  "(data.target.validation) for it")
            for row in exemplars:
                shots.setdefault(row.get("subject"), []).append(row)
        sequences = []
        letter_ids: dict[int, list[int]] = {}
        reduced = cut = 0
        for number, row in enumerate(dataset):
            choices = list(row["choices"])
            answer = int(row["answer"])
            if not 0 <= answer < len(choices) or len(choices) > len(LETTERS):
                raise DataError(f"{row_origin(row, where, number)}: answer {answer} for {len(choices)} choices")
            subject = row.get("subject")
            given = shots.get(subject, [])[: cfg.num_fewshot]
            prompt, continuations, used, fits = fit_mc_prompt(row["question"], choices, subject, given, cfg,
                                                               self.tokenizer)
            reduced += used < len(given)
            cut += not fits
            limit = None if fits else cfg.max_seq_length
            question = {"question": number, "answer": answer, "num_choices": len(choices)}
            if cfg.choice_format == "letter":
                if len(choices) not in letter_ids:
                    letter_ids[len(choices)] = answer_token_ids(self.tokenizer, len(choices))
                sequences.append({**encode_prompt(prompt, self.tokenizer, limit), **question,
                                  "candidates": letter_ids[len(choices)]})
                continue
            for index, continuation in enumerate(continuations):
                sequences.append({**encode_continuation(prompt, continuation, self.tokenizer, limit), **question,
                                  "choice": index})
        if not sequences:
            raise DataError(f"{where}: no questions")
        if reduced:
            log.info("%s: %d question(s) with fewer than %d exemplars (prompt over %d tokens)", where, reduced,
                     cfg.num_fewshot, cfg.max_seq_length)
        if cut:
            log.warning("%s: %d question(s) longer than %d tokens without exemplars: cut from the left", where, cut,
                        cfg.max_seq_length)
        return sequences
