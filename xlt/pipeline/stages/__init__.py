"""The stages recipes are made of, one module per kind (the artifact families of the store):

- ``language_module.py``: ``lang/<l>``, a language module trained by MLM on the language's corpus
- ``task_module.py``: ``task``, the task module on base + source language module(s)
- ``evaluation.py``: ``eval/<l>``, base + task module (+ head) + target language module on a test set
- ``madg.py``: MAD-G's generator, generated and fine-tuned adapters, held-out MLM loss (chapter 3)
- ``instruction.py``: instruction tuning, multiple-choice evaluation, lm-eval, merged export (chapter 7)

Each factory returns a :class:`~xlt.pipeline.runner.Stage` whose spec decides its artifact key and whose
``validate`` check reads the stage's data files as its build will (the runner checks every unfinished
stage before building the first). What the stages share is here: the data checks and loading a module
artifact by method.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xlt.data.locations import DataLocation, load_location
from xlt.data.readers import PLAIN_TEXT, TextFileFormat
from xlt.errors import DataError
from xlt.methods import METHODS, ModuleArtifact
from xlt.pipeline.experiment import Experiment

if TYPE_CHECKING:
    import datasets

# rows of a hub dataset that the plan's data check preprocesses (local files are preprocessed in full)
HUB_CHECK_ROWS = 1000


def check_data(location: DataLocation, where: str, preprocess: Callable[[datasets.Dataset, str], Any] | None = None,
               text_file: TextFileFormat = PLAIN_TEXT) -> datasets.Dataset:
    """Open and parse one location as a stage's build will, before any stage is built: a local file is
    read by its reader and (with ``preprocess``, the task family's) preprocessed in full, so a malformed
    line, label or tag fails now with its file and line; a hub dataset is loaded (resolved: a missing
    dataset, config or split fails naming ``where``) and its first HUB_CHECK_ROWS rows preprocessed."""
    dataset = load_location(location, where, text_file)
    if preprocess is not None:
        preprocess(_rows_to_check(location, dataset), where)
    return dataset


def _rows_to_check(location: DataLocation, dataset: datasets.Dataset) -> datasets.Dataset:
    if location.path is not None:
        return dataset
    return dataset.select(range(min(HUB_CHECK_ROWS, len(dataset))))


def check_corpus(location: DataLocation, where: str) -> datasets.Dataset:
    """A language corpus opened and parsed as a language-module build reads it (its ``text`` column)."""
    corpus = check_data(location, where)
    if "text" not in corpus.column_names:
        raise DataError(f"{where}: a corpus needs a 'text' column (found {corpus.column_names})")
    return corpus


def load_module(method: str, directory: Path) -> ModuleArtifact:
    loader = METHODS[method].load
    assert loader is not None, f"method {method!r} has no artifact"
    return loader(directory)


def attach_module(exp: Experiment, method: str, directory: Path, model: Any, with_head: bool,
                  model_path: str | None = None) -> Any:
    """Load the module of ``directory``, check it was trained on the base weights of ``model`` (the model
    at ``model_path``, default the configured one) and attach it."""
    module = load_module(method, directory)
    module.check_base(exp.base_hash(model.body, model_path), where=str(directory))
    return module.attach(model, with_head=with_head)
