"""Efficiency measurement (thesis §5.5, Tables 5.2 and 5.7): FLOPs per example linear in the
number of layers and independent of the batch size, throughput, ratios to a baseline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xlt.errors import ConfigError
from xlt.models.efficiency import (
    EfficiencyMeasurement,
    count_parameters,
    cpu_throughput,
    flops_per_example,
    gpu_throughput,
    interleaved_throughputs,
    measure_efficiency,
    relative_efficiency,
    throughput,
)
from xlt.models.student import init_student

LENGTH = 32


def tagger(layers: int = 6):
    """A BERT token classifier whose layers dominate the FLOPs (small vocabulary and head)."""
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=256, max_position_embeddings=64, num_labels=5)
    return BertForTokenClassification(config).eval()


def batches(total: int, batch_size: int, length: int = LENGTH) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (total, length), generator=g)
    return [{"input_ids": ids[i:i + batch_size], "attention_mask": torch.ones_like(ids[i:i + batch_size])}
            for i in range(0, total, batch_size)]


def test_flops_of_a_linear_layer_by_hand():
    layer = nn.Linear(8, 3)

    def forward(model, batch):
        return model(batch["x"])

    # 2 * in * out multiply-adds per row, 4 rows per example
    got = flops_per_example(layer, [{"x": torch.randn(2, 4, 8)}, {"x": torch.randn(3, 4, 8)}], forward)
    assert got == 2 * 8 * 3 * 4


def test_flops_fall_linearly_with_the_number_of_layers():
    teacher = tagger(6)
    data = batches(4, 2)
    flops = {lrf: flops_per_example(init_student(teacher, lrf).eval(), data) for lrf in (1, 2, 3, 6)}
    per_layer = flops[3] - flops[6]  # 2 layers vs 1
    assert per_layer > 0
    for lrf in (1, 2, 3):  # exactly affine in the number of layers
        assert flops[lrf] == flops[6] + (6 // lrf - 1) * per_layer
    assert flops[2] / flops[1] == pytest.approx(0.5, abs=0.02)  # the layers dominate
    assert flops[3] / flops[1] == pytest.approx(1 / 3, abs=0.02)


def test_flops_per_example_do_not_depend_on_the_batch_size():
    model = tagger(2)
    one = flops_per_example(model, batches(4, 1))
    four = flops_per_example(model, batches(4, 4))
    assert one == four > 0
    assert flops_per_example(model, batches(4, 2, length=2 * LENGTH)) > 2 * one  # longer inputs cost more
    assert model.training is False
    with pytest.raises(ConfigError, match="no examples"):
        flops_per_example(model, [])


def test_fused_and_eager_attention_count_the_same_flops():
    """torch's counter has no formula for the CPU SDPA kernel: without ours attention would count 0."""
    model = tagger(2)
    data = batches(2, 2)
    data[0]["attention_mask"][1, LENGTH // 2:] = 0
    model.set_attn_implementation("sdpa")
    fused = flops_per_example(model, data)
    model.set_attn_implementation("eager")
    assert fused == flops_per_example(model, data)


def test_cpu_throughput_uses_one_thread_and_restores_the_setting():
    model = tagger(2)
    previous = torch.get_num_threads()
    seen = []

    def forward(m, batch):
        seen.append(torch.get_num_threads())
        return m(**batch)

    speed = cpu_throughput(model, batches(3, 1), warmup=1, rounds=2, forward=forward)
    assert speed > 0 and set(seen) == {1} and len(seen) == 1 + 2 * 3
    assert torch.get_num_threads() == previous

    def failing(m, batch):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cpu_throughput(model, batches(1, 1), forward=failing)
    assert torch.get_num_threads() == previous
    with pytest.raises(ConfigError):
        throughput(model, [])


def test_gpu_throughput_where_cuda_exists():
    model = tagger(2)
    speed = gpu_throughput(model, batches(4, 4))
    if torch.cuda.is_available():
        assert speed is not None and speed > 0
        assert next(model.parameters()).device.type == "cpu"  # moved back
    else:
        assert speed is None


def test_measure_and_relative_efficiency_of_a_student():
    teacher = tagger(6)
    student = init_student(teacher, 3)
    flops_data, cpu_data = batches(4, 2), batches(2, 1)
    base = measure_efficiency(teacher, flops_data, cpu_data, warmup=1)
    small = measure_efficiency(student, flops_data, cpu_data, warmup=1)
    assert isinstance(base, EfficiencyMeasurement)
    assert (base.layers, small.layers, small.hidden, small.vocab) == (6, 2, 64, 100)
    assert base.parameters == count_parameters(teacher) > small.parameters
    assert base.cpu_examples_per_second > 0 and small.cpu_examples_per_second > 0
    assert base.gpu_examples_per_second is None
    ratios = relative_efficiency(small, base)
    assert ratios["flops_ratio"] == pytest.approx(1 / 3, abs=0.02)
    assert ratios["parameters_ratio"] == small.parameters / base.parameters
    assert ratios["cpu_speedup"] > 0 and ratios["gpu_speedup"] is None and ratios["vocab_ratio"] == 1.0
    assert set(small.to_dict()) >= {"parameters", "flops_per_example", "cpu_examples_per_second"}


def test_interleaved_throughputs_time_the_models_in_turn_within_each_round():
    """Each round passes over every model's batches once, the models in turn, so a change of the machine's load
    falls on all of them alike; the warm-up batches come once, before the first round."""
    student, teacher = tagger(1), tagger(2)
    order = []

    def forward(m, batch):
        order.append("student" if m is student else "teacher")
        return m(**batch)

    speeds = interleaved_throughputs([(student, batches(2, 1)), (teacher, batches(2, 1))], "cpu", warmup=1,
                                     rounds=3, threads=1, forward=forward)
    assert len(speeds) == 2 and all(speed > 0 for speed in speeds)
    assert order == ["student"] * 3 + ["teacher"] * 3 + (["student"] * 2 + ["teacher"] * 2) * 2


def test_interleaved_throughputs_share_a_load_change_between_the_models():
    """A slowdown that starts half-way (here: every forward of the second half of the measurement takes longer)
    falls on both models' medians alike, so their ratio stays that of their own costs; timing one model's
    rounds after the other's would put it all on the second model."""
    import time as time_module

    calls = {"n": 0}
    one, two = nn.Linear(1, 1), nn.Linear(1, 1)

    def forward(m, batch):
        calls["n"] += 1
        slow = 2 if calls["n"] > 12 else 1  # the load doubles half-way through
        time_module.sleep(0.005 * slow * (2 if m is two else 1))  # model two costs twice model one

    data = [{"x": torch.zeros(1, 1)}] * 2
    speeds = interleaved_throughputs([(one, data), (two, data)], "cpu", warmup=0, rounds=6, forward=forward)
    assert 1.6 < speeds[0] / speeds[1] < 2.5
