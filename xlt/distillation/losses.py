"""Distillation losses of BiStillation (thesis §5.3.1, eqs. 5.1-5.3), in plain torch.

With stride s = L_T / L_S (student layer i, 1-based, is matched with teacher layer i * s):

* eq. 5.1, :func:`attention_loss`: L_attn = 1/L_S sum_i MSE(A_i^S, A_{i s}^T) on attention
  probabilities (softmax outputs, as the thesis's footnote says; eager attention, dropout 0);
* eq. 5.2, :func:`hidden_loss`: L_hidden = 1/(L_S + 1) sum_{i=0..L_S} MSE(H_i^S, H_{i s}^T), where
  H_0 is the embedding output (``hidden_states[0]`` of transformers models);
* eq. 5.3, :func:`prediction_loss`: soft cross-entropy between the teacher's and the student's
  label distributions at temperature T (default 2, as the reference code).

Padding never counts: the attention MSE averages over (query, key) pairs whose query and key are
both real tokens (padded query rows and padded key columns are excluded), the hidden MSE over real
positions, and the prediction loss over the distributions a mask selects (token tasks: labelled
positions only). Each MSE is a mean over the entries it keeps (heads, positions, hidden units), so
padding a batch further leaves every loss unchanged. Teacher tensors are detached: gradients reach
the student only.

Prediction loss, decided here: the value returned is KL(p_T || p_S) = CE(p_T, p_S) - H(p_T). It
differs from eq. 5.3's cross-entropy by the teacher's entropy, which does not depend on the
student, so gradients (and any checkpoint selection on a fixed validation set) are exactly those
of the cross-entropy, while a perfect student scores 0. It is not multiplied by T^2: the
reference code, which produced the thesis's numbers with the plain sum L_attn + L_hidden + L_pred,
has no T^2 factor, and scaling by 4 would reweight the sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from xlt.errors import ConfigError

DEFAULT_TEMPERATURE = 2.0


def layer_stride(num_student: int, num_teacher: int, what: str = "layers") -> int:
    """s = L_T / L_S; ConfigError unless L_S divides L_T."""
    if num_student < 1 or num_teacher % num_student:
        raise ConfigError(f"distillation: the student's {num_student} {what} must divide the teacher's {num_teacher}")
    return num_teacher // num_student


def _check_attentions(attentions: Sequence[torch.Tensor] | None, who: str) -> Sequence[torch.Tensor]:
    if not attentions or any(a is None for a in attentions):
        raise ConfigError(f"distillation: the {who} returned no attention probabilities; load it with "
                          f"attn_implementation='eager' (xlt.models.student.prepare_for_distillation)")
    return attentions


def attention_loss(student_attentions: Sequence[torch.Tensor], teacher_attentions: Sequence[torch.Tensor],
                   attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 5.1. Attentions: per layer ``[batch, heads, query, key]`` probabilities;
    ``attention_mask``: ``[batch, length]``, 1 for real tokens (None: no padding)."""
    student_attentions = _check_attentions(student_attentions, "student")
    teacher_attentions = _check_attentions(teacher_attentions, "teacher")
    stride = layer_stride(len(student_attentions), len(teacher_attentions), "attention layers")
    first = student_attentions[0]
    if attention_mask is None:
        pairs = None
    else:
        real = attention_mask.to(device=first.device, dtype=first.dtype)
        pairs = (real[:, :, None] * real[:, None, :])[:, None]  # [batch, 1, query, key]
    total = first.new_zeros(())
    for i, student in enumerate(student_attentions, start=1):
        teacher = teacher_attentions[i * stride - 1].detach().to(student.dtype)
        squared = (student - teacher) ** 2
        if pairs is None:
            total = total + squared.mean()
        else:
            total = total + (squared * pairs).sum() / (pairs.sum() * student.shape[1]).clamp_min(1)
    return total / len(student_attentions)


def hidden_loss(student_hidden: Sequence[torch.Tensor], teacher_hidden: Sequence[torch.Tensor],
                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 5.2. Hidden states: ``L + 1`` tensors ``[batch, length, hidden]`` (index 0: embeddings);
    student and teacher must share the hidden size (§5.3.1)."""
    if not student_hidden or not teacher_hidden:
        raise ConfigError("distillation: hidden states missing (call the models with output_hidden_states=True)")
    stride = layer_stride(len(student_hidden) - 1, len(teacher_hidden) - 1, "layers")
    first = student_hidden[0]
    if first.shape[-1] != teacher_hidden[0].shape[-1]:
        raise ConfigError(f"distillation: student hidden size {first.shape[-1]} differs from the teacher's "
                          f"{teacher_hidden[0].shape[-1]}")
    real = None if attention_mask is None else attention_mask.to(device=first.device, dtype=first.dtype)[..., None]
    total = first.new_zeros(())
    for i, student in enumerate(student_hidden):
        teacher = teacher_hidden[i * stride].detach().to(student.dtype)
        squared = (student - teacher) ** 2
        if real is None:
            total = total + squared.mean()
        else:
            total = total + (squared * real).sum() / (real.sum() * student.shape[-1]).clamp_min(1)
    return total / len(student_hidden)


def prediction_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor | None = None,
                    temperature: float = DEFAULT_TEMPERATURE, logit_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 5.3 as KL(p_T || p_S) with p = softmax(logits / T) over the last dimension (see the module
    docstring for why KL and why no T^2).

    ``mask``: which distributions count (the logits' leading dimensions, e.g. ``labels != -100``
    for token tasks); ``logit_mask``: which classes exist (e.g. real tokens for QA start/end
    positions), others get probability 0 in both distributions. Mean over counted distributions.
    """
    if temperature <= 0:
        raise ConfigError(f"distillation.temperature={temperature}: must be positive")
    if student_logits.shape != teacher_logits.shape:
        raise ConfigError(f"distillation: student logits {tuple(student_logits.shape)} and teacher logits "
                          f"{tuple(teacher_logits.shape)} differ in shape")
    student = student_logits.float() / temperature
    teacher = teacher_logits.detach().float() / temperature
    valid = torch.ones_like(student, dtype=torch.bool)
    if logit_mask is not None:
        valid = logit_mask.to(student.device).bool().expand_as(student)
        # masked classes get -inf; a distribution with no class left is left finite (and scores 0)
        hidden_value = torch.where(valid.any(-1, keepdim=True), float("-inf"), 0.0)
        student = torch.where(valid, student, hidden_value)
        teacher = torch.where(valid, teacher, hidden_value)
    log_p_student = F.log_softmax(student, dim=-1)
    log_p_teacher = F.log_softmax(teacher, dim=-1)
    p_teacher = log_p_teacher.exp()
    terms = p_teacher * (log_p_teacher - log_p_student)
    terms = torch.where(valid & (p_teacher > 0), terms, torch.zeros_like(terms))  # 0 log 0 = 0, masked classes
    per_distribution = terms.sum(-1)
    if mask is None:
        return per_distribution.mean()
    selected = mask.to(per_distribution.device).bool()
    count = selected.sum()
    return (per_distribution * selected).sum() / count.clamp_min(1)


@dataclass
class DistillationTerms:
    """The loss terms of one batch; ``total`` is their plain sum (§5.3.2: attn + hidden; §5.3.3: + pred)."""

    attention: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    prediction: torch.Tensor | None = None

    @property
    def total(self) -> torch.Tensor:
        parts = [t for t in (self.attention, self.hidden, self.prediction) if t is not None]
        if not parts:
            raise ConfigError("distillation: no loss term selected")
        return torch.stack(parts).sum()

    def as_dict(self) -> dict[str, float]:
        out = {name: float(value.detach()) for name, value in
               (("attention", self.attention), ("hidden", self.hidden), ("prediction", self.prediction))
               if value is not None}
        out["total"] = float(self.total.detach())
        return out


def distillation_terms(student_outputs: object, teacher_outputs: object, attention_mask: torch.Tensor | None,
                       attention: bool = True, hidden: bool = True, prediction: bool = False,
                       student_logits: torch.Tensor | None = None, teacher_logits: torch.Tensor | None = None,
                       prediction_mask: torch.Tensor | None = None, logit_mask: torch.Tensor | None = None,
                       temperature: float = DEFAULT_TEMPERATURE) -> DistillationTerms:
    """The selected terms from two transformers outputs (``.attentions``, ``.hidden_states``,
    ``.logits`` unless logits are given). Stage 1: attention + hidden; stage 2 BiStil-TF: all three."""
    terms = DistillationTerms()
    if attention:
        terms.attention = attention_loss(getattr(student_outputs, "attentions", None),
                                         getattr(teacher_outputs, "attentions", None), attention_mask)
    if hidden:
        terms.hidden = hidden_loss(getattr(student_outputs, "hidden_states", None),
                                   getattr(teacher_outputs, "hidden_states", None), attention_mask)
    if prediction:
        s_logits = student_logits if student_logits is not None else getattr(student_outputs, "logits", None)
        t_logits = teacher_logits if teacher_logits is not None else getattr(teacher_outputs, "logits", None)
        if s_logits is None or t_logits is None:
            raise ConfigError("distillation: the prediction loss needs student and teacher logits")
        terms.prediction = prediction_loss(s_logits, t_logits, prediction_mask, temperature, logit_mask)
    return terms
