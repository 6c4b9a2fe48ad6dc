"""Content-addressed artifact store (DESIGN.md "Artifacts and outputs").

Layout: ``<root>/<kind>/<key>/`` holding the stage's files, ``config.yaml`` (what produced
it), ``metrics.json`` and ``DONE``. An artifact is built in a temporary sibling directory and
renamed into place only when complete, so a crashed builder never leaves a directory that
looks finished. A file lock per artifact lets concurrent jobs (e.g. a density sweep on SLURM)
build a shared artifact once: the others wait, then reuse it. The holder records who it is (host, pid,
since when) beside the lock, so a waiting job says which artifact it waits for and on whom.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from xlt.errors import ArtifactError

DONE = "DONE"


class ArtifactStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def is_done(self, kind: str, key: str) -> bool:
        return (self.path(kind, key) / DONE).is_file()

    def work_dir(self, kind: str, key: str) -> Path:
        """Persistent scratch space of an unfinished build (checkpoints to resume from)."""
        return self.root / kind / f".work-{key}"

    @contextmanager
    def lock(self, kind: str, key: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Exclusive per artifact, across processes and (on a shared file system) machines. An OS
        lock (flock): released when its holder dies, so a killed builder never blocks the next.
        When another process holds it, ``on_wait`` is called once with who that is (:meth:`holder`)
        before this one waits."""
        (self.root / kind).mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / kind / f".{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait(self.holder(kind, key))
            lock.acquire()
        holder = self._holder_path(kind, key)
        try:
            holder.write_text(json.dumps({"host": platform.node(), "pid": os.getpid(), "since": time.time()}) + "\n")
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def _holder_path(self, kind: str, key: str) -> Path:
        return self.root / kind / f".{key}.lock.holder"

    def holder(self, kind: str, key: str) -> str:
        """Who holds the lock of ``kind/key``, as its holder recorded it: ``host pid N since <UTC time>``."""
        try:
            record = json.loads(self._holder_path(kind, key).read_text())
            since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record["since"]))
            return f"{record['host']} pid {record['pid']} since {since}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process (it has not recorded itself yet)"

    @contextmanager
    def building(self, kind: str, key: str) -> Iterator[Path]:
        """A fresh temporary dir; on success it is completed (DONE) and renamed into place.
        Call it holding :meth:`lock`: temporary dirs of earlier, killed builders are removed."""
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        for stale in final.parent.glob(f".tmp-{key}-*"):  # left by a killed builder (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{key}-"))
        try:
            yield tmp
            (tmp / DONE).write_text("complete\n")
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; artifacts are shared
            if final.exists():  # a stale, unfinished directory (cannot have DONE: we hold the lock)
                shutil.rmtree(final)
            os.replace(tmp, final)
            shutil.rmtree(self.work_dir(kind, key), ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def read_metrics(self, kind: str, key: str) -> dict[str, Any]:
        path = self.path(kind, key) / "metrics.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise ArtifactError(f"{path}: malformed metrics ({error.msg})") from None
