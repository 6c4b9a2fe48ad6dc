"""Multi-source training (thesis §3.3.3, §4.4.4): single-language batches, each trained with its
language's module active for that step only.

:class:`MultiSourceTrain` is what a training procedure receives as ``TrainRequest.train`` for a
mixture: the per-language example lists, upsampling factors, the sampling policy and each
language's module. :class:`~xlt.training.fit.Fitter` turns it into a
:class:`~xlt.data.mixture.MixtureBatchSampler` loader and adds :class:`~xlt.training.callbacks.LanguageSwitch`, so every
method (SFT, adapters, ...) gets per-batch switching without code of its own.

Why the switch happens where it does. A language SFT is added in place to the very tensors the
task module trains (theta + phi_task + phi_lang). :class:`LanguageSwitch` attaches the batch's
module at batch start and removes it right after the backward pass: autograd has used
W + phi_lang for the forward and backward, and the module is gone before any
``on_before_optimizer_step`` hook (gradient masking, the L1 term, clipping) and before the
optimizer step, so the step updates W itself. Removing it after the step instead would restore
the saved values of W at phi_lang's indices and clobber the step's update there; MaskedUpdates'
restore of frozen entries (after the step) therefore sees plain W as well. Removal restores exact
bytes (``AppliedSFT``), so switching every batch causes no drift. Validation applies each
language's module to that language's loader and removes it before the best state is recorded.
The mechanism only needs ``attach(model, with_head) -> handle`` with ``handle.remove()``, so
adapter language modules switch the same way. (The switch is a Lightning callback, so it lives in
xlt.training.callbacks: this module stays free of Lightning, which planning an experiment does not import.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from xlt.data.mixture import SamplingConfig


@dataclass
class MultiSourceTrain(Sequence):
    """A multi-source training set: ``sources`` maps each language to its (preprocessed) examples."""

    sources: dict[str, Sequence[dict[str, Any]]]
    upsampling: dict[str, int] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)  # language -> module artifact (absent: none)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)

    def __len__(self) -> int:
        return sum(len(examples) for examples in self.sources.values())

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        for examples in self.sources.values():
            if index < len(examples):
                return examples[index]
            index -= len(examples)
        raise IndexError(index)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for examples in self.sources.values():
            yield from examples

    @property
    def languages(self) -> list[str]:
        return list(self.sources)

    def factors(self) -> list[int]:
        return [int(self.upsampling.get(lang, 1)) for lang in self.sources]
