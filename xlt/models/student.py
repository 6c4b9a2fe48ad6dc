"""Bilingual students: fewer layers copied from the teacher (thesis §5.3.1-5.3.2, §5.4.2).

With layer reduction factor (LRF) s, a teacher of L_T layers (1-based) gives a student of
L_S = L_T / s layers, student layer i being a copy of teacher layer i * s (layers 2, 4, ..., 12
for s = 2 of 12; 3, 6, 9, 12 for s = 3). Everything outside the layer stack (embeddings, already
trimmed if the vocabulary was reduced; MLM head; final norms; DeBERTa's relative position
embeddings) is copied as is. The Scratch baseline (§5.4.1) has the same shape, randomly
initialised from a seed. The released code leaves the layer copy commented out; we follow the thesis.

For distillation, attention must come back as probabilities: transformers 5 returns none with
SDPA attention, so models are switched to eager attention (:func:`prepare_for_distillation`).
Eager attention returns its weights after dropout, which are then not distributions; distillation
therefore runs with attention-probability dropout 0 (module-level only, the saved config keeps the
teacher's value, so later fine-tuning and inference see the usual architecture).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from xlt.errors import ConfigError

INITIALISATIONS = ("teacher", "scratch")
# names of the Transformer layer list in the architectures we distil (BERT/XLM-R/DeBERTa-v2: encoder.layer)
LAYER_STACK_SUFFIXES = ("encoder.layer", "transformer.layer", "encoder.layers", "layers")
# attention modules whose `dropout` drops attention probabilities (not hidden states)
ATTENTION_MODULE_SUFFIXES = ("SelfAttention", "DisentangledSelfAttention", "MultiHeadSelfAttention")


def find_layer_stack(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """(dotted path, module list) of the model's Transformer layers, found generically: the
    ModuleList with ``config.num_hidden_layers`` entries (preferring ``encoder.layer``-like names)."""
    config = getattr(model, "config", None)
    expected = getattr(config, "num_hidden_layers", None)
    candidates = [(name, module) for name, module in model.named_modules()
                  if isinstance(module, nn.ModuleList) and name and len(module) > 0
                  and (expected is None or len(module) == expected)
                  and len({type(child) for child in module}) == 1]
    preferred = [c for c in candidates if c[0] == "layers" or c[0].endswith(LAYER_STACK_SUFFIXES)]
    for group in (preferred, candidates):
        if len(group) == 1:
            return group[0]
    found = [name for name, _ in (preferred or candidates)]
    raise ConfigError(f"model: cannot identify the Transformer layer list of {type(model).__name__} "
                      f"(candidates: {found or 'none'})")


def teacher_layer_indices(num_teacher_layers: int, lrf: int, where: str = "lrf") -> list[int]:
    """0-based teacher layers copied into the student: (i * s) - 1 for i = 1..L_T/s (§5.3.1)."""
    if not isinstance(lrf, int) or lrf < 1 or num_teacher_layers % lrf:
        raise ConfigError(f"{where}={lrf}: the layer reduction factor must be a positive integer dividing the "
                          f"teacher's {num_teacher_layers} layers")
    return [i * lrf - 1 for i in range(1, num_teacher_layers // lrf + 1)]


def _student_config(teacher: nn.Module, num_layers: int) -> Any:
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = num_layers
    return config


def _teacher_name(name: str, stack_path: str, lrf: int) -> str:
    prefix = f"{stack_path}."
    if not name.startswith(prefix):
        return name
    index, rest = name[len(prefix):].split(".", 1)
    return f"{prefix}{(int(index) + 1) * lrf - 1}.{rest}"


def init_student(teacher: nn.Module, lrf: int, initialisation: str = "teacher", seed: int = 0,
                 where: str = "student") -> nn.Module:
    """A student of ``teacher`` (a transformers model) with L_T / ``lrf`` layers (§5.3.2).

    ``initialisation="teacher"``: student layer i (1-based) is an exact copy of teacher layer
    i * lrf, and every parameter and buffer outside the layer stack is copied (ties kept);
    ``"scratch"``: the same architecture randomly initialised with ``seed`` (the Scratch baseline).
    ``lrf=1`` with ``"teacher"`` reproduces the teacher. The teacher is not modified; the student
    lives on the teacher's device and dtype, in training mode, with the teacher's attention
    implementation and attention-probability dropout (so the student of a teacher prepared by
    :func:`prepare_for_distillation` is prepared too). ``where`` names the config section.
    """
    if initialisation not in INITIALISATIONS:
        raise ConfigError(f"{where}.initialisation={initialisation!r}: expected one of {list(INITIALISATIONS)}")
    stack_path, stack = find_layer_stack(teacher)
    teacher_layer_indices(len(stack), lrf, f"{where}.lrf")
    config = _student_config(teacher, len(stack) // lrf)
    parameter = next(teacher.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        student = type(teacher)(config)
    student.to(device=parameter.device, dtype=parameter.dtype)
    teacher_dropout = attention_dropout_of(teacher)
    if teacher_dropout is not None and teacher_dropout != attention_dropout_of(student):
        set_attention_dropout(student, teacher_dropout)  # e.g. a teacher prepared for distillation
    if initialisation == "teacher":
        source = dict(teacher.named_parameters(remove_duplicate=False))
        source.update(teacher.named_buffers(remove_duplicate=False))
        targets = list(student.named_parameters(remove_duplicate=False))
        targets += list(student.named_buffers(remove_duplicate=False))
        with torch.no_grad():
            for name, tensor in targets:
                origin = source.get(_teacher_name(name, stack_path, lrf))
                if origin is None or origin.shape != tensor.shape:
                    raise ConfigError(f"{where}: student tensor {name!r} has no teacher counterpart of shape "
                                      f"{tuple(tensor.shape)}")
                tensor.copy_(origin)
    student.train()
    return student


# --------------------------------------------------------------------------------------------- distillation setup
def _attention_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if type(m).__name__.endswith(ATTENTION_MODULE_SUFFIXES)]


def attention_dropout_of(model: nn.Module) -> float | None:
    """The attention-probability dropout of the model's self-attention modules (None if they
    have none or disagree)."""
    values = set()
    for module in _attention_modules(model):
        dropout = getattr(module, "dropout", None)
        if isinstance(dropout, nn.Dropout):
            values.add(float(dropout.p))
        elif isinstance(dropout, float):
            values.add(dropout)
    return values.pop() if len(values) == 1 else None


def set_attention_dropout(model: nn.Module, probability: float) -> int:
    """Set the attention-probability dropout of every self-attention module (not the config);
    returns how many modules were changed. Hidden-state dropout is left alone."""
    changed = 0
    for module in _attention_modules(model):
        dropout = getattr(module, "dropout", None)
        if isinstance(dropout, nn.Dropout):
            dropout.p = probability
            changed += 1
        elif isinstance(dropout, float):  # modules that keep the probability as a number
            module.dropout = probability
            changed += 1
    if changed == 0:
        raise ConfigError(f"model: no self-attention dropout found in {type(model).__name__}")
    return changed


def prepare_for_distillation(model: nn.Module, attention_dropout: float | None = 0.0) -> nn.Module:
    """Eager attention (so ``output_attentions=True`` returns probabilities) and, unless
    ``attention_dropout`` is None, that attention dropout. Returns ``model``."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    if attention_dropout is not None:
        set_attention_dropout(model, attention_dropout)
    return model


def freeze_teacher(model: nn.Module) -> nn.Module:
    """Evaluation mode (no dropout) and no gradients: the frozen teacher of §5.3.2."""
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def load_for_distillation(path: str, model_class: Any = None, attention_dropout: float | None = 0.0,
                          teacher: bool = False, **kwargs: Any) -> nn.Module:
    """``model_class.from_pretrained(path, attn_implementation="eager", **kwargs)`` (default
    ``AutoModelForMaskedLM``) prepared for distillation; ``teacher=True`` also freezes it."""
    if model_class is None:
        from transformers import AutoModelForMaskedLM

        model_class = AutoModelForMaskedLM
    model = model_class.from_pretrained(path, attn_implementation="eager", **kwargs)
    prepare_for_distillation(model, attention_dropout)
    return freeze_teacher(model) if teacher else model


# --------------------------------------------------------------------------------------------- Table 5.2
@dataclass(frozen=True)
class ModelDimensions:
    """#L, D, #V and #P of Table 5.2."""

    layers: int
    hidden: int
    vocab: int
    parameters: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def model_dimensions(model: nn.Module) -> ModelDimensions:
    """Layers, hidden size, vocabulary rows and parameters (tied ones once) of a transformers model."""
    _, stack = find_layer_stack(model)
    embeddings = model.get_input_embeddings()  # type: ignore[operator]
    hidden = getattr(model.config, "hidden_size", None) or embeddings.weight.shape[1]
    return ModelDimensions(len(stack), int(hidden), int(embeddings.weight.shape[0]),
                           sum(p.numel() for p in model.parameters()))
