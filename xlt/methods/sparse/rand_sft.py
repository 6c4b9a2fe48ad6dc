"""rand-SFT (thesis §4.4.1): the K trainable entries are chosen uniformly at random.

The ablation of LT-SFT's informed selection: no dense phase, only the sparse phase on a
random exactly-K subset (top-K of i.i.d. uniform scores, so any K-subset is equally likely).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from xlt.methods.core.selection import random_scores, topk_masks


def random_masks(shapes: Mapping[str, torch.Size], k: int, seed: int) -> dict[str, torch.Tensor]:
    """Exactly K entries over all tensors, uniformly at random and reproducible from ``seed`` (a stage's
    :func:`~xlt.methods.core.selection.stage_seed`)."""
    numels = {name: int(torch.Size(shape).numel()) for name, shape in shapes.items()}
    return topk_masks(numels, random_scores(seed, list(numels)), k)
