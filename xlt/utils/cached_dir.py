"""A directory built once into a cache and shared by every process that needs it (tiny models, the tiny
NMT model, CTranslate2 conversions): written under a temporary name beside its target, marked ``DONE`` and
renamed into place under a file lock, so a reader sees either nothing or the whole directory and two
processes never build it twice."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock


def build_once(target: str | Path, build: Callable[[Path], None], note: str) -> Path:
    """``target``, calling ``build(tmp)`` to fill a temporary sibling directory unless a finished one exists
    (``DONE`` holds ``note``). A failed build leaves nothing behind; an unfinished ``target`` (no ``DONE``,
    e.g. from a killed older version) is replaced."""
    target = Path(target)
    if (target / "DONE").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if (target / "DONE").exists():
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            build(tmp)
            (tmp / "DONE").write_text(note.rstrip("\n") + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
