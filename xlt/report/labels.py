"""Human words for what a sweep varies: axis labels, method names, value formatting, axis scales.

Config keys become the words a paper would print (``task_module.density`` -> "task density (% of
parameters)"); override values that pick a method become the thesis's method names (``task_module=ltsft``
-> "LT-SFT", ``lang_module=madg_ls`` + ``recipe.protocol=source`` -> "MAD-G-LS-en"); an axis is
logarithmic when the swept quantity is (densities, budgets, K shots, words, learning rates), linear
when it counts things added one at a time (layers, epochs), and decided from the spread of the values
for a key nobody described. Unknown keys still read as words (``recipe.finetune.max_steps`` ->
"fine-tuning max steps").
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    """How a swept key is shown: its label, a display scale (densities as percentages), whether its axis
    is logarithmic (None: decide from the values), whether large values are counts (442,368 -> 442K)."""

    label: str
    scale: float = 1.0
    log: bool | None = None
    count: bool = False


PERCENT_OF_PARAMETERS = 100.0

# Keys of the thesis's sweeps and searches (Fig. 3.3, 4.2, 4.3, §6, §7.4.4).
QUANTITIES: dict[str, Quantity] = {
    "task_module.density": Quantity("task density (% of parameters)", PERCENT_OF_PARAMETERS, log=True),
    "lang_module.density": Quantity("language density (% of parameters)", PERCENT_OF_PARAMETERS, log=True),
    "task_module.num_trainable": Quantity("trainable task parameters", log=True, count=True),
    "lang_module.num_trainable": Quantity("trainable language parameters", log=True, count=True),
    "task_module.reduction_factor": Quantity("task adapter reduction factor", log=True),
    "lang_module.reduction_factor": Quantity("language adapter reduction factor", log=True),
    "task_module.rank": Quantity("rank r", log=True),
    "task_module.alpha": Quantity("LoRA α", log=True),
    "task_module.weight_decay": Quantity("weight decay λ", log=True),
    "task_module.l1_lambda": Quantity("L1 regularisation λ", log=True),
    "task.train.lr": Quantity("learning rate", log=True),
    "lang_module.train.lr": Quantity("language module learning rate", log=True),
    "task.train.batch_size": Quantity("batch size", log=True),
    "task.train.max_steps": Quantity("task training steps", log=True, count=True),
    "task.train.max_epochs": Quantity("task training epochs", log=False),
    "lang_module.train.max_steps": Quantity("language module training steps", log=True, count=True),
    "lang_module.language_dim": Quantity("language embedding size d_l", log=True),
    "lang_module.layer_dim": Quantity("layer embedding size d_b", log=True),
    "recipe.finetune.words": Quantity("words of fine-tuning data", log=True, count=True),
    "recipe.finetune.init": Quantity("adapter initialisation"),
    "recipe.protocol": Quantity("protocol"),
    "recipe.variant": Quantity("method"),
    "recipe.lrf": Quantity("layer reduction factor (LRF)", log=False),
    "recipe.vocabulary_threshold": Quantity("vocabulary threshold (unigram probability)", log=True),
    "recipe.distillation.train.max_steps": Quantity("distillation steps", log=True, count=True),
    "data.targets": Quantity("target languages"),
    "recipe.configuration": Quantity("configuration"),  # chapter 6's rows (Tables 6.2, 6.3)
    "task_module": Quantity("method"),
    "lang_module": Quantity("language method"),
    "recipe": Quantity("recipe"),
    "model": Quantity("model"),
    "task": Quantity("task"),
    "data": Quantity("data"),
    "seed": Quantity("seed", log=False),
}

# The last part of a key -> (words, scale, log, count), with the owner of the key in front.
SUFFIXES: dict[str, Quantity] = {
    "density": Quantity("density (% of parameters)", PERCENT_OF_PARAMETERS, log=True),
    "num_trainable": Quantity("trainable parameters", log=True, count=True),
    "lr": Quantity("learning rate", log=True),
    "learning_rate": Quantity("learning rate", log=True),
    "weight_decay": Quantity("weight decay", log=True),
    "words": Quantity("words of data", log=True, count=True),
    "max_steps": Quantity("steps", log=True, count=True),
    "max_examples": Quantity("examples", log=True, count=True),
    "max_train_examples": Quantity("training examples", log=True, count=True),
    "batch_size": Quantity("batch size", log=True),
    "reduction_factor": Quantity("reduction factor", log=True),
    "rank": Quantity("rank", log=True),
    "max_epochs": Quantity("epochs", log=False),
    "num_layers": Quantity("layers", log=False),
    "layers": Quantity("layers", log=False),
    "leave_out": Quantity("layers left out", log=False),
    "warmup_ratio": Quantity("warm-up ratio", log=False),
    "dropout": Quantity("dropout", log=False),
    "seed": Quantity("seed", log=False),
}
OWNERS: dict[str, str] = {
    "task_module": "task", "lang_module": "language", "task.train": "task training",
    "lang_module.train": "language module training", "recipe.finetune.train": "fine-tuning",
    "recipe.finetune": "fine-tuning", "recipe": "recipe", "data": "data", "model": "model", "trainer": "trainer",
    "lang_module.mlm": "language MLM", "nmt": "translation",
}
SHOTS = Quantity("shots per language (K)", log=True, count=True)
NMT_SIZE = Quantity("NLLB model size", log=True, count=True)
QUANTITIES["nmt"] = NMT_SIZE  # the nmt group's choice (Table 6.4)
WORDS = {"lr": "learning rate", "num": "number of", "max": "max", "min": "min", "init": "initialisation"}

# Method names (the thesis's): config-group options and the methods their configs name.
MODULE_NAMES: dict[str, str] = {
    "sft": "LT-SFT", "ltsft": "LT-SFT", "rand_sft": "rand-SFT", "bitfit": "BitFit", "full": "full fine-tuning",
    "adapter": "MAD-X", "adapter_all_layers": "MAD-X", "madg": "MAD-G", "madg_ls": "MAD-G-LS",
    "lora": "LoRA", "qlora": "qLoRA", "ia3": "(IA)³", "spiel_ag": "SpIEL-AG", "spiel_ma": "SpIEL-MA",
    "qspiel_ag": "qSpIEL-AG", "qspiel_ma": "qSpIEL-MA",
}
# Chapter 5's rows (Tables 5.3-5.7): recipe=bistil's variants and baselines (recipe.variant).
BISTIL_NAMES: dict[str, str] = {"tf": "BiStil-TF", "st": "BiStil-ST", "scratch": "Scratch", "ltsft": "LtSft",
                                "distilmbert": "DistilmBERT", "minilm": "MiniLMv2"}
# Chapter 3's "TA" is a task adapter: TA-only names the adapter baseline with no language adapter.
ADAPTER_MODULES = ("adapter", "adapter_all_layers")
MADG_MODULES = ("madg", "madg_ls")
# Keys whose values pick the method: they make one "method" column.
METHOD_KEYS = ("task_module", "lang_module", "recipe", "recipe.protocol", "recipe.finetune.init",
               "recipe.variant")

VALUE_NAMES: dict[str, dict[str, str]] = {
    "model": {"mbert": "mBERT", "xlmr_base": "XLM-R base", "xlmr_large": "XLM-R large",
              "mdeberta_base": "mDeBERTa base", "llama2_7b": "Llama 2 7B", "llama2_13b": "Llama 2 13B",
              "tiny_bert": "tiny BERT", "tiny_xlmr": "tiny XLM-R", "tiny_llama": "tiny Llama"},
    "task": {"pos": "POS", "dp": "DP", "ner": "NER", "nli": "NLI", "sa": "SA", "qa": "QA",
             "instruct": "instruction tuning", "mlm": "MLM"},
    "recipe.finetune.init": {"generated": "generated", "random": "random"},
    # chapter 6 (xlt/pipeline/recipes/holistic.py), in the thesis's row order (Tables 6.2, 6.3)
    "recipe.configuration": {"zs": "ZS", "zs_la": "ZS – LA", "fs_single": "FS-SINGLE", "fs_all": "FS-ALL",
                             "fs_la": "FS – LA", "fs_upsample": "FS – UPSAMPLE", "ttrain_single": "TTRAIN-SINGLE",
                             "ttrain_all": "TTRAIN-ALL", "ttrain_all_la": "TTRAIN-ALL – LA",
                             "fs_ttrain_all": "FS + TTRAIN-ALL", "ttest": "TTEST"},
    "nmt": {"nllb_600m": "NLLB 600M", "nllb_1_3b": "NLLB 1.3B", "nllb_3_3b": "NLLB 3.3B"},
}
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "macro_f1": "macro-F1", "las": "LAS", "uas": "UAS",
                "exact_match": "exact match", "em": "exact match", "loss": "MLM loss", "loss_base": "MLM loss (base)",
                "chrf": "chrF", "bleu": "BLEU"}

# Experiment-name words (conf/experiment/*.yaml) -> a readable title.
EXPERIMENT_WORDS = {
    "ltsft": "LT-SFT", "madg": "MAD-G", "madx": "MAD-X", "spiel": "SpIEL", "americasnli": "AmericasNLI",
    "masakhaner": "MasakhaNER", "ud": "UD", "pos": "POS", "dp": "DP", "ner": "NER", "nusax": "NusaX",
    "xquad": "XQuAD", "bistil": "BiStil",
    "flan": "Flan v2", "alpaca": "GPT4-Alpaca", "tulu": "Tülu v2", "composition": "composition",
    "holistic": "holistic transfer",
}


def key_quantity(key: str) -> Quantity:
    """How ``key`` is labelled and plotted: the table of known keys, then the last part of the key with its
    owner in front (``lang_module.train.lr`` -> "language module training learning rate"), then words."""
    if key in QUANTITIES:
        return QUANTITIES[key]
    parts = key.split(".")
    if "shots" in parts or parts[-1] in ("shots", "num_shots", "k_shots"):
        return SHOTS
    if parts[0] in ("nmt", "translation") and parts[-1] in ("model", "name", "name_or_path", "size"):
        return NMT_SIZE
    owner_key = next((".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1) if ".".join(parts[:i]) in OWNERS),
                     None)
    owner = OWNERS[owner_key] if owner_key else " ".join(_words(p) for p in parts[:-1])
    suffix = SUFFIXES.get(parts[-1])
    if suffix is not None:
        return Quantity(f"{owner} {suffix.label}".strip(), suffix.scale, suffix.log, suffix.count)
    rest = parts[len(owner_key.split(".")):] if owner_key else parts[-1:]
    return Quantity(f"{owner} {' '.join(_words(p) for p in rest)}".strip())


def key_label(key: str) -> str:
    """The human label of a config key (axis labels, table headers)."""
    return key_quantity(key).label


def _words(part: str) -> str:
    return " ".join(WORDS.get(word, word) for word in part.split("_") if word)


def parse_number(text: str | None) -> float | None:
    """A finite number, or a model size such as ``600M`` / ``nllb-200-3.3B`` for size keys; else None."""
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMB])\b", re.IGNORECASE)
SIZE_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9}


def parse_size(text: str) -> float | None:
    """``nllb-200-distilled-600M`` -> 6e8, ``3.3B`` -> 3.3e9 (the last size in the text)."""
    found = SIZE.findall(str(text).replace("_", "-"))
    if not found:
        return None
    number, unit = found[-1]
    return float(number) * SIZE_UNITS[unit.lower()]


def key_number(key: str, text: str) -> float | None:
    """The number a swept value stands for (model sizes included for size keys)."""
    number = parse_number(text)
    if number is None and key_quantity(key) is NMT_SIZE:
        return parse_size(VALUE_NAMES.get(key, {}).get(text, text))  # nllb_1_3b -> "NLLB 1.3B" -> 1.3e9
    return number


def value_rank(key: str, text: str) -> int | None:
    """Where a named value goes among its key's known values (chapter 6's configurations in the thesis's
    row order); None for values without a known name."""
    names = list(VALUE_NAMES.get(key, {}))
    return names.index(text) if text in names else None


def compact_count(value: float) -> str:
    """442368 -> "442K", 1769472 -> "1.77M", 3.3e9 -> "3.3B"; below 1000 the number itself."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:g}"


def format_value(key: str, text: str) -> str:
    """A swept value as a paper prints it: densities in percent (``0.02`` -> "2"), counts compact
    (``442368`` -> "442K"), known names by name (``model=xlmr_base`` -> "XLM-R base"), else as given."""
    quantity = key_quantity(key)
    names = VALUE_NAMES.get(key)
    if names and text in names:
        return names[text]
    number = key_number(key, text)
    if number is None:
        return text
    if quantity.scale != 1.0:
        return f"{number * quantity.scale:.3g}"
    if quantity.count and abs(number) >= 1000:
        return compact_count(number)
    return text


def axis_scale(key: str, values: Sequence[float]) -> str:
    """``"log"`` or ``"linear"`` for an axis over ``values`` of ``key``: the key decides when it is known
    (densities, budgets, shots, words, learning rates: log; layers, epochs: linear), else the values do
    (log when they are positive and spread over >= 100x, or over >= 4x and more evenly spaced in log than
    in linear terms, as 1, 2, 4, 8 are). Log needs every value > 0 (a weight decay of 0: linear)."""
    distinct = sorted(set(values))
    positive = bool(distinct) and distinct[0] > 0
    if len(distinct) < 2 or not positive:
        return "linear"
    known = key_quantity(key).log
    if known is not None:
        return "log" if known else "linear"
    spread = distinct[-1] / distinct[0]
    if spread >= 100:
        return "log"
    if spread < 4 or len(distinct) < 3:
        return "linear"
    return "log" if _unevenness([math.log(v) for v in distinct]) < _unevenness(distinct) else "linear"


def _unevenness(values: Sequence[float]) -> float:
    """Coefficient of variation of the gaps between sorted values (0: evenly spaced)."""
    gaps = [b - a for a, b in zip(values, values[1:])]
    mean = statistics.fmean(gaps)
    return statistics.pstdev(gaps) / mean if mean else 0.0


def log_base(values: Sequence[float]) -> int:
    """2 when every value is a power of two (reduction factors, ranks), else 10."""
    return 2 if values and all(v > 0 and math.log2(v).is_integer() for v in values) else 10


# ---------------------------------------------------------------------------- methods
def method_label(context: Mapping[str, str], with_language: bool = False) -> str | None:
    """The thesis's name of the method a job ran, from its method context (``task_module``,
    ``lang_module``: config-group options or method names; ``recipe``, ``recipe.protocol``,
    ``recipe.finetune.init``). MAD-G family (§3.4.2, §3.5.3): MAD-G, MAD-G-LS, MAD-G-en (protocol
    source), TA-only (protocol ta_only: a task adapter, no language adapter), MAD-G-ft / rand-ft
    (fine-tuned generated / random target adapters). Zero-shot (Table 4.2): the task module's method
    (LT-SFT, rand-SFT, MAD-X, BitFit), "<method> TA-only" for ``ta_only_at_inference``; chapter 7:
    LoRA, (IA)³, SpIEL-AG, SpIEL-MA and their quantised q- variants. ``with_language``: name a language
    method that differs from the task's (when a table varies it). None when nothing is known."""
    if context.get("recipe") == "bistil" or "recipe.variant" in context:  # chapter 5 (Tables 5.3-5.7)
        variant = context.get("recipe.variant") or "tf"
        return BISTIL_NAMES.get(variant, variant)
    task, lang = context.get("task_module"), context.get("lang_module")
    protocol = context.get("recipe.protocol") or "target"
    init = context.get("recipe.finetune.init")
    task_name = MODULE_NAMES.get(task or "", task)
    lang_name = MODULE_NAMES.get(lang or "", lang) if lang not in (None, "none") else None
    if lang in MADG_MODULES:
        if protocol == "ta_only":
            return "TA-only"
        if init:
            return {"generated": f"{lang_name}-ft", "random": "rand-ft"}.get(init, f"{lang_name}-ft ({init})")
        return {"target": lang_name, "source": f"{lang_name}-en",
                "ta_only_at_inference": f"{lang_name} TA-only at inference"}.get(protocol, f"{lang_name} ({protocol})")
    if task_name is None and lang_name is None:
        return {"target": None, "source": "source language module", "ta_only": "TA-only",
                "ta_only_at_inference": "TA-only at inference"}.get(protocol, protocol)
    name = task_name or lang_name
    if with_language and task_name and lang_name and lang_name != task_name:
        name = f"{task_name} + {lang_name} language modules"
    if protocol == "ta_only":
        return "TA-only" if task in ADAPTER_MODULES else f"{name} without language modules"
    if protocol == "ta_only_at_inference":
        return f"{name} TA-only"
    if protocol == "source":
        return f"{name} (source language module)"
    return name


def method_context(params: Mapping[str, str], config: Mapping | None = None,
                   choices: Mapping[str, str] | None = None) -> dict[str, str]:
    """The method-picking facts of a job: the resolved config's methods (``lang_module.layer_dim`` makes
    MAD-G-LS, ``quantize`` the q- variants), else Hydra's group choices, else the overrides themselves."""
    context: dict[str, str] = {}
    for key in METHOD_KEYS:
        if key in params:
            context[key] = params[key]
        elif choices and key in choices and choices[key] is not None:
            context[key] = str(choices[key])
    if config:
        for group in ("task_module", "lang_module"):
            derived = _configured_method(config.get(group))
            if derived is not None:
                context[group] = derived
        recipe = config.get("recipe") or {}
        if isinstance(recipe, Mapping):
            if recipe.get("protocol"):
                context["recipe.protocol"] = str(recipe["protocol"])
            finetune = recipe.get("finetune")
            if isinstance(finetune, Mapping) and finetune.get("init"):
                context["recipe.finetune.init"] = str(finetune["init"])
            if recipe.get("name"):
                context["recipe"] = str(recipe["name"])
            if recipe.get("name") == "bistil" and recipe.get("variant"):
                context["recipe.variant"] = str(recipe["variant"])
    return context


def _configured_method(section: object) -> str | None:
    if not isinstance(section, Mapping) or not section.get("method"):
        return None
    method = str(section["method"])
    if method == "madg" and section.get("layer_dim"):
        return "madg_ls"
    if method in ("lora", "spiel_ag", "spiel_ma") and section.get("quantize"):
        return "q" + method
    return method


def experiment_title(name: str) -> str:
    """``ltsft_americasnli`` -> "LT-SFT on AmericasNLI", ``madg_ud_pos_multisource`` -> "MAD-G on UD POS
    (multi-source)", ``madg_ft`` -> "MAD-G-ft", ``madg_train`` -> "MAD-G generator training"."""
    words = name.split("_")
    if words[:1] == ["holistic"]:  # chapter 6: holistic_americasnli -> "Holistic transfer on AmericasNLI"
        return "Holistic transfer on " + " ".join(EXPERIMENT_WORDS.get(word, word) for word in words[1:])
    if not words or words[0] not in EXPERIMENT_WORDS or words[0] not in ("ltsft", "madg", "madx", "spiel", "bistil"):
        return name.replace("_", " ")
    method, rest = EXPERIMENT_WORDS[words[0]], words[1:]
    if rest[:1] == ["ft"]:
        method, rest = f"{method}-ft", rest[1:]
    if rest[:1] == ["train"]:
        method, rest = f"{method} generator training", rest[1:]
    multisource = "multisource" in rest
    rest = [EXPERIMENT_WORDS.get(word, word) for word in rest if word != "multisource"]
    title = f"{method} on {' '.join(rest)}" if rest else method
    return title + (" (multi-source)" if multisource else "")


def metric_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric.replace("_", " "))
