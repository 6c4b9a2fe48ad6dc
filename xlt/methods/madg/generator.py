"""MAD-G: multilingual adapter generation from typology (thesis chapter 3, §3.3).

Contextual parameter generation (eq. 3.1): a language's URIEL vector t_l (289 binary features)
is projected to a language embedding lambda_l = V t_l (V in R^(d_l x 289), d_l = 32), and the
parameters of its whole language adapter are generated linearly, theta_l = W lambda_l, with
W in R^(2 h m n_b x d_l) (§3.3.1): for mBERT (h = 768, n_b = 12) and m = 384, W has 226,492,416
entries. MAD-G-LS (§3.3.2, eq. 3.2) factors out layer embeddings lambda_b in R^(d_b) (d_b = 32)
and generates each layer's adapter from the concatenation, theta_(l,b) = W (lambda_l (+) lambda_b),
so W in R^(2 h m x (d_l + d_b)): 37,748,736 entries for mBERT.

A generated adapter is a Pfeiffer bottleneck adapter whose per-layer parameters are the 2hm
generated values (the thesis counts "a single adapter module has 2hm parameters": down- and
up-projection, no biases, no invertible adapter). Row layout of theta per layer: the down-projection
D (m x h, row-major) then the up-projection U (h x m). During generator training the adapter is
generated afresh on every forward pass (:class:`GeneratorAdapter`), so gradients reach W, V (and
the layer embeddings); :meth:`AdapterGenerator.generate` produces a fixed
:class:`~xlt.methods.adapters.bottleneck.PfeifferAdapter` for any language with a URIEL vector, seen in
training or not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from xlt.methods.adapters.bottleneck import LANGUAGE, AdapterShape, NICECoupling, PfeifferAdapter, activation

NUM_TYPOLOGY_FEATURES = 289
FEATURE_VARIANCE = 0.35  # ~share of 1s in a URIEL vector: the variance of lambda's entries at init


class AdapterGenerator(nn.Module):
    """theta = W (V t) for all adapted layers (MAD-G), or W (V t (+) lambda_b) per layer (MAD-G-LS)."""

    def __init__(self, hidden_size: int, bottleneck: int, layers: Sequence[int], language_dim: int = 32,
                 layer_dim: int | None = None, num_features: int = NUM_TYPOLOGY_FEATURES,
                 non_linearity: str = "relu", init_std: float = 0.01, seed: int | None = None,
                 device: torch.device | str | None = None):
        super().__init__()
        self.hidden_size, self.bottleneck = hidden_size, bottleneck
        self.layers = tuple(int(i) for i in layers)
        self.language_dim, self.layer_dim, self.num_features = language_dim, layer_dim, num_features
        self.non_linearity = non_linearity
        self.per_layer = 2 * hidden_size * bottleneck  # 2hm: D and U of one bottleneck
        n_b = len(self.layers)
        self.V = nn.Parameter(torch.empty(language_dim, num_features, device=device))
        if layer_dim:
            self.layer_embeddings = nn.Parameter(torch.empty(n_b, layer_dim, device=device))
            self.W = nn.Parameter(torch.empty(self.per_layer, language_dim + layer_dim, device=device))
        else:
            self.register_parameter("layer_embeddings", None)
            self.W = nn.Parameter(torch.empty(self.per_layer * n_b, language_dim, device=device))
        self.init_std = init_std
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """V ~ N(0, 1/289) so lambda's entries have variance ~ the share of 1s in t (~0.35); layer
        embeddings ~ N(0, 0.35); W ~ N(0, init_std^2 / (inputs x 0.35)), so that generated weights
        start with standard deviation ~ ``init_std`` (near the identity adapter)."""
        if self.V.device.type == "meta":
            return
        generator = torch.Generator().manual_seed(seed) if seed is not None else None

        def normal(tensor: torch.Tensor, std: float) -> None:
            tensor.copy_(torch.empty(tensor.shape).normal_(0.0, std, generator=generator))

        normal(self.V, 1 / math.sqrt(self.num_features))
        inputs = self.language_dim
        if self.layer_embeddings is not None:
            normal(self.layer_embeddings, math.sqrt(FEATURE_VARIANCE))
            inputs += self.layer_dim or 0
        normal(self.W, self.init_std / math.sqrt(inputs * FEATURE_VARIANCE))

    # ----------------------------------------------------------------- sizes
    @property
    def shape(self) -> AdapterShape:
        """The shape of the adapters this generator produces."""
        return AdapterShape(self.hidden_size, self.bottleneck, self.layers, invertible=False,
                            non_linearity=self.non_linearity, bias=False)

    def parameter_counts(self) -> dict[str, int]:
        counts = {"W": self.W.numel(), "V": self.V.numel()}
        if self.layer_embeddings is not None:
            counts["layer_embeddings"] = self.layer_embeddings.numel()
        counts["total"] = sum(counts.values())
        return counts

    # ----------------------------------------------------------------- generation
    def language_embedding(self, typology: torch.Tensor) -> torch.Tensor:
        """lambda_l = V t_l."""
        return self.V @ typology.to(self.V.device, self.V.dtype)

    def generate_flat(self, typology: torch.Tensor) -> torch.Tensor:
        """theta for every adapted layer: shape (n_b, 2hm)."""
        lam = self.language_embedding(typology)
        if self.layer_embeddings is None:
            return (self.W @ lam).view(len(self.layers), self.per_layer)
        inputs = torch.cat([lam.expand(len(self.layers), -1), self.layer_embeddings], dim=1)  # lambda_l (+) lambda_b
        return inputs @ self.W.t()

    def split(self, row: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D: m x h, U: h x m) from one layer's 2hm generated values."""
        h, m = self.hidden_size, self.bottleneck
        return row[:h * m].view(m, h), row[h * m:].view(h, m)

    @torch.no_grad()
    def generate(self, typology: torch.Tensor) -> PfeifferAdapter:
        """A fixed language adapter for the language with URIEL vector ``typology``."""
        theta = self.generate_flat(typology)
        adapter = PfeifferAdapter(self.shape, level=LANGUAGE)
        for row, layer in zip(theta, self.layers):
            down, up = self.split(row)
            module = adapter.layers[str(layer)]
            module.down.weight.copy_(down)
            module.up.weight.copy_(up)
        return adapter.to(torch.device("cpu"))


class GeneratorAdapter(nn.Module):
    """The generator as an adapter of the host (training): the adapter of the current language is
    generated at the start of every forward pass, so its parameters stay functions of W and V."""

    level = LANGUAGE

    def __init__(self, generator: AdapterGenerator):
        super().__init__()
        self.generator = generator
        self.function = activation(generator.non_linearity)
        self.rows = {layer: i for i, layer in enumerate(generator.layers)}
        self._typology: torch.Tensor | None = None
        self._theta: torch.Tensor | None = None

    @property
    def shape(self) -> AdapterShape:
        return self.generator.shape

    def set_language(self, typology: torch.Tensor | None) -> None:
        """Generate the adapter of this URIEL vector from the next forward pass on (None: no adapter)."""
        self._typology = None if typology is None else typology.float()
        self._theta = None

    def adapted_layers(self) -> frozenset[int]:
        return frozenset(self.generator.layers) if self._typology is not None else frozenset()

    def begin_forward(self) -> None:
        self._theta = None if self._typology is None else self.generator.generate_flat(self._typology)

    def layer_delta(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        assert self._theta is not None, "no language set for the generator"
        down, up = self.generator.split(self._theta[self.rows[layer]])
        x = h.to(down.dtype)
        return F.linear(self.function(F.linear(x, down)), up).to(h.dtype)

    def invertible_module(self) -> NICECoupling | None:
        return None
