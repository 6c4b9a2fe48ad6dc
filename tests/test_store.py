"""The artifact store and the stage runner: atomic builds, keys, skipping finished stages."""

from __future__ import annotations

import pytest

from xlt.pipeline.stage import Runner, Stage
from xlt.pipeline.store import ArtifactStore


def test_failed_build_leaves_nothing_that_looks_finished(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(RuntimeError):
        with store.building("kind", "abc") as out:
            (out / "half.bin").write_bytes(b"x" * 10)
            raise RuntimeError("killed mid-write")
    assert not store.is_done("kind", "abc")
    assert not store.path("kind", "abc").exists()
    assert not [p for p in (tmp_path / "kind").iterdir() if p.name.startswith(".tmp")]


def test_runner_builds_once_then_reuses(tmp_path):
    calls = []

    def build(ctx):
        calls.append(ctx.stage.label)
        (ctx.out_dir / "value.txt").write_text(str(ctx.stage.spec["x"]))
        if ctx.inputs:
            assert (ctx.inputs["up"] / "value.txt").read_text() == "1"
        return {"x": ctx.stage.spec["x"]}

    def plan():
        up = Stage("a", "up", {"x": 1}, build)
        return [up, Stage("b", "down", {"x": 2}, build, {"up": up})]

    first = Runner(ArtifactStore(tmp_path / "store"), tmp_path / "run1").run(plan())
    assert calls == ["up", "down"] and first["down"].status == "built"
    second = Runner(ArtifactStore(tmp_path / "store"), tmp_path / "run2").run(plan())
    assert calls == ["up", "down"] and {r.status for r in second.values()} == {"cached"}
    assert second["down"].metrics == {"x": 2}
    assert (tmp_path / "run2" / "artifacts" / "down" / "value.txt").read_text() == "2"
    assert (second["down"].path / "config.yaml").exists() and (second["down"].path / "DONE").exists()


def test_key_depends_on_spec_and_inputs():
    build = lambda ctx: {}  # noqa: E731
    a1, a2 = Stage("a", "a", {"x": 1}, build), Stage("a", "a", {"x": 2}, build)
    assert a1.key != a2.key
    assert Stage("b", "b", {}, build, {"i": a1}).key != Stage("b", "b", {}, build, {"i": a2}).key
    assert Stage("a", "a", {"x": 1, "y": [1, 2]}, build).key == Stage("a", "other", {"y": [1, 2], "x": 1}, build).key
