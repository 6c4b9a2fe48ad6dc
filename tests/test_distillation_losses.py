"""Distillation losses (thesis §5.3.1, eqs. 5.1-5.3): zero for a copy of the teacher, positive
otherwise, unchanged by extra padding, gradients to the student only, hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from xlt.distillation.losses import (
    DistillationTerms,
    attention_loss,
    distillation_terms,
    hidden_loss,
    layer_stride,
    prediction_loss,
)
from xlt.errors import ConfigError
from xlt.models.student import freeze_teacher, init_student, prepare_for_distillation

ARCHITECTURES = ["bert", "xlm-roberta", "deberta-v2"]


@pytest.fixture(scope="module")
def tiny_paths(cache_dir) -> dict[str, str]:
    from xlt.models.tiny import build_tiny_model

    return {arch: str(build_tiny_model(arch, {}, cache_dir)) for arch in ARCHITECTURES}


def teacher_of(path: str, layers: int = 6):
    from transformers import AutoConfig, AutoModelForMaskedLM

    config = AutoConfig.from_pretrained(path, num_hidden_layers=layers, attn_implementation="eager")
    torch.manual_seed(0)
    return freeze_teacher(prepare_for_distillation(AutoModelForMaskedLM.from_config(config)))


def padded_batch(pad_id: int, extra: int = 0, vocab: int = 100) -> dict[str, torch.Tensor]:
    """Two sequences of lengths 9 and 5, padded to 9 + ``extra`` (padding at the end)."""
    g = torch.Generator().manual_seed(1)
    lengths = (9, 5)
    ids = torch.full((2, 9 + extra), pad_id)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(5, vocab, (length,), generator=g)
        mask[row, :length] = 1
    return {"input_ids": ids, "attention_mask": mask}


def outputs(model, batch):
    return model(**batch, output_attentions=True, output_hidden_states=True)


# ------------------------------------------------------------------------------------------ by hand
def test_attention_loss_by_hand_excludes_padded_queries_and_keys():
    # one student layer, two teacher layers (stride 2: student layer 1 <-> teacher layer 2)
    student = torch.tensor([[[[0.5, 0.5, 0.0], [0.2, 0.8, 0.0], [0.3, 0.3, 0.4]]]])
    teacher_2 = torch.tensor([[[[0.1, 0.9, 0.0], [0.6, 0.4, 0.0], [0.9, 0.0, 0.1]]]])
    teacher_1 = torch.rand(1, 1, 3, 3)  # never compared
    mask = torch.tensor([[1, 1, 0]])
    # kept pairs (q, k) in {0,1}^2: diffs 0.4, -0.4, -0.4, 0.4 -> mean of squares 0.16
    loss = attention_loss([student], [teacher_1, teacher_2], mask)
    assert math.isclose(float(loss), 0.16, rel_tol=1e-6)
    unmasked = ((student - teacher_2) ** 2).mean()
    assert math.isclose(float(attention_loss([student], [teacher_1, teacher_2])), float(unmasked), rel_tol=1e-6)


def test_hidden_loss_by_hand_averages_layers_0_to_LS_over_real_positions():
    mask = torch.tensor([[1, 0]])
    zeros = torch.zeros(1, 2, 2)
    student = [zeros, torch.full((1, 2, 2), 1.0)]  # H_0, H_1
    teacher = [zeros + 0.5, torch.rand(1, 2, 2), torch.full((1, 2, 2), 3.0)]  # stride 2: H_0 <-> H_0, H_1 <-> H_2
    teacher[0][0, 1] = 100.0  # a padded position: ignored
    teacher[2][0, 1] = -100.0
    # layer 0: (0 - 0.5)^2 = 0.25; layer 1: (1 - 3)^2 = 4 -> (0.25 + 4) / 2
    assert math.isclose(float(hidden_loss(student, teacher, mask)), 2.125, rel_tol=1e-6)


def test_prediction_loss_by_hand_with_temperature_and_masks():
    student = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    teacher = torch.tensor([[2.0 * math.log(3.0), 0.0], [9.0, 9.0]])
    # T = 2: p_T = softmax([ln 3, 0]) = (3/4, 1/4), p_S = (1/2, 1/2)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    mask = torch.tensor([True, False])  # the second distribution is not scored (e.g. an unlabelled token)
    assert math.isclose(float(prediction_loss(student, teacher, mask, temperature=2.0)), expected, rel_tol=1e-6)
    # logit mask: a third class that does not exist (e.g. a padded QA position) changes nothing
    student3 = torch.cat([student, torch.tensor([[50.0], [0.0]])], dim=1)
    teacher3 = torch.cat([teacher, torch.tensor([[-3.0], [0.0]])], dim=1)
    classes = torch.tensor([True, True, False])
    got = prediction_loss(student3, teacher3, mask, 2.0, logit_mask=classes)
    assert math.isclose(float(got), expected, rel_tol=1e-6)
    # a distribution with no class left scores 0 and stays finite
    nothing = prediction_loss(student, teacher, None, 2.0, logit_mask=torch.tensor([[True, True], [False, False]]))
    assert math.isclose(float(nothing), expected / 2, rel_tol=1e-6)


def test_prediction_loss_has_the_cross_entropy_gradient_and_no_T_squared():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(4, 5, generator=g, requires_grad=True)
    teacher = torch.randn(4, 5, generator=g)
    temperature = 2.0
    p_teacher = torch.softmax(teacher / temperature, -1)
    cross_entropy = -(p_teacher * torch.log_softmax(student / temperature, -1)).sum(-1).mean()  # eq. 5.3
    entropy = -(p_teacher * torch.log(p_teacher)).sum(-1).mean()
    kl = prediction_loss(student, teacher, temperature=temperature)
    assert math.isclose(float(kl), float(cross_entropy - entropy), rel_tol=1e-5)
    (grad_kl,) = torch.autograd.grad(kl, student)
    (grad_ce,) = torch.autograd.grad(cross_entropy, student)
    torch.testing.assert_close(grad_kl, grad_ce)
    assert float(prediction_loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-7)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="must divide"):
        layer_stride(4, 6)
    with pytest.raises(ConfigError, match="eager"):
        attention_loss((), (torch.zeros(1, 1, 2, 2),))  # what SDPA models return
    with pytest.raises(ConfigError, match="hidden size"):
        hidden_loss([torch.zeros(1, 2, 3)] * 2, [torch.zeros(1, 2, 4)] * 2)
    with pytest.raises(ConfigError, match="temperature"):
        prediction_loss(torch.zeros(2), torch.zeros(2), temperature=0)
    with pytest.raises(ConfigError, match="shape"):
        prediction_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ConfigError, match="no loss term"):
        _ = DistillationTerms().total


# ------------------------------------------------------------------------------------------ with models
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_copy_of_the_teacher_scores_zero_and_a_smaller_student_positive(tiny_paths, arch):
    teacher = teacher_of(tiny_paths[arch])
    batch = padded_batch(teacher.config.pad_token_id)
    with torch.no_grad():
        target = outputs(teacher, batch)
        copy = outputs(prepare_for_distillation(init_student(teacher, 1)).eval(), batch)
        half = outputs(prepare_for_distillation(init_student(teacher, 2)).eval(), batch)
        scratch = outputs(prepare_for_distillation(init_student(teacher, 3, "scratch")).eval(), batch)
    mask = batch["attention_mask"]
    zero = distillation_terms(copy, target, mask, prediction=True)
    assert zero.as_dict() == {"attention": 0.0, "hidden": 0.0, "prediction": 0.0, "total": 0.0}
    for student in (half, scratch):
        terms = distillation_terms(student, target, mask, prediction=True)
        assert terms.attention > 0 and terms.hidden > 0 and terms.prediction > 0
        assert math.isclose(float(terms.total), float(terms.attention + terms.hidden + terms.prediction), rel_tol=1e-6)


def test_a_trimmed_copy_scores_zero_on_remapped_inputs(tiny_paths):
    """Vocabulary reduction keeps the body's computation: attention and hidden losses stay 0."""
    from xlt.models.vocabulary import VocabularyReduction, trim_model

    teacher = teacher_of(tiny_paths["xlm-roberta"])
    student = init_student(teacher, 1).eval()
    reduction = VocabularyReduction(tuple(sorted(set(range(5)) | set(range(0, 200, 2)))), teacher.config.vocab_size)
    trim_model(student, reduction)
    batch = padded_batch(teacher.config.pad_token_id, vocab=100)
    real = batch["attention_mask"].bool()
    batch["input_ids"][real] = 2 * batch["input_ids"][real]  # even ids in [10, 200): all kept
    student_batch = dict(batch, input_ids=reduction.remap_ids(batch["input_ids"]))
    with torch.no_grad():
        terms = distillation_terms(outputs(student, student_batch), outputs(teacher, batch), batch["attention_mask"])
    assert terms.as_dict() == {"attention": 0.0, "hidden": 0.0, "total": 0.0}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_extra_padding_does_not_change_the_losses(tiny_paths, arch):
    teacher = teacher_of(tiny_paths[arch])
    student = prepare_for_distillation(init_student(teacher, 2)).eval()
    pad = teacher.config.pad_token_id
    values = []
    naive = []
    for extra in (0, 7):
        batch = padded_batch(pad, extra)
        with torch.no_grad():
            s, t = outputs(student, batch), outputs(teacher, batch)
        labels = torch.full(batch["input_ids"].shape, -100)
        labels[0, 2], labels[1, 3] = 5, 7
        # a low temperature sharpens the random model's near-uniform MLM distributions, so KL >> rounding
        terms = distillation_terms(s, t, batch["attention_mask"], prediction=True, prediction_mask=labels != -100,
                                   temperature=0.01)
        values.append(terms.as_dict())
        naive.append(float(attention_loss(s.attentions, t.attentions)) + float(hidden_loss(s.hidden_states,
                                                                                           t.hidden_states)))
    assert values[0]["prediction"] > 1e-5
    for key in values[0]:
        assert values[1][key] == pytest.approx(values[0][key], rel=1e-4), key  # float32 rounding only
    assert naive[1] != pytest.approx(naive[0], rel=1e-3)  # without the mask, padding would count


def test_token_tasks_score_only_labelled_positions():
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(2, 6, 4, generator=g), torch.randn(2, 6, 4, generator=g)
    labels = torch.tensor([[-100, 1, -100, 2, -100, -100], [0, -100, -100, -100, 3, -100]])
    mask = labels != -100
    base = prediction_loss(student, teacher, mask)
    changed = student.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 4, generator=g) * 10
    assert float(prediction_loss(changed, teacher, mask)) == pytest.approx(float(base), rel=1e-6)
    by_hand = torch.stack([prediction_loss(student[i, j], teacher[i, j]) for i, j in mask.nonzero().tolist()])
    assert float(base) == pytest.approx(float(by_hand.mean()), rel=1e-6)


@pytest.mark.parametrize("arch", ["bert", "deberta-v2"])
def test_gradients_reach_the_student_only(tiny_paths, arch):
    teacher = teacher_of(tiny_paths[arch])
    for param in teacher.parameters():  # even a teacher left trainable gets no gradient
        param.requires_grad_(True)
    student = prepare_for_distillation(init_student(teacher, 2)).train()
    batch = padded_batch(teacher.config.pad_token_id)
    terms = distillation_terms(outputs(student, batch), outputs(teacher, batch), batch["attention_mask"],
                               prediction=True)
    terms.total.backward()
    assert all(p.grad is None for p in teacher.parameters())
    layer_grads = [p.grad for n, p in student.named_parameters() if ".layer." in n and p.requires_grad]
    assert layer_grads and all(g is not None for g in layer_grads)
    assert sum(float(g.abs().sum()) for g in layer_grads) > 0
