"""Batch collation: dynamic padding, and MLM masking that is reproducible per example."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

IGNORE_INDEX = -100


def pad_batch(examples: Sequence[dict[str, Any]], pad_token_id: int,
              keys: Sequence[str] = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask"),
              label_keys: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """Right-pad the listed sequence fields; ``label_keys`` sequences are padded with -100."""
    batch: dict[str, torch.Tensor] = {}
    length = max(len(example["input_ids"]) for example in examples)
    for key in list(keys) + list(label_keys):
        if key not in examples[0]:
            continue
        pad = pad_token_id if key == "input_ids" else IGNORE_INDEX if key in label_keys else 0
        rows = [list(example[key]) + [pad] * (length - len(example[key])) for example in examples]
        batch[key] = torch.tensor(rows, dtype=torch.long)
    return batch


class ClassificationCollator:
    """Pads token fields and stacks integer ``labels``."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad_batch(examples, self.pad_token_id)
        batch.pop("special_tokens_mask", None)
        batch["labels"] = torch.tensor([example["labels"] for example in examples], dtype=torch.long)
        return batch


class MLMCollator:
    """BERT-style masking (15%: 80% mask token, 10% random token, 10% unchanged).

    The choice for each example comes from a generator seeded by the example's
    ``example_seed`` (see xlt.data.sampling), not the global RNG: a resumed run masks
    exactly as an uninterrupted one, and a held-out set is masked the same way every time.
    """

    def __init__(self, tokenizer, mlm_probability: float = 0.15):
        self.pad_token_id = tokenizer.pad_token_id
        self.mask_token_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.mlm_probability = mlm_probability
        if self.mask_token_id is None:
            raise ValueError("the tokenizer has no mask token: it cannot be used for MLM")

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad_batch(examples, self.pad_token_id)
        special = batch.pop("special_tokens_mask", None)
        input_ids = batch["input_ids"]
        labels = input_ids.clone()
        for row, example in enumerate(examples):
            generator = torch.Generator().manual_seed(int(example.get("example_seed", row)))
            length = len(example["input_ids"])
            probabilities = torch.full((length,), self.mlm_probability)
            if special is not None:
                probabilities.masked_fill_(special[row, :length].bool(), 0.0)
            masked = torch.bernoulli(probabilities, generator=generator).bool()
            replace = torch.bernoulli(torch.full((length,), 0.8), generator=generator).bool() & masked
            randomise = torch.bernoulli(torch.full((length,), 0.5), generator=generator).bool() & masked & ~replace
            random_tokens = torch.randint(self.vocab_size, (length,), generator=generator)
            row_ids = input_ids[row, :length]
            row_ids[replace] = self.mask_token_id
            row_ids[randomise] = random_tokens[randomise]
            row_labels = labels[row]
            row_labels[:length][~masked] = IGNORE_INDEX
            row_labels[length:] = IGNORE_INDEX
        batch["labels"] = labels
        return batch
