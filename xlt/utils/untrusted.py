"""Reading pickled files that xlt did not write (downloaded modules) without running their code.

A pickle can name any callable and have it called while it loads. ``torch.load(weights_only=True)``
only builds tensors, numbers, strings, lists, tuples, dicts, ``OrderedDict`` and ``torch.Size``;
:func:`load_untrusted_torch` allows exactly the extra types a format needs on top of that, and turns
any refusal (or a corrupt file) into a one-line :class:`~xlt.errors.ArtifactError` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xlt.errors import ArtifactError

try:  # numpy >= 2
    from numpy._core.multiarray import scalar as _numpy_scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import scalar as _numpy_scalar  # type: ignore[no-redef]

_INTEGER_DTYPES = [type(np.dtype(name)) for name in ("int8", "int16", "int32", "int64", "uint8", "uint16",
                                                        "uint32", "uint64")]
NUMPY_INTEGERS: tuple[Any, ...] = (
    # a numpy integer (e.g. an np.int64 index) pickles as scalar(dtype, raw bytes), its dtype as
    # dtype("i8") whose state is then set: the scalar constructor, the dtype and the integer dtype
    # classes; files written under numpy 1.x name the module numpy.core, under numpy 2 numpy._core
    (_numpy_scalar, "numpy.core.multiarray.scalar"),
    (_numpy_scalar, "numpy._core.multiarray.scalar"),
    (np.dtype, "numpy.dtype"),
    *_INTEGER_DTYPES,
)


def _reason(error: BaseException) -> str:
    """What torch.load refused, in one line (its message starts with generic advice)."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
        text = text.split(" Please use ", 1)[0].split(" was not an allowed global", 1)[0]
        text = text.replace("Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                            "`add_safe_globals`, but got", "cannot build")
    line = " ".join(text.split())
    return line or type(error).__name__


def load_untrusted_torch(path: str | Path, allowed: Sequence[Any] = (), what: str = "file") -> Any:
    """``torch.load`` of a downloaded ``path`` with ``weights_only=True`` and only ``allowed`` (callables
    or ``(callable, "module.name")`` pairs) added to torch's safe types; anything else in the pickle
    (a callable to run, an arbitrary class) is refused before it is called."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: {what} not found")
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for unsafe/corrupt files
        raise ArtifactError(f"{path}: refused to load this {what}: {_reason(error)} (only tensors, numbers, "
                            "strings, lists, dicts and sizes are read from files xlt did not write)") from None
