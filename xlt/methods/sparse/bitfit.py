"""BitFit (Ben Zaken et al., 2022), the existing-SFT baseline of thesis §4.4.1.

Only bias terms train. LayerNorm stays frozen as for every SFT here, which gives the
densities the thesis reports: 0.047% of mBERT and 0.030% of XLM-R (§4.4.2).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def bias_masks(params: Mapping[str, nn.Parameter]) -> dict[str, torch.Tensor]:
    """Flat masks selecting every bias among the given (maskable, non-LayerNorm) parameters."""
    return {name: torch.full((param.numel(),), name.endswith("bias"), dtype=torch.bool)
            for name, param in params.items()}
