"""The SFT artifact: format round-trip, exact apply/remove, composition, base checks."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

from xlt.errors import ArtifactError
from xlt.methods.core.sft import SparseDelta, SparseFineTuning, load_composable_sft
from xlt.models.loading import base_weights_hash


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
        handle = sft.apply(model, with_abs=True, base_hash="abc")
        assert not torch.equal(model.m, before["m"])
        handle.remove()
    for name, param in model.named_parameters():
        assert torch.equal(param.detach().view(torch.uint8), before[name].view(torch.uint8)), name


def test_apply_adds_values_at_row_major_indices():
    model = Toy()
    original = model.c.detach().clone()
    delta = SparseDelta((2, 3, 4), torch.tensor([1.0, 2.0]), torch.tensor([1, 23], dtype=torch.int32))
    SparseFineTuning({"c": delta}).apply(model, verify_base=False)
    assert model.c[0, 0, 1] == original[0, 0, 1] + 1.0
    assert model.c[1, 2, 3] == original[1, 2, 3] + 2.0


def test_composition_is_the_sum():
    a, b = _random_sft(SHAPES, 8, 2), _random_sft(SHAPES, 8, 3)
    composed = a + b
    for name in SHAPES:
        assert torch.allclose(composed.diffs[name].to_dense(), a.diffs[name].to_dense() + b.diffs[name].to_dense())
    model, reference = Toy(), Toy()
    composed.apply(model, with_abs=False, base_hash="abc")
    a.apply(reference, base_hash="abc")
    b.apply(reference, base_hash="abc")
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
        SparseFineTuning({"nope": SparseDelta((1,), torch.ones(1), torch.zeros(1, dtype=torch.int32))}).apply(
            model, verify_base=False)
    with pytest.raises(ArtifactError, match="shape"):
        SparseFineTuning({"v": SparseDelta((8,), torch.ones(1), torch.zeros(1, dtype=torch.int32))}).apply(
            model, verify_base=False)


def test_load_rejects_garbage(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="bad.safetensors"):
        SparseFineTuning.load(path)
    with pytest.raises(ArtifactError, match="not found"):
        SparseFineTuning.load(tmp_path / "missing.safetensors")


def _reference_encoding(dense: torch.Tensor) -> dict:
    """What composable-sft's ``encode_sparse_tensor`` writes: indices with the FIRST dimension fastest,
    gap-encoded, the first step a numpy integer (``[indices[0]] + steps.tolist()``)."""
    coords = torch.nonzero(dense)
    multipliers = torch.tensor([int(np.prod(dense.shape[:d])) for d in range(dense.dim())])
    column_major = (coords * multipliers).sum(1)
    order = torch.argsort(column_major)
    index = column_major[order].numpy().astype(np.int64)
    steps = [index[0]] + (index[1:] - index[:-1]).tolist()
    return {"size": dense.shape, "index_steps": steps, "values": dense[tuple(coords[order].T)]}


def _as_numpy1_pickle(path) -> None:
    """Rewrite a torch.save file as numpy 1.x writes it (numpy.core, not numpy._core), as the released
    modules were."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in entries.items():
            if name.endswith("data.pkl"):
                assert b"numpy._core.multiarray\n" in content
                content = content.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            archive.writestr(name, content)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("numpy1", [False, True])
def test_import_composable_sft_column_major_encoding(tmp_path, numpy1):
    """The reference format lists indices with the FIRST dimension fastest, gap-encoded."""
    dense = torch.zeros(2, 3, 4)
    dense[1, 0, 0], dense[0, 2, 1], dense[1, 2, 3] = 1.0, 2.0, 3.0
    path = tmp_path / "pytorch_diff.bin"
    torch.save({"diffs": {"roberta.c": _reference_encoding(dense)}, "abs": {"classifier.weight": torch.ones(2)}}, path)
    if numpy1:
        _as_numpy1_pickle(path)
    sft = load_composable_sft(path, strip_prefix="roberta.")
    assert torch.equal(sft.diffs["c"].to_dense(), dense)
    assert "classifier.weight" in sft.abs
    assert "base_hash" not in sft.meta  # the file does not say which base it belongs to


def test_import_composable_sft_older_layout_base_and_head(tmp_path):
    """``body``/``head`` layout; the MLM head's diffs (outside the body) are dropped; with the base body
    the import is checked against it and records its hash, so it applies like an xlt SFT."""
    model = Toy()
    m = torch.zeros(5, 6)
    m[4, 5], m[0, 1] = 0.5, -1.0
    head = torch.zeros(3, 3)
    head[1, 1] = 2.0
    path = tmp_path / "pytorch_diff.bin"
    torch.save({"body": {"bert.m": _reference_encoding(m), "cls.predictions.dense.weight": _reference_encoding(head)},
                "head": {}}, path)
    sft = load_composable_sft(path, strip_prefix="bert.", base_body=model)
    assert set(sft.diffs) == {"m"} and sft.meta["dropped_head_diffs"] == ["cls.predictions.dense.weight"]
    assert sft.meta["base_hash"] == base_weights_hash(model)
    before = model.m.detach().clone()
    handle = sft.apply(model, base_hash=base_weights_hash(model))
    assert torch.equal(model.m.detach(), before + m)
    handle.remove()
    torch.save({"diffs": {"bert.m": _reference_encoding(torch.ones(6, 5))}}, path)
    with pytest.raises(ArtifactError, match=r"pytorch_diff\.bin: diff 'bert\.m': the base body's parameter 'm' is of "
                                            r"shape \(5, 6\)"):
        load_composable_sft(path, strip_prefix="bert.", base_body=model)
    # a module of another model (its body under another prefix) is refused, not emptied as "head diffs"
    torch.save({"diffs": {"roberta.m": _reference_encoding(m)}}, path)
    with pytest.raises(ArtifactError, match=r"diff 'roberta\.m': the base body's parameter 'm' under another prefix"):
        load_composable_sft(path, strip_prefix="bert.", base_body=model)
    torch.save({"diffs": {"lm_head.dense.weight": _reference_encoding(head)}}, path)
    with pytest.raises(ArtifactError, match=r"none of its 1 diffs lies under the body prefix 'bert\.'"):
        load_composable_sft(path, strip_prefix="bert.", base_body=model)


class _RunsCode:
    """Unpickling this calls ``exec``: what a malicious pytorch_diff.bin can carry."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def test_import_composable_sft_refuses_a_pickled_callable_without_running_it(tmp_path):
    marker = tmp_path / "marker"
    encoding = _reference_encoding(torch.eye(3))
    path = tmp_path / "pytorch_diff.bin"
    torch.save({"diffs": {"w": {**encoding, "index_steps": _RunsCode(marker)}}}, path)
    with pytest.raises(ArtifactError) as error:
        load_composable_sft(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "Unsupported global: GLOBAL exec" in message
    assert not marker.exists()


def test_import_composable_sft_refuses_malformed_entries(tmp_path):
    path = tmp_path / "pytorch_diff.bin"
    encoding = _reference_encoding(torch.eye(3))
    for entry, match in (({**encoding, "index_steps": [0, 4, 40]}, "index 44 lies outside"),
                         ({**encoding, "index_steps": [0.5, 4, 4]}, "holds a float"),
                         ({**encoding, "index_steps": [4, 0, 4]}, "increasing"),
                         ({**encoding, "values": [1.0, 1.0, 1.0]}, "values must be a tensor"),
                         ({"size": [3, 3]}, "expected a dict with size, index_steps and values")):
        torch.save({"diffs": {"w": entry}}, path)
        with pytest.raises(ArtifactError, match=match):
            load_composable_sft(path)


# ---------------------------------------------------------------------------- the base check (issue 10, item 8a)
class ToyTaskModel(nn.Module):
    """A body plus a head, as a TaskModel has them."""

    def __init__(self):
        super().__init__()
        self.body = Toy()
        self.head = nn.Linear(3, 2)


def _bytes(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone().view(torch.uint8) for name, p in module.named_parameters()}


def _same_bytes(module: nn.Module, reference: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(p.detach().view(torch.uint8), reference[name]) for name, p in module.named_parameters())


def test_apply_refuses_another_base_and_an_sft_without_base_unless_told():
    model = Toy()
    before = _bytes(model)
    sft = _random_sft(SHAPES, 4, 0)  # trained against base "abc"
    with pytest.raises(ArtifactError, match="trained against base weights abc"):
        sft.apply(model, base_hash="def", where="lang/gn")
    with pytest.raises(ValueError, match="base_hash"):
        sft.apply(model)
    unknown = SparseFineTuning(sft.diffs, {}, {"method": "composable-sft import"})
    with pytest.raises(ArtifactError, match="records no base-weights hash"):
        unknown.apply(model, base_hash="abc")
    assert _same_bytes(model, before)  # nothing was written by a refused apply
    unknown.apply(model, verify_base=False).remove()  # the explicit opt-out
    sft.apply(model, base_hash="abc").remove()
    assert _same_bytes(model, before)


def test_sft_module_attaches_only_after_its_base_was_checked():
    from xlt.methods.core.sft import SFTModule

    model = ToyTaskModel()
    base_hash = base_weights_hash(model.body)
    sft = _random_sft(SHAPES, 4, 0)
    sft.meta["base_hash"] = base_hash
    module = SFTModule(sft)
    with pytest.raises(ValueError, match="check_base"):
        module.attach(model, with_head=False)
    with pytest.raises(ArtifactError, match="trained against"):
        module.check_base("0" * 64, "task")
    module.check_base(base_hash, "task")
    module.attach(model, with_head=False).remove()
    other = SFTModule(SparseFineTuning(sft.diffs, {}, {"base_hash": "0" * 64}))
    other.check_base(None, "task")  # the caller's explicit opt-out
    other.attach(model, with_head=False).remove()


# ---------------------------------------------------------------------------- removal in any order (item 8b)
def _stack_of_sfts(draw, count: int) -> list[SparseFineTuning]:
    sfts = []
    for i in range(count):
        diffs = {}
        for name, shape in SHAPES.items():
            numel = int(torch.Size(shape).numel())
            if draw(st.booleans()):
                continue
            if draw(st.integers(0, 5)) == 0:  # now and then a dense diff
                diffs[name] = SparseDelta(shape, torch.randn(shape) * 10)
                continue
            chosen = sorted(draw(st.sets(st.integers(0, numel - 1), min_size=1, max_size=max(1, numel // 2))))
            diffs[name] = SparseDelta(shape, torch.randn(len(chosen)) * 10, torch.tensor(chosen, dtype=torch.int32))
        abs_tensors = {"head.weight": torch.randn(2, 3)} if draw(st.booleans()) else {}
        sfts.append(SparseFineTuning(diffs, abs_tensors, {"base_hash": "abc", "part": i}))
    return sfts


@settings(max_examples=60, deadline=None)
@given(data=st.data(), count=st.integers(2, 4))
def test_stacked_sfts_removed_in_any_order_leave_exactly_the_rest(data, count):
    torch.manual_seed(data.draw(st.integers(0, 1000)))
    sfts = _stack_of_sfts(data.draw, count)
    order = data.draw(st.permutations(range(count)))
    model = Toy()
    base = _bytes(model)
    handles = [sft.apply(model, base_hash="abc") for sft in sfts]
    remaining = list(range(count))
    for i in order:
        handles[i].remove()
        remaining.remove(i)
        reference = Toy()  # the same base, with only the remaining SFTs applied, in their order
        for j in remaining:
            sfts[j].apply(reference, base_hash="abc")
        assert _same_bytes(model, _bytes(reference)), (order, i)
        handles[i].remove()  # a second removal changes nothing
    assert _same_bytes(model, base)


def test_removal_below_a_dropped_handle_is_refused():
    model = Toy()
    below = _random_sft({"m": (5, 6)}, 30, 0)  # every entry of m: it overlaps anything on m
    handle = below.apply(model, base_hash="abc")
    _random_sft({"m": (5, 6)}, 3, 1).apply(model, base_hash="abc")  # applied for good: its handle is dropped
    with pytest.raises(RuntimeError, match="never removed"):
        handle.remove()
    elsewhere = _random_sft({"v": (7,)}, 3, 2).apply(model, base_hash="abc")
    elsewhere.remove()  # nothing was applied after it on v


# ---------------------------------------------------------------------------- indices outside the tensor (item 8c)
def _write_sft(path, tensors: dict[str, torch.Tensor], shapes: dict[str, list[int]]) -> None:
    header = {"format": "xlt-sft", "format_version": 1, "shapes": shapes, "base_hash": "abc"}
    import json

    save_file(tensors, str(path), metadata={"xlt": json.dumps(header)})


@pytest.mark.parametrize("index", [30, -1])
def test_load_refuses_an_index_outside_its_tensor(tmp_path, index):
    path = tmp_path / "bad.safetensors"
    _write_sft(path, {"diff/m/indices": torch.tensor([0, index], dtype=torch.int32),
                      "diff/m/values": torch.ones(2)}, {"m": [5, 6]})
    with pytest.raises(ArtifactError, match=rf"bad\.safetensors: diff 'm': index {index} lies outside"):
        SparseFineTuning.load(path)
    _write_sft(path, {"diff/m/indices": torch.tensor([0, 29], dtype=torch.int32), "diff/m/values": torch.ones(3)},
               {"m": [5, 6]})
    with pytest.raises(ArtifactError, match="2 indices but values"):
        SparseFineTuning.load(path)
    _write_sft(path, {"diff/m/dense": torch.ones(5, 5)}, {"m": [5, 6]})
    with pytest.raises(ArtifactError, match="dense diff has 25 values"):
        SparseFineTuning.load(path)
    _write_sft(path, {"diff/m/values": torch.ones(1)}, {"m": [5, 6]})
    with pytest.raises(ArtifactError, match="no tensors for it"):
        SparseFineTuning.load(path)


# ---------------------------------------------------------------------------- composition (item 8d)
def test_task_and_language_composition_applies_to_a_task_model():
    """A language SFT's abs tensors are its MLM head: the composition keeps the task head only."""
    task = _random_sft(SHAPES, 6, 3)
    task.meta["kind"] = "task"
    task.abs = {"head.weight": torch.randn(2, 3), "head.bias": torch.randn(2)}
    language = _random_sft(SHAPES, 6, 4)
    language.meta["kind"] = "language"
    language.abs = {"lm_head.dense.weight": torch.randn(3, 3), "lm_head.bias": torch.randn(9)}
    composed = SparseFineTuning.compose([task, language])
    assert set(composed.abs) == {"head.weight", "head.bias"}
    assert composed.meta["base_hash"] == "abc" and composed.meta["head_from"] == 0
    model, reference = ToyTaskModel(), ToyTaskModel()
    handle = composed.apply(model.body, abs_module=model, base_hash="abc")
    task.apply(reference.body, abs_module=reference, base_hash="abc")
    language.apply(reference.body, with_abs=False, base_hash="abc")
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
    assert torch.equal(model.head.weight, task.abs["head.weight"])
    handle.remove()
    assert torch.equal(SparseFineTuning.compose([language, task]).abs["head.weight"], task.abs["head.weight"])


def test_composition_head_choice_and_base():
    one, two = _random_sft(SHAPES, 2, 5), _random_sft(SHAPES, 2, 6)
    one.abs, two.abs = {"head.weight": torch.zeros(2, 3)}, {"head.weight": torch.ones(2, 3)}
    with pytest.raises(ArtifactError, match="carry a head"):
        SparseFineTuning.compose([one, two])
    assert torch.equal(SparseFineTuning.compose([one, two], head=1).abs["head.weight"], torch.ones(2, 3))
    assert SparseFineTuning.compose([one, two], head=None).abs == {}
    two.meta["base_hash"] = "xyz"
    with pytest.raises(ArtifactError, match="different base weights"):
        SparseFineTuning.compose([one, two], head=0)
    del two.meta["base_hash"]
    assert "base_hash" not in SparseFineTuning.compose([one, two], head=0).meta  # unknown: not claimed


@settings(max_examples=40, deadline=None)
@given(data=st.data(), count=st.integers(2, 4))
def test_composition_equals_sequential_application_on_the_body(data, count):
    torch.manual_seed(data.draw(st.integers(0, 1000)))
    sfts = _stack_of_sfts(data.draw, count)
    composed = SparseFineTuning.compose(sfts, head=None)
    model, reference = Toy(), Toy()
    composed.apply(model, base_hash="abc")
    for sft in sfts:
        sft.apply(reference, with_abs=False, base_hash="abc")
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-5), name
