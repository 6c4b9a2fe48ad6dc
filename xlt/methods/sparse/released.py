"""Released composable-sft modules instead of training (thesis §5.4.2: "we use the pre-trained language SFTs of
Ansell et al. (2022)", and their single-source task SFTs).

``lang_module.pretrained: {lang: ID}`` / ``task_module.pretrained: {source_lang: ID}`` (the sparse family)
names, per language, a module of the authors' composable-sft library (e.g. ``cambridgeltl/mbert-lang-sft-en-small``,
``cambridgeltl/xlmr-lang-sft-gn-small``, ``cambridgeltl/...-task-sft-...``) by hub id, or a local directory
holding its ``pytorch_diff.bin`` (or that file). The module stage then imports it instead of training:

* read with :func:`xlt.methods.core.sft.load_composable_sft`, which never unpickles code;
* checked against the body it is applied to (every diff's name and shape) and given that body's
  base-weights hash, so it composes and trims (BiStil) like a module xlt trained;
* language modules keep their body diffs only (the MLM head's are dropped: language modules attach without
  head); task modules map the reference model's head to the task model's (``classifier.dense.*`` ->
  ``head.dense.*``, ``classifier.*`` -> ``head.classifier.*``, ``qa_outputs.*`` -> ``head.*``): every head
  parameter must be covered, with its shape.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from xlt.errors import ArtifactError, ConfigError
from xlt.methods.core.sft import SparseFineTuning, load_composable_sft

log = logging.getLogger(__name__)

DIFF_FILE = "pytorch_diff.bin"


def is_local(value: str) -> bool:
    return Path(value).expanduser().exists() or value.startswith((".", "/", "~"))


def check_released(value: Any, where: str) -> None:
    """A local module must exist and hold its diff file (a hub id is resolved when the stage builds)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}={value!r}: expected a composable-sft module (hub id or local path)")
    if is_local(value):
        path = Path(value).expanduser()
        if not (path / DIFF_FILE).is_file() and not (path.is_file() and path.name.endswith(".bin")):
            raise ConfigError(f"{where}={value!r}: not a composable-sft module (no {DIFF_FILE} in it)")


def locate_released(value: str, where: str) -> Path:
    """The module's diff file: a local directory's (or the file given), else downloaded from the hub."""
    check_released(value, where)
    if is_local(value):
        path = Path(value).expanduser()
        return path if path.is_file() else path / DIFF_FILE
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(value, DIFF_FILE))
    except Exception as error:  # offline, unknown repo, no such file: one line naming the key
        raise ArtifactError(f"{where}={value!r}: cannot fetch {DIFF_FILE} from the hub "
                            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None


def _head_name(name: str, head: dict[str, nn.Parameter]) -> str | None:
    """The task model's head parameter for a reference head tensor (None: no match)."""
    rest = name.split(".", 1)[1] if "." in name else name
    for candidate in (f"head.{name}", f"head.{rest}"):
        if candidate in head:
            return candidate
    return None


def import_released(value: str, model: Any, meta: dict[str, Any], where: str) -> SparseFineTuning:
    """The released module ``value`` as an SFT of ``model`` (a task model: its body, and for a task module its
    head), recording ``meta`` (base model, base hash, kind, language) and where it came from."""
    path = locate_released(value, where)
    body = model.body
    prefix = f"{body.base_model_prefix}." if getattr(body, "base_model_prefix", "") else None
    sft = load_composable_sft(path, strip_prefix=prefix, base_body=body, base_hash=meta.get("base_hash"),
                              base_model=meta.get("base_model"))
    abs_tensors = {}
    if meta.get("kind") == "language":
        if sft.abs:
            log.warning("%s: %d head tensors of a language module dropped (language modules attach without head)",
                        path, len(sft.abs))
    else:
        head = model.head_parameters()
        for name, tensor in sft.abs.items():
            target = _head_name(name, head)
            if target is None or tuple(head[target].shape) != tuple(tensor.shape):
                raise ArtifactError(f"{where}={value!r}: head tensor {name!r} {tuple(tensor.shape)} matches no "
                                    f"parameter of the task head ({', '.join(sorted(head))})")
            abs_tensors[target] = tensor
        missing = sorted(set(head) - set(abs_tensors))
        if missing:
            raise ArtifactError(f"{where}={value!r}: the module has no values for the task head's {missing}: a task "
                                "module of another task or head")
    imported = {**sft.meta, **meta, "imported_from": value, "source_file": str(path)}
    return SparseFineTuning(sft.diffs, abs_tensors, imported)
