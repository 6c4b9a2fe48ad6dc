"""build_once: a cached directory is built once, atomically, and a failed build leaves nothing behind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from xlt.utils.cached_dir import build_once


def test_built_once_then_returned_from_the_cache_and_unfinished_targets_replaced(tmp_path):
    calls = []

    def build(directory: Path) -> None:
        calls.append(directory)
        (directory / "weights.bin").write_bytes(b"\x00" * 10)

    target = tmp_path / "models" / "tiny-x"
    target.mkdir(parents=True)
    (target / "partial.bin").write_bytes(b"old")  # a killed build of an older version: no DONE
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: build_once(target, build, "note"), range(4)))
    assert results == [target] * 4 and len(calls) == 1
    assert sorted(p.name for p in target.iterdir()) == ["DONE", "weights.bin"]
    assert (target / "DONE").read_text() == "note\n"
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".tiny-x.")] == [".tiny-x.lock"]


def test_a_failed_build_leaves_no_directory_and_the_next_call_builds_again(tmp_path):
    target = tmp_path / "ct2-abc"

    def broken(directory: Path) -> None:
        (directory / "half.bin").write_bytes(b"half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError, match="converter crashed"):
        build_once(target, broken, "never")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [".ct2-abc.lock"]
    assert build_once(target, lambda d: (d / "ok").write_text("1"), "fine") == target
    assert (target / "ok").read_text() == "1"
