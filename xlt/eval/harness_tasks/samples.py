"""The dataset of the local harness task ``xlt_mmlu_sample.yaml``: the bundled MMLU-format sample
(``xlt/data/samples/instruction/mmlu``, found from this file, not from the working directory), as a
``datasets.DatasetDict``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MMLU_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "instruction" / "mmlu"


def load_mmlu_sample(**_: Any) -> Any:
    """{"test": mmlu/test.jsonl, "dev": mmlu/dev.jsonl} (the harness passes its metadata as keywords)."""
    import datasets

    return datasets.load_dataset("json", data_files={split: str(MMLU_SAMPLE / f"{split}.jsonl")
                                                     for split in ("test", "dev")})
