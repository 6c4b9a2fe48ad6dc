"""Bundled instruction-tuning and evaluation samples (thesis §7.4.1), in the real files' formats.

Everything is generated from the shared scene grammar of xlt.data.synthetic (English plus the
synthetic languages), so that instructions have checkable answers:

- ``instruction/flan_v2_resampled_50k.jsonl``: the Flan v2 50K resample of Wang et al. (2023),
  one JSON object per line with ``inputs`` and ``targets``;
- ``instruction/alpaca_gpt4_data.json``: GPT4-Alpaca (Peng et al., 2023), a JSON list of
  ``instruction``, ``input``, ``output`` records;
- ``instruction/tulu_v2_sft_mixture.jsonl``: the Tulu v2 SFT mixture (Ivison et al., 2023), JSON
  lines with ``dataset``, ``id`` and ``messages`` (``role``/``content``; some multi-turn, some
  with a system message);
- ``instruction/mmlu/{test,dev}.jsonl``: multiple-choice questions in MMLU's format (``cais/mmlu``:
  ``question``, ``subject``, ``choices``, ``answer`` index), for the built-in log-likelihood
  evaluator (dev holds the few-shot exemplars).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from xlt.data.synthetic import (
    ADJECTIVES,
    AMERICASNLI_LANGUAGES,
    NOUNS_ANIMATE,
    NOUNS_OBJECT,
    PLACES,
    SAMPLE_SETS,
    VERBS,
    Language,
    Scene,
    _antonym,
    _seed,
    _write,
    render,
)

ENGLISH = Language.make("en")
SUBJECTS = ("scene_roles", "scene_places", "scene_properties")


def _scene(rng: random.Random) -> tuple[Scene, str]:
    scene = Scene.random(rng)
    scene.place = scene.place or rng.choice(PLACES)
    scene.subject_adj = scene.subject_adj or rng.choice(ADJECTIVES)[0]
    return scene, render(scene, ENGLISH, rng)


def _question(rng: random.Random, kind: str) -> tuple[str, str, list[str], str]:
    """(sentence, question, four choices, answer) about one scene."""
    scene, sentence = _scene(rng)
    if kind == "scene_roles":
        answer, pool = scene.subject, [n for n in NOUNS_ANIMATE if n != scene.subject]
        question = f"Who {scene.verb} the {scene.obj}?"
    elif kind == "scene_places":
        answer, pool = scene.place, [p for p in PLACES if p != scene.place]
        question = f"Where is the {scene.subject}?"
    else:
        answer = scene.subject_adj
        pool = [a for pair in ADJECTIVES for a in pair if a != answer]
        question = f"What is the {scene.subject} like?"
    choices = [answer, *rng.sample(pool, 3)]
    rng.shuffle(choices)
    return sentence, question, choices, answer


def _translation(rng: random.Random) -> tuple[str, str, str]:
    code = rng.choice(AMERICASNLI_LANGUAGES)
    scene = Scene.random(rng)
    return code, render(scene, ENGLISH, rng), render(scene, Language.make(code), rng)


def _rewrite(rng: random.Random) -> tuple[str, str]:
    """A sentence and the same sentence with the verb replaced by its antonym."""
    scene = Scene.random(rng)
    determiners = rng.randrange(1 << 30)  # the same articles in both sentences
    flipped = Scene(**{**vars(scene), "verb": _antonym(scene.verb, VERBS)})
    return (render(scene, ENGLISH, random.Random(determiners)),
            render(flipped, ENGLISH, random.Random(determiners)))


def _instruction(rng: random.Random) -> tuple[str, str, str]:
    """(instruction, input, output) of one of a few task types."""
    kind = rng.choice(["qa", "qa", "mc", "mc", "translate", "rewrite", "list"])
    if kind == "mc":  # MMLU-style: lettered options, the answer's letter
        sentence, question, choices, answer = _question(rng, rng.choice(SUBJECTS))
        options = "\n".join(f"{letter}. {choice}" for letter, choice in zip("ABCD", choices))
        return ("Answer the multiple choice question.", f"{sentence}\n{question}\n{options}",
                f"The answer is {'ABCD'[choices.index(answer)]}.")
    if kind == "qa":
        sentence, question, choices, answer = _question(rng, rng.choice(SUBJECTS))
        return ("Answer the question about the sentence. Choose one of: " + ", ".join(choices) + ".",
                f"Sentence: {sentence}\nQuestion: {question}", f"The answer is {answer}.")
    if kind == "translate":
        code, english, translated = _translation(rng)
        return f"Translate the sentence into the language {code}.", english, translated
    if kind == "rewrite":
        sentence, flipped = _rewrite(rng)
        return "Rewrite the sentence so that the action is the opposite.", sentence, flipped
    nouns = rng.sample(NOUNS_OBJECT, 3)
    return ("List three things that could be found near a " + rng.choice(PLACES) + ".", "",
            "\n".join(f"{i}. A {noun}." for i, noun in enumerate(nouns, 1)))


def write_flan(out: Path, n: int) -> None:
    rng = random.Random(_seed("flan_v2"))
    rows = []
    for _ in range(n):
        instruction, given, output = _instruction(rng)
        inputs = f"{instruction}\n\n{given}" if given else instruction
        if rng.random() < 0.3:
            inputs += "\nAnswer:"
        rows.append({"inputs": inputs, "targets": output})
    _write(out / "instruction" / "flan_v2_resampled_50k.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def write_alpaca(out: Path, n: int) -> None:
    rng = random.Random(_seed("gpt4_alpaca"))
    rows = []
    for _ in range(n):
        instruction, given, output = _instruction(rng)
        rows.append({"instruction": instruction, "input": given, "output": output})
    _write(out / "instruction" / "alpaca_gpt4_data.json", json.dumps(rows, indent=2) + "\n")


def write_tulu(out: Path, n: int) -> None:
    rng = random.Random(_seed("tulu_v2"))
    datasets = ["flan_v2", "gpt4_alpaca", "oasst1", "sharegpt", "cot", "code_alpaca", "science"]
    rows = []
    for i in range(n):
        dataset = rng.choice(datasets)
        messages = []
        if rng.random() < 0.15:
            messages.append({"role": "system", "content": "You are a helpful assistant."})
        for _ in range(rng.choice((1, 1, 2))):
            instruction, given, output = _instruction(rng)
            messages.append({"role": "user", "content": f"{instruction}\n\n{given}" if given else instruction})
            messages.append({"role": "assistant", "content": output})
        rows.append({"dataset": dataset, "id": f"{dataset}_{i}", "messages": messages})
    _write(out / "instruction" / "tulu_v2_sft_mixture.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def write_mmlu(out: Path, n_test: int, n_dev: int) -> None:
    """MMLU-format multiple choice (``cais/mmlu``): the same subjects in dev (exemplars) and test."""
    for split, n in (("test", n_test), ("dev", n_dev)):
        rng = random.Random(_seed("mmlu", split))
        rows = []
        for i in range(n):
            subject = SUBJECTS[i % len(SUBJECTS)]
            sentence, question, choices, answer = _question(rng, subject)
            rows.append({"question": f"{sentence}\n{question}", "subject": subject, "choices": choices,
                         "answer": choices.index(answer)})
        _write(out / "instruction" / "mmlu" / f"{split}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))


def write_instruction_samples(out: Path) -> None:
    write_flan(out, 320)
    write_alpaca(out, 320)
    write_tulu(out, 320)
    write_mmlu(out, n_test=90, n_dev=15)


WRITERS: dict[str, Callable[[Path], None]] = {"instruction": write_instruction_samples}
SAMPLE_SETS.update(WRITERS)
