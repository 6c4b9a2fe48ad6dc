"""Files xlt did not write (downloaded modules) are read without running code from them (issue 10, item 9):
a pickle that carries a callable is refused in one line naming the file, and the callable never runs."""

from __future__ import annotations

import pytest
import torch

from tests.test_adapters import random_adapter, write_adapterhub
from xlt.errors import ArtifactError
from xlt.methods.adapters.bottleneck import load_adapterhub
from xlt.utils.untrusted import load_untrusted_torch


class RunsCode:
    """Unpickling this calls ``exec``, which writes ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def test_adapterhub_weights_carrying_a_callable_are_refused_without_running_it(tmp_path):
    adapter = random_adapter(invertible=False)
    write_adapterhub(tmp_path / "hub", adapter)
    weights = tmp_path / "hub" / "pytorch_adapter.bin"
    state = torch.load(weights, weights_only=True)
    assert load_adapterhub(tmp_path / "hub", num_layers=3).shape == adapter.shape  # the legitimate file loads
    marker = tmp_path / "marker"
    torch.save({**state, "extra": RunsCode(marker)}, weights)
    with pytest.raises(ArtifactError) as error:
        load_adapterhub(tmp_path / "hub")
    assert str(weights) in str(error.value) and "\n" not in str(error.value)
    assert "Unsupported global: GLOBAL exec" in str(error.value)
    assert not marker.exists()
    torch.save([torch.ones(2)], weights)  # safe to load, but not a state dict
    with pytest.raises(ArtifactError, match="a dict of named tensors expected"):
        load_adapterhub(tmp_path / "hub")


def test_load_untrusted_torch_allows_exactly_the_given_types(tmp_path):
    path = tmp_path / "file.bin"
    torch.save({"a": [1, 2, {"b": torch.Size([2, 3])}], "t": torch.zeros(2)}, path)
    assert load_untrusted_torch(path)["a"][2]["b"] == torch.Size([2, 3])
    torch.save({"a": torch.nn.Linear(2, 2)}, path)  # a module: a class to construct, refused
    with pytest.raises(ArtifactError, match="refused to load this file"):
        load_untrusted_torch(path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ArtifactError, match="file.bin: refused"):
        load_untrusted_torch(path)
    with pytest.raises(ArtifactError, match="not found"):
        load_untrusted_torch(tmp_path / "missing.bin")
