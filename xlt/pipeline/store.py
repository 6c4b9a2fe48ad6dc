"""Content-addressed artifact store (DESIGN.md "Artifacts and outputs").

Layout: ``<root>/<kind>/<key>/`` holding the stage's files, ``config.yaml`` (what produced
it), ``metrics.json`` and ``DONE``. An artifact is built in a temporary sibling directory and
renamed into place only when complete, so a crashed builder never leaves a directory that
looks finished. A file lock per artifact lets concurrent jobs (e.g. a density sweep on SLURM)
build a shared artifact once: the others wait, then reuse it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

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
    def lock(self, kind: str, key: str) -> Iterator[None]:
        """Exclusive per artifact, across processes and (on a shared file system) machines. An OS
        lock (flock): released when its holder dies, so a killed builder never blocks the next."""
        (self.root / kind).mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / kind / f".{key}.lock")):
            yield

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
