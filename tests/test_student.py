"""Student initialisation (thesis §5.3.2): layers s, 2s, ..., L_T copied exactly, LRF 1 = teacher,
Scratch of the same shape, eager attention probabilities for distillation, round trips."""

from __future__ import annotations

import pytest
import torch

from xlt.errors import ConfigError
from xlt.models.student import (
    attention_dropout_of,
    find_layer_stack,
    freeze_teacher,
    init_student,
    load_for_distillation,
    model_dimensions,
    prepare_for_distillation,
    set_attention_dropout,
    teacher_layer_indices,
)

ARCHITECTURES = ["bert", "xlm-roberta", "deberta-v2"]
STACK = {"bert": "bert.encoder.layer", "xlm-roberta": "roberta.encoder.layer", "deberta-v2": "deberta.encoder.layer"}


@pytest.fixture(scope="module")
def tiny_paths(cache_dir) -> dict[str, str]:
    from xlt.models.tiny import build_tiny_model

    return {arch: str(build_tiny_model(arch, {}, cache_dir)) for arch in ARCHITECTURES}


def six_layer_teacher(path: str, seed: int = 0):
    """The tiny architecture with 6 layers (random, seeded), eager attention."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    config = AutoConfig.from_pretrained(path, num_hidden_layers=6, attn_implementation="eager")
    torch.manual_seed(seed)
    return AutoModelForMaskedLM.from_config(config).eval()


def batch(model, length: int = 12, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, model.config.vocab_size, (2, length), generator=g)
    mask = torch.ones_like(ids)
    mask[1, length - 4:] = 0
    ids[1, length - 4:] = model.config.pad_token_id
    return {"input_ids": ids, "attention_mask": mask}


def test_teacher_layer_indices_are_the_multiples_of_the_stride():
    assert teacher_layer_indices(12, 2) == [1, 3, 5, 7, 9, 11]  # 1-based 2, 4, ..., 12
    assert teacher_layer_indices(12, 3) == [2, 5, 8, 11]  # 3, 6, 9, 12
    assert teacher_layer_indices(12, 1) == list(range(12))
    for bad in (5, 0, -2):
        with pytest.raises(ConfigError, match="bistil.lrf"):
            teacher_layer_indices(12, bad, "bistil.lrf")


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("lrf", [2, 3])
def test_student_layers_equal_teacher_layers_s_to_LT(tiny_paths, arch, lrf):
    teacher = six_layer_teacher(tiny_paths[arch])
    student = init_student(teacher, lrf)
    path, stack = find_layer_stack(student)
    assert path == STACK[arch] and len(stack) == 6 // lrf == student.config.num_hidden_layers
    assert teacher.config.num_hidden_layers == 6
    teacher_state = teacher.state_dict()
    student_state = student.state_dict()
    copied = 0
    for name, tensor in student_state.items():
        if name.startswith(path + "."):
            index, rest = name[len(path) + 1:].split(".", 1)
            source = f"{path}.{(int(index) + 1) * lrf - 1}.{rest}"
            copied += 1
        else:
            source = name
        assert torch.equal(tensor, teacher_state[source]), name
    assert copied == sum(1 for name in teacher_state if name.startswith(f"{path}.0.")) * (6 // lrf)
    if arch == "deberta-v2":  # relative position embeddings and the encoder norm live outside the layers
        assert torch.equal(student.deberta.encoder.rel_embeddings.weight, teacher.deberta.encoder.rel_embeddings.weight)
    # the student owns its tensors
    with torch.no_grad():
        student.get_input_embeddings().weight.add_(1.0)
    assert not torch.equal(student.get_input_embeddings().weight, teacher.get_input_embeddings().weight)
    assert student.get_input_embeddings().weight is student.get_output_embeddings().weight or arch == "deberta-v2"


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_lrf_1_reproduces_the_teacher(tiny_paths, arch):
    teacher = six_layer_teacher(tiny_paths[arch])
    student = init_student(teacher, 1).eval()
    inputs = batch(teacher)
    with torch.no_grad():
        expected = teacher(**inputs, output_hidden_states=True, output_attentions=True)
        got = student(**inputs, output_hidden_states=True, output_attentions=True)
    assert torch.equal(got.logits, expected.logits)
    assert all(torch.equal(a, b) for a, b in zip(got.attentions, expected.attentions))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_scratch_has_the_same_shapes_but_random_seeded_weights(tiny_paths, arch):
    teacher = six_layer_teacher(tiny_paths[arch])
    copied = init_student(teacher, 2).state_dict()
    scratch = init_student(teacher, 2, "scratch", seed=1).state_dict()
    assert {k: v.shape for k, v in scratch.items()} == {k: v.shape for k, v in copied.items()}
    differing = [k for k, v in scratch.items() if v.is_floating_point() and v.numel() > 1
                 and not torch.equal(v, copied[k]) and "LayerNorm" not in k]
    assert "weight" in " ".join(differing) and any("word_embeddings" in k for k in differing)
    again = init_student(teacher, 2, "scratch", seed=1).state_dict()
    other = init_student(teacher, 2, "scratch", seed=2).state_dict()
    assert all(torch.equal(v, again[k]) for k, v in scratch.items())
    assert not all(torch.equal(v, other[k]) for k, v in scratch.items())
    with pytest.raises(ConfigError, match="student.initialisation"):
        init_student(teacher, 2, "svd")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_student_save_load_round_trip(tiny_paths, arch, tmp_path):
    from transformers import AutoModelForMaskedLM

    student = init_student(six_layer_teacher(tiny_paths[arch]), 3).eval()
    student.save_pretrained(tmp_path)
    again = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    assert again.config.num_hidden_layers == 2
    state = again.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in student.state_dict().items())
    inputs = batch(student)
    with torch.no_grad():  # reloaded with the default (SDPA) attention: equal up to rounding
        torch.testing.assert_close(again(**inputs).logits, student(**inputs).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_distillation_models_return_attention_probabilities(tiny_paths, arch):
    from transformers import AutoModelForMaskedLM

    inputs = batch(six_layer_teacher(tiny_paths[arch]))
    inputs["input_ids"] = inputs["input_ids"] % 100
    default = AutoModelForMaskedLM.from_pretrained(tiny_paths[arch]).train()
    prepared = prepare_for_distillation(AutoModelForMaskedLM.from_pretrained(tiny_paths[arch])).train()
    assert prepared.config._attn_implementation == "eager"
    assert default.config.attention_probs_dropout_prob > 0  # the saved config keeps the teacher's value
    torch.manual_seed(0)
    attentions = prepared(**inputs, output_attentions=True).attentions
    assert len(attentions) == prepared.config.num_hidden_layers
    real = inputs["attention_mask"].bool()
    for layer in attentions:  # training mode, yet each real query row is a distribution over real keys
        sums = layer.sum(-1)
        torch.testing.assert_close(sums[real[:, None, :].expand_as(sums)], torch.ones(()).expand(
            int(real.sum()) * layer.shape[1]), rtol=0, atol=1e-5)
        padded_keys = real[:, None, :, None] & ~real[:, None, None, :]  # real query rows, padded key columns
        assert float(layer.masked_select(padded_keys.expand_as(layer)).abs().max()) < 1e-6
    if arch != "deberta-v2":  # DeBERTa has no SDPA path: it always returns probabilities
        assert not default(**inputs, output_attentions=True).attentions  # SDPA returns none
    default.set_attn_implementation("eager")
    torch.manual_seed(0)
    dropped = default(**inputs, output_attentions=True).attentions[0]
    assert not torch.allclose(dropped.sum(-1)[:, :, 0], torch.ones(()))  # dropout breaks the distributions


def test_load_for_distillation_freezes_the_teacher(tiny_paths):
    teacher = load_for_distillation(tiny_paths["bert"], teacher=True)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert teacher.config._attn_implementation == "eager"
    student = load_for_distillation(tiny_paths["bert"])
    assert student.bert.encoder.layer[0].attention.self.dropout.p == 0.0
    assert student.bert.encoder.layer[0].output.dropout.p > 0  # hidden dropout untouched
    assert freeze_teacher(student) is student and not student.training


@pytest.mark.parametrize("arch", ["bert", "deberta-v2"])
def test_the_student_of_a_prepared_teacher_is_prepared(tiny_paths, arch):
    from transformers import AutoModelForMaskedLM

    teacher = AutoModelForMaskedLM.from_pretrained(tiny_paths[arch])
    assert attention_dropout_of(init_student(teacher, 2)) == teacher.config.attention_probs_dropout_prob > 0
    prepare_for_distillation(teacher)
    student = init_student(teacher, 2).train()
    assert attention_dropout_of(student) == 0.0 and student.config._attn_implementation == "eager"
    inputs = batch(teacher)
    inputs["input_ids"] = inputs["input_ids"] % 100
    attentions = student(**inputs, output_attentions=True).attentions
    assert len(attentions) == 1
    row_sums = attentions[0].sum(-1)[0]  # the first example has no padding: every row is a distribution
    torch.testing.assert_close(row_sums, torch.ones_like(row_sums))


def test_attention_dropout_and_layer_stack_errors():
    with pytest.raises(ConfigError, match="self-attention dropout"):
        set_attention_dropout(torch.nn.Linear(2, 2), 0.0)
    with pytest.raises(ConfigError, match="layer list"):
        find_layer_stack(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_layer_stack_of_task_models_and_dimensions(tiny_paths):
    from transformers import AutoModelForTokenClassification

    from xlt.models.vocabulary import VocabularyReduction, trim_model

    model = AutoModelForTokenClassification.from_pretrained(tiny_paths["xlm-roberta"], num_labels=3)
    assert find_layer_stack(model)[0] == "roberta.encoder.layer"
    student = init_student(model, 2)
    assert student.classifier.weight.shape == (3, 64)
    dims = model_dimensions(student)
    assert (dims.layers, dims.hidden, dims.vocab) == (1, 64, model.config.vocab_size)
    assert dims.parameters == sum(p.numel() for p in student.parameters())
    trim_model(student, VocabularyReduction(tuple(range(100)), model.config.vocab_size))
    assert model_dimensions(student).vocab == 100
