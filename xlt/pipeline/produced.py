"""Data that a stage produces, as the input of later stages (chapter 6: trimmed source data, gold shots,
translated task data and test sets).

A :class:`ProducedData` names a file in the artifact directory of the stage that writes it. A stage
reading it lists the producer among its inputs (so the producer's key, which covers how the data were
made, enters the reader's key) and resolves the file to an ordinary
:class:`~xlt.data.locations.DataLocation` only when it builds, since the directory exists only then.
The same data therefore have the same key in every configuration and sweep job: one translation of
MultiNLI into Aymara serves TTRAIN-SINGLE, TTRAIN-ALL and FS + TTRAIN-ALL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xlt.data.locations import DataLocation, fingerprint, load_location, visible_columns
from xlt.data.readers import PLAIN_TEXT, TextFileFormat

if TYPE_CHECKING:
    from xlt.pipeline.runner import Stage, StageContext


@dataclass(eq=False)
class ProducedData:
    stage: Stage  # the stage whose artifact directory holds the file
    file: str  # the file, relative to that directory
    format: str = "jsonl"

    def spec(self) -> dict[str, Any]:
        """Its part of a reader's key (the producer's own key enters through the reader's inputs)."""
        return {"produced_by": self.stage.kind, "file": self.file, "format": self.format}

    def location(self, ctx: StageContext, input_name: str) -> DataLocation:
        """The file as a location, once the producer (wired in as ``input_name``) has built."""
        return DataLocation(path=str(ctx.inputs[input_name] / self.file), format=self.format)


def location_spec(location: DataLocation | ProducedData) -> dict[str, Any]:
    """A location's part of an artifact key: the file fingerprint, or what produces it."""
    return location.spec() if isinstance(location, ProducedData) else fingerprint(location)


def read_rows(locations: list[DataLocation], where: str, text_file: TextFileFormat = PLAIN_TEXT
              ) -> list[dict[str, Any]]:
    """The rows of ``locations`` (concatenated, in order) as plain dicts of their visible columns (the
    hidden row-origin columns dropped): what a stage that writes data reads."""
    rows: list[dict[str, Any]] = []
    for i, location in enumerate(locations):
        dataset = load_location(location, f"{where}[{i}]" if len(locations) > 1 else where, text_file)
        rows.extend(dataset.select_columns(visible_columns(dataset.column_names)).to_list())
    return rows
