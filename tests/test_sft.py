"""The SFT artifact: format round-trip, exact apply/remove, composition, base checks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xlt.errors import ArtifactError
from xlt.modules.sft import SparseDelta, SparseFineTuning, load_composable_sft


def _random_sft(shapes: dict[str, tuple[int, ...]], k: int, seed: int, dtype=torch.float32) -> SparseFineTuning:
    g = torch.Generator().manual_seed(seed)
    diffs = {}
    for name, shape in shapes.items():
        numel = int(torch.Size(shape).numel())
        idx = torch.randperm(numel, generator=g)[:min(k, numel)].sort().values.to(torch.int32)
        diffs[name] = SparseDelta(shape, torch.randn(len(idx), generator=g).to(dtype), idx)
    return SparseFineTuning(diffs, {}, {"method": "test", "base_hash": "abc"})


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.v = nn.Parameter(torch.randn(7))
        self.m = nn.Parameter(torch.randn(5, 6))
        self.c = nn.Parameter(torch.randn(2, 3, 4))
        self.k = nn.Parameter(torch.randn(2, 3, 2, 2))
        self.head = nn.Linear(3, 2)


SHAPES = {"v": (7,), "m": (5, 6), "c": (2, 3, 4), "k": (2, 3, 2, 2)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_save_load_round_trip_any_rank(tmp_path, dtype):
    sft = _random_sft(SHAPES, 5, 0, dtype)
    sft.diffs["dense"] = SparseDelta((2, 2), torch.randn(2, 2).to(dtype))
    sft.abs["head.weight"] = torch.randn(2, 3)
    sft.save(tmp_path / "sft.safetensors")
    loaded = SparseFineTuning.load(tmp_path / "sft.safetensors")
    assert loaded.meta == sft.meta
    assert set(loaded.diffs) == set(sft.diffs)
    for name, delta in sft.diffs.items():
        other = loaded.diffs[name]
        assert other.shape == delta.shape and other.values.dtype == dtype
        assert torch.equal(other.to_dense(), delta.to_dense())
        if delta.indices is not None:
            assert other.indices.dtype == torch.int32
    assert torch.equal(loaded.abs["head.weight"], sft.abs["head.weight"])
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file


def test_apply_then_remove_restores_exact_bytes():
    model = Toy()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sft = _random_sft(SHAPES, 6, 1)
    sft.abs["head.weight"] = torch.randn(2, 3)
    for _ in range(3):  # repeated switching must not drift
        handle = sft.apply(model, with_abs=True)
        assert not torch.equal(model.m, before["m"])
        handle.remove()
    for name, param in model.named_parameters():
        assert torch.equal(param.detach().view(torch.uint8), before[name].view(torch.uint8)), name


def test_apply_adds_values_at_row_major_indices():
    model = Toy()
    original = model.c.detach().clone()
    delta = SparseDelta((2, 3, 4), torch.tensor([1.0, 2.0]), torch.tensor([1, 23], dtype=torch.int32))
    SparseFineTuning({"c": delta}).apply(model)
    assert model.c[0, 0, 1] == original[0, 0, 1] + 1.0
    assert model.c[1, 2, 3] == original[1, 2, 3] + 2.0


def test_composition_is_the_sum():
    a, b = _random_sft(SHAPES, 8, 2), _random_sft(SHAPES, 8, 3)
    composed = a + b
    for name in SHAPES:
        assert torch.allclose(composed.diffs[name].to_dense(), a.diffs[name].to_dense() + b.diffs[name].to_dense())
    model, reference = Toy(), Toy()
    composed.apply(model, with_abs=False)
    a.apply(reference)
    b.apply(reference)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name


def test_from_masks_stores_exactly_the_masked_differences():
    before = {"w": torch.zeros(3, 4)}
    after = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)}
    mask = torch.zeros(12, dtype=torch.bool)
    mask[[0, 5, 11]] = True
    sft = SparseFineTuning.from_masks(after, before, {"w": mask})
    assert sft.num_entries == 3
    assert sft.diffs["w"].indices.tolist() == [0, 5, 11]
    assert sft.diffs["w"].values.tolist() == [0.0, 5.0, 11.0]


def test_base_mismatch_raises():
    sft = _random_sft(SHAPES, 2, 0)
    sft.check_base("abc")
    with pytest.raises(ArtifactError, match="trained against base weights"):
        sft.check_base("def", where="lang/aym")


def test_shape_mismatch_and_unknown_parameter_raise():
    model = Toy()
    with pytest.raises(ArtifactError, match="lacks"):
        SparseFineTuning({"nope": SparseDelta((1,), torch.ones(1), torch.zeros(1, dtype=torch.int32))}).apply(model)
    with pytest.raises(ArtifactError, match="shape"):
        SparseFineTuning({"v": SparseDelta((8,), torch.ones(1), torch.zeros(1, dtype=torch.int32))}).apply(model)


def test_load_rejects_garbage(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="bad.safetensors"):
        SparseFineTuning.load(path)
    with pytest.raises(ArtifactError, match="not found"):
        SparseFineTuning.load(tmp_path / "missing.safetensors")


def test_import_composable_sft_column_major_encoding(tmp_path):
    """The reference format lists indices with the FIRST dimension fastest, gap-encoded."""
    dense = torch.zeros(2, 3, 4)
    dense[1, 0, 0], dense[0, 2, 1], dense[1, 2, 3] = 1.0, 2.0, 3.0
    coords = torch.nonzero(dense)
    column_major = coords[:, 0] + 2 * coords[:, 1] + 6 * coords[:, 2]
    order = torch.argsort(column_major)
    index = column_major[order]
    values = dense[tuple(coords[order].T)]
    steps = [int(index[0])] + [int(x) for x in (index[1:] - index[:-1])]
    torch.save({"diffs": {"roberta.c": {"size": dense.shape, "index_steps": steps, "values": values}},
                "abs": {"classifier.weight": torch.ones(2)}}, tmp_path / "pytorch_diff.bin")
    sft = load_composable_sft(tmp_path / "pytorch_diff.bin", strip_prefix="roberta.")
    assert torch.equal(sft.diffs["c"].to_dense(), dense)
    assert "classifier.weight" in sft.abs
