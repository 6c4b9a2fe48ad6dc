"""The artifact store and the stage runner: atomic builds, keys, skipping finished stages."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xlt.pipeline.runner import Runner, Stage
from xlt.pipeline.store import ArtifactStore

REPO = Path(__file__).resolve().parents[1]


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


# ---------------------------------------------------------------------------- across processes
def _worker(store: Path, log: Path, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.store_worker", str(store), str(log), mode], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_requesting_the_same_artifact_build_it_once(tmp_path):
    store, log = tmp_path / "store", tmp_path / "builds.log"
    workers = [_worker(store, log, "slow") for _ in range(2)]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert len(log.read_text().splitlines()) == 1  # one build ...
    assert sorted(o["status"] for o in outputs) == ["built", "cached"]  # ... the other waited and reused it
    artifact = ArtifactStore(store)
    (key,) = [p.name for p in (store / "shared").iterdir() if not p.name.startswith(".")]
    assert artifact.is_done("shared", key) and (artifact.path("shared", key) / "value.txt").read_text() == "complete"
    assert not artifact.work_dir("shared", key).exists()  # the scratch of a finished build is removed


def test_killed_builder_leaves_nothing_finished_and_does_not_block_the_next(tmp_path):
    store, log = tmp_path / "store", tmp_path / "builds.log"
    worker = _worker(store, log, "hang")
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():  # the builder is mid-write, holding the lock
        assert worker.poll() is None and time.monotonic() < deadline, worker.stderr.read() if worker.poll() else ""
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    (key,) = {p.name.split("-")[1] for p in (store / "shared").iterdir() if p.name.startswith(".tmp-")}
    artifact = ArtifactStore(store)
    assert not artifact.is_done("shared", key) and not artifact.path("shared", key).exists()
    assert (store / "shared" / f".{key}.lock").exists()  # a stale lock file and a stale temporary dir ...

    again = _worker(store, log, "slow")  # ... do not block the next builder (a hang would time out)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "resumed" and result["metrics"] == {"earlier_attempts": 1}  # it saw the work dir
    assert f"resuming shared (shared/{key})" in err
    assert artifact.is_done("shared", key)
    assert not [p for p in (store / "shared").iterdir() if p.name.startswith(".tmp-")]


def test_a_job_waiting_on_a_lock_says_for_what_and_on_whom(tmp_path):
    """Issue 14, item 6: which artifact, which host and pid hold it, since when."""
    store, log = tmp_path / "store", tmp_path / "builds.log"
    holder = _worker(store, log, "hang")
    deadline = time.monotonic() + 120
    while not (tmp_path / "ready").exists():  # the holder is building, holding the lock
        assert holder.poll() is None and time.monotonic() < deadline, holder.stderr.read() if holder.poll() else ""
        time.sleep(0.05)
    waiter_log = tmp_path / "waiter.err"
    with open(waiter_log, "w") as handle:
        waiter = subprocess.Popen([sys.executable, "-m", "tests.store_worker", str(store), str(log), "slow"],
                                  cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                                  stderr=handle, text=True)
    try:
        deadline = time.monotonic() + 120
        while "waiting" not in waiter_log.read_text() and waiter.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        (key,) = {p.name.split("-")[1] for p in (store / "shared").iterdir() if p.name.startswith(".tmp-")}
        recorded = (store / "shared" / f".{key}.lock.holder").stat().st_mtime
        started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(recorded))
        assert f"waiting  shared (shared/{key}): another job builds it (lock held by {platform.node()} pid " \
               f"{holder.pid} since {started}" in waiter_log.read_text()
        assert waiter.poll() is None  # still waiting
    finally:
        holder.kill()
        holder.wait(timeout=30)
    out, _ = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, waiter_log.read_text()[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["status"] == "resumed"  # after the holder died


@pytest.mark.parametrize("resume", [True, False])
def test_an_earlier_attempts_work_dir_is_resumed_only_when_resume_is_on(tmp_path, resume):
    """trainer.resume=false builds afresh: the stale work dir is cleared and the stage is `built`, not
    `resumed`; with resume on, the build sees the earlier attempt's files and reports `resumed`."""
    seen = []

    def build(ctx):
        seen.append(sorted(p.name for p in ctx.work_dir.iterdir()))
        return {}

    store = ArtifactStore(tmp_path / "store")
    stage = Stage("a", "up", {"x": 1}, build)
    store.work_dir(stage.kind, stage.key).mkdir(parents=True)
    (store.work_dir(stage.kind, stage.key) / "last.ckpt").write_text("killed attempt")
    result = Runner(store, tmp_path / "run", announce=lambda _: None, resume=resume).run([stage])["up"]
    assert result.status == ("resumed" if resume else "built")
    assert seen == [["last.ckpt"] if resume else []]
