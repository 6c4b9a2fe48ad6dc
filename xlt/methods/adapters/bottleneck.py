"""Bottleneck adapters (Pfeiffer configuration) and invertible (NICE) embedding adapters, inserted into
transformers encoders with hooks (thesis §2.2.1 eq. 2.8, §2.3.4; MAD-X of Pfeiffer et al., 2020b).

**Placement.** After the feed-forward sub-layer of block l, with f its output (dense + dropout), x the
block's residual stream and LN the block's own output LayerNorm, the unadapted block returns LN(s),
s = f + x. The Pfeiffer adapter (AdapterHub's ``original_ln_before``/``original_ln_after``,
``residual_before_ln``) computes h = LN(s), Adapter_l(h, r) = U_l relu(D_l h) + r with r = f (eq. 2.8),
then LN(Adapter_l(h, r) + x) = LN(s + U_l relu(D_l LN(s))). Stacking (MAD-X: task adapter on the
language adapter) repeats that update: s_k = s_(k-1) + A_k(LN(s_(k-1))), output LN(s_K), exactly what
AdapterHub's ``Stack`` computes. So everything an adapter needs is the *input* of the block's output
LayerNorm: a forward hook on that LayerNorm inserts the adapters into BERT, XLM-R, DeBERTa-v2
(``layer.output.LayerNorm``) and DistilBERT (``output_layer_norm``) without copying model code, and
with a zero up-projection the model's output is unchanged.

**Invertible adapter** (language adapters, §2.3.4): a NICE coupling block applied to the embedding
output; its inverse is applied to the MLM head's hidden state before the output (vocabulary) layer.

One :class:`AdapterHost` per model owns the hooks and the ordered stack of active adapters: language
adapters (level 0) always sit below task adapters (level 1), whatever the order they are attached in;
only the lowest adapter with an invertible part applies it (AdapterHub uses the first of the stack).
When the last adapter is removed every hook is removed, leaving the model exactly as it was.
Attaching and removing is cheap (no weights are copied), so language adapters can be switched per batch.

Files: ``adapter.safetensors`` (tensors) + ``adapter_config.json`` (shape, level, provenance).
:func:`load_adapterhub` reads AdapterHub Pfeiffer(-Inv) adapters (``pytorch_adapter.bin``).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

from xlt.errors import ArtifactError, ConfigError
from xlt.utils.untrusted import load_untrusted_torch

FORMAT = "xlt-adapter"
FORMAT_VERSION = 1
WEIGHTS_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter_config.json"
LANGUAGE, TASK = 0, 1  # stacking levels: language adapters below task adapters (MAD-X)
HOST_ATTRIBUTE = "_xlt_adapter_host"

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh, "swish": F.silu, "silu": F.silu,
    "leakyrelu": F.leaky_relu,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    try:
        return ACTIVATIONS[name.lower()]
    except KeyError:
        raise ConfigError(f"non_linearity={name!r}: unknown (known: {', '.join(ACTIVATIONS)})") from None


# ---------------------------------------------------------------------------- shapes
@dataclass(frozen=True)
class AdapterShape:
    """Sizes of an adapter: a bottleneck (hidden -> bottleneck -> hidden) in each listed layer,
    optionally an invertible embedding adapter whose two sub-networks have bottleneck
    ``(hidden // 2) // inv_reduction_factor``."""

    hidden_size: int
    bottleneck: int
    layers: tuple[int, ...]
    invertible: bool = False
    inv_reduction_factor: float = 2.0
    non_linearity: str = "relu"
    bias: bool = True

    @classmethod
    def from_reduction_factor(cls, hidden_size: int, num_layers: int, reduction_factor: float,
                              leave_out: Iterable[int] = (), **kwargs: Any) -> AdapterShape:
        """Bottleneck = hidden / reduction factor (AdapterHub's rule); ``leave_out`` drops layers
        (negative indices count from the end: ``[-1]`` is MAD-X 2.0, no adapter in the last layer)."""
        if reduction_factor <= 0:
            raise ConfigError(f"reduction_factor={reduction_factor}: must be positive")
        dropped = {i % num_layers for i in leave_out}
        layers = tuple(i for i in range(num_layers) if i not in dropped)
        return cls(hidden_size, max(1, int(hidden_size // reduction_factor)), layers, **kwargs)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = list(self.layers)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AdapterShape:
        return cls(**{**data, "layers": tuple(int(i) for i in data["layers"])})

    def num_parameters(self) -> int:
        per_layer = 2 * self.hidden_size * self.bottleneck + (self.hidden_size + self.bottleneck if self.bias else 0)
        total = per_layer * len(self.layers)
        if self.invertible:
            half1, half2 = self.hidden_size // 2, self.hidden_size - self.hidden_size // 2
            for d_in, d_out in ((half2, half1), (half1, half2)):
                inner = int(d_in // self.inv_reduction_factor)
                total += d_in * inner + inner + inner * d_out + d_out
        return total


# ---------------------------------------------------------------------------- modules
class _Activation(nn.Module):
    """A parameter-free activation (keeps AdapterHub's ``Sequential`` indices 0 and 2 for Linears)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.function = activation(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


class BottleneckAdapter(nn.Module):
    """U act(D h) (+ biases): the residual-free part of eq. 2.8."""

    def __init__(self, hidden_size: int, bottleneck: int, non_linearity: str = "relu", bias: bool = True):
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck, bias=bias)
        self.up = nn.Linear(bottleneck, hidden_size, bias=bias)
        self.function = activation(non_linearity)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        dtype = self.down.weight.dtype
        return self.up(self.function(self.down(h.to(dtype)))).to(h.dtype)


class NICECoupling(nn.Module):
    """Invertible NICE coupling block (Dinh et al., 2015) on the last dimension:
    y1 = x1 + F(x2), y2 = x2 + G(y1); inverse x2 = y2 - G(y1), x1 = y1 - F(x2)."""

    def __init__(self, hidden_size: int, reduction_factor: float = 2.0, non_linearity: str = "relu"):
        super().__init__()
        self.split1 = hidden_size // 2
        self.split2 = hidden_size - self.split1

        def subnet(d_in: int, d_out: int) -> nn.Sequential:
            inner = max(1, int(d_in // reduction_factor))
            return nn.Sequential(nn.Linear(d_in, inner), _Activation(non_linearity), nn.Linear(inner, d_out))

        self.F = subnet(self.split2, self.split1)
        self.G = subnet(self.split1, self.split2)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(self.F[0].weight.dtype)
        x1, x2 = x[..., :self.split1], x[..., self.split1:]
        if not rev:
            y1 = x1 + self.F(x2)
            y2 = x2 + self.G(y1)
        else:
            y2 = x2 - self.G(x1)
            y1 = x1 - self.F(y2)
        return torch.cat((y1, y2), -1).to(dtype)


class AdapterLike(Protocol):
    """What the host needs of an adapter (fixed weights, or generated ones as in MAD-G)."""

    level: int

    def adapted_layers(self) -> frozenset[int]: ...

    def layer_delta(self, layer: int, h: torch.Tensor) -> torch.Tensor: ...

    def invertible_module(self) -> NICECoupling | None: ...

    def begin_forward(self) -> None: ...


class PfeifferAdapter(nn.Module):
    """One adapter for a whole model: a bottleneck per adapted layer (+ an invertible embedding
    adapter for language adapters). ``level`` decides the stacking order (language 0 < task 1)."""

    def __init__(self, shape: AdapterShape, level: int = LANGUAGE, init: str = "bert", seed: int | None = None):
        super().__init__()
        self.shape, self.level = shape, level
        self.layers = nn.ModuleDict({str(i): BottleneckAdapter(shape.hidden_size, shape.bottleneck,
                                                               shape.non_linearity, shape.bias)
                                     for i in shape.layers})
        self.invertible = (NICECoupling(shape.hidden_size, shape.inv_reduction_factor, shape.non_linearity)
                           if shape.invertible else None)
        self.reset_parameters(init, seed)

    @torch.no_grad()
    def reset_parameters(self, init: str = "bert", seed: int | None = None) -> None:
        """``bert``: weights ~ N(0, 0.02), zero biases (AdapterHub's default); ``zero_up``: Kaiming-uniform
        down-projections and zero up-projections, so the adapted model starts as the base model."""
        if init not in ("bert", "zero_up"):
            raise ConfigError(f"init={init!r}: expected bert or zero_up")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        for module in self.modules():
            if isinstance(module, nn.Linear):
                weight = torch.empty(module.weight.shape).normal_(0.0, 0.02, generator=generator)
                module.weight.copy_(weight)
                if module.bias is not None:
                    module.bias.zero_()
        if init == "zero_up":
            for layer in self.layers.values():
                bound = 1 / math.sqrt(layer.down.in_features)
                layer.down.weight.copy_(torch.empty(layer.down.weight.shape).uniform_(-bound, bound,
                                                                                       generator=generator))
                layer.up.weight.zero_()

    # ----------------------------------------------------------------- AdapterLike
    def adapted_layers(self) -> frozenset[int]:
        return frozenset(self.shape.layers)

    def layer_delta(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        return self.layers[str(layer)](h)

    def invertible_module(self) -> NICECoupling | None:
        return self.invertible

    def begin_forward(self) -> None:
        pass

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ---------------------------------------------------------------------------- where adapters go
BLOCK_LISTS = ("encoder.layer", "transformer.layer", "encoder.layers")
OUTPUT_NORMS = ("output.LayerNorm", "output_layer_norm")


def _get(module: nn.Module, dotted: str) -> Any:
    for part in dotted.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def body_of(root: nn.Module) -> nn.Module:
    prefix = getattr(root, "base_model_prefix", "")
    return getattr(root, prefix, root) if prefix else root


@dataclass
class AdapterSites:
    """The modules an adapter hooks into in one model."""

    body: nn.Module
    layer_norms: list[nn.Module]  # the output LayerNorm of each block (input = f + x)
    embeddings: nn.Module
    hidden_size: int
    inverse_pre: nn.Module | None = None  # MLM output layer: inverse NICE on its input
    inverse_post: nn.Module | None = None  # or: inverse NICE on this module's output (DeBERTa-v2 head)


def find_sites(root: nn.Module) -> AdapterSites:
    """Locate the blocks' output LayerNorms, the embeddings and (for MLM models) the output layer."""
    body = body_of(root)
    blocks = next((b for b in (_get(body, path) for path in BLOCK_LISTS) if isinstance(b, nn.ModuleList)), None)
    model_type = getattr(getattr(body, "config", None), "model_type", type(body).__name__)
    if blocks is None or len(blocks) == 0:
        raise ConfigError(f"model type {model_type!r}: no encoder blocks found for adapters "
                          f"(looked for {', '.join(BLOCK_LISTS)})")
    norms = []
    for index, block in enumerate(blocks):
        norm = next((n for n in (_get(block, path) for path in OUTPUT_NORMS) if isinstance(n, nn.Module)), None)
        if norm is None:
            raise ConfigError(f"model type {model_type!r}: block {index} has no feed-forward output LayerNorm "
                              f"(looked for {', '.join(OUTPUT_NORMS)})")
        norms.append(norm)
    embeddings = getattr(body, "embeddings", None)
    if embeddings is None:
        raise ConfigError(f"model type {model_type!r}: no embeddings module")
    config = getattr(body, "config", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
    sites = AdapterSites(body, norms, embeddings, int(hidden))
    deberta_head = _get(root, "lm_predictions.lm_head.LayerNorm")
    if isinstance(deberta_head, nn.Module):  # DeBERTa-v2 (non-legacy): the decoder is a matmul, not a module
        sites.inverse_post = deberta_head
    elif hasattr(root, "get_output_embeddings") and root is not body:
        sites.inverse_pre = root.get_output_embeddings()
    return sites


# ---------------------------------------------------------------------------- the host
class AdapterHost:
    """Owns the hooks of one model and the ordered stack of active adapters."""

    def __init__(self, sites: AdapterSites):
        self.sites = sites
        self.stack: list[AdapterLike] = []
        self._handles: list[Any] = []

    @classmethod
    def of(cls, root: nn.Module) -> AdapterHost:
        """The model's host (created on first use; kept on the body, outside its parameters)."""
        sites = find_sites(root)
        host = sites.body.__dict__.get(HOST_ATTRIBUTE)
        if host is None:
            host = cls(sites)
            sites.body.__dict__[HOST_ATTRIBUTE] = host
        elif host.sites.inverse_pre is None and host.sites.inverse_post is None and (
                sites.inverse_pre is not None or sites.inverse_post is not None):
            host.sites = sites  # now seen through an MLM root: also invert before the output layer
            if host._handles:
                host._uninstall()
                host._install()
        return host

    # ----------------------------------------------------------------- stack
    def add(self, adapter: AdapterLike) -> None:
        if any(a is adapter for a in self.stack):
            raise ArtifactError("this adapter is already attached to the model")
        layers = adapter.adapted_layers()
        if layers and max(layers) >= len(self.sites.layer_norms):
            raise ArtifactError(f"adapter has layer {max(layers)}, the model has {len(self.sites.layer_norms)} layers")
        hidden = getattr(getattr(adapter, "shape", None), "hidden_size", self.sites.hidden_size)
        if hidden != self.sites.hidden_size:
            raise ArtifactError(f"adapter hidden size {hidden} != model hidden size {self.sites.hidden_size}")
        position = len([a for a in self.stack if a.level <= adapter.level])
        self.stack.insert(position, adapter)
        if not self._handles:
            self._install()

    def remove(self, adapter: AdapterLike) -> None:
        self.stack = [a for a in self.stack if a is not adapter]
        if not self.stack:
            self._uninstall()

    @property
    def active(self) -> list[AdapterLike]:
        return list(self.stack)

    # ----------------------------------------------------------------- hooks
    def _install(self) -> None:
        sites = self.sites
        self._handles.append(sites.embeddings.register_forward_pre_hook(self._begin_forward))
        self._handles.append(sites.embeddings.register_forward_hook(self._embedding_hook))
        for index, norm in enumerate(sites.layer_norms):
            self._handles.append(norm.register_forward_hook(self._layer_hook(index)))
        if sites.inverse_pre is not None:
            self._handles.append(sites.inverse_pre.register_forward_pre_hook(self._inverse_pre_hook))
        if sites.inverse_post is not None:
            self._handles.append(sites.inverse_post.register_forward_hook(self._inverse_post_hook))

    def _uninstall(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _invertible(self) -> NICECoupling | None:
        for adapter in self.stack:
            module = adapter.invertible_module()
            if module is not None:
                return module
        return None

    def _begin_forward(self, module: nn.Module, args: Any) -> None:
        for adapter in self.stack:
            adapter.begin_forward()

    def _embedding_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
        invertible = self._invertible()
        return invertible(output) if invertible is not None else None

    def _inverse_pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        invertible = self._invertible()
        if invertible is None:
            return None
        return (invertible(args[0], rev=True), *args[1:])

    def _inverse_post_hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
        invertible = self._invertible()
        return invertible(output, rev=True) if invertible is not None else None

    def _layer_hook(self, index: int) -> Callable:
        def hook(norm: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
            adapters = [a for a in self.stack if index in a.adapted_layers()]
            if not adapters:
                return None
            s = args[0]
            for adapter in adapters:  # s_k = s_(k-1) + A_k(LN(s_(k-1))); output LN(s_K)
                s = s + adapter.layer_delta(index, output)
                output = norm.forward(s)
            return output

        return hook


class AttachedAdapter:
    """Handle of an attached adapter; ``remove()`` detaches it (and unregisters its parameters)."""

    def __init__(self, host: AdapterHost, adapter: AdapterLike, owner: nn.Module | None, name: str | None):
        self.host, self.adapter, self.owner, self.name = host, adapter, owner, name

    def remove(self) -> None:
        self.host.remove(self.adapter)
        if self.owner is not None and self.name is not None and self.name in self.owner._modules:
            delattr(self.owner, self.name)
        self.owner = None


def attach_adapter(root: nn.Module, adapter: AdapterLike, owner: nn.Module | None = None,
                   name: str | None = None) -> AttachedAdapter:
    """Insert ``adapter`` into the model ``root`` (a transformers model, MLM or encoder). If ``owner``
    is given the adapter is registered there as submodule ``name`` (so optimisers, device moves and
    checkpoints see it); the adapter is moved to the model's device."""
    host = AdapterHost.of(root)
    if isinstance(adapter, nn.Module):
        parameter = next(host.sites.body.parameters(), None)
        if parameter is not None:
            adapter.to(parameter.device)
    if owner is not None:
        if name is None or name in owner._modules:
            raise ArtifactError(f"cannot register the adapter as {name!r}: name missing or taken")
        owner.add_module(name, adapter)  # type: ignore[arg-type]
    host.add(adapter)
    return AttachedAdapter(host, adapter, owner, name)


def active_adapters(root: nn.Module) -> list[AdapterLike]:
    """The adapters currently active in a model, bottom of the stack first."""
    host = body_of(root).__dict__.get(HOST_ATTRIBUTE)
    return host.active if host is not None else []


# ---------------------------------------------------------------------------- files
def _atomic_write(directory: Path, name: str, write: Callable[[str], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, directory / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_adapter(directory: str | Path, adapter: PfeifferAdapter, extra: Mapping[str, torch.Tensor] | None = None,
                 meta: Mapping[str, Any] | None = None) -> None:
    """Write ``adapter.safetensors`` (adapter tensors under ``adapter.``, ``extra`` tensors, e.g. a task
    head, under their own names) and ``adapter_config.json`` (shape, level, ``meta``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"adapter.{k}": v.detach().cpu().contiguous() for k, v in adapter.state_dict().items()}
    for key, value in (extra or {}).items():
        if key.startswith("adapter."):
            raise ArtifactError(f"extra tensor name {key!r} clashes with the adapter's")
        tensors[key] = value.detach().cpu().contiguous()
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "shape": adapter.shape.to_json(),
              "level": adapter.level, **(meta or {})}
    _atomic_write(directory, WEIGHTS_FILE, lambda tmp: save_file(tensors, tmp))
    _atomic_write(directory, CONFIG_FILE, lambda tmp: Path(tmp).write_text(json.dumps(config, indent=2) + "\n"))


def load_adapter(directory: str | Path) -> tuple[PfeifferAdapter, dict[str, torch.Tensor], dict[str, Any]]:
    """(adapter, extra tensors, config) from a directory written by :func:`save_adapter`."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ArtifactError(f"{directory}: not an adapter ({CONFIG_FILE} and {WEIGHTS_FILE} expected)")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{config_path}:{error.lineno}: invalid JSON ({error.msg})") from None
    if config.get("format") != FORMAT or int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise ArtifactError(f"{config_path}: unsupported adapter format {config.get('format')!r} "
                            f"v{config.get('format_version')}")
    try:
        with safe_open(str(weights_path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises several types for corrupt files
        raise ArtifactError(f"{weights_path}: not a readable safetensors file ({error})") from None
    shape = AdapterShape.from_json(config["shape"])
    adapter = PfeifferAdapter(shape, level=int(config.get("level", LANGUAGE)))
    state = {k[len("adapter."):]: v for k, v in tensors.items() if k.startswith("adapter.")}
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ArtifactError(f"{weights_path}: tensors do not fit the adapter shape ({str(error).splitlines()[0]})") \
            from None
    extra = {k: v for k, v in tensors.items() if not k.startswith("adapter.")}
    return adapter, extra, config


# ---------------------------------------------------------------------------- AdapterHub import
_HUB_LAYER = re.compile(r"(?:^|\.)layer\.(\d+)\.output\.adapters\.([^.]+)\.adapter_(down\.0|up)\.(weight|bias)$")
_HUB_INV = re.compile(r"(?:^|\.)invertible_adapters\.([^.]+)\.([FG])\.([02])\.(weight|bias)$")
PFEIFFER_REQUIREMENTS = {"mh_adapter": False, "output_adapter": True, "original_ln_before": True,
                         "original_ln_after": True, "residual_before_ln": True, "ln_before": False,
                         "ln_after": False, "adapter_residual_before_ln": False, "use_gating": False,
                         "is_parallel": False, "phm_layer": False, "scaling": 1.0}


def _read_hub_weights(directory: Path) -> dict[str, torch.Tensor]:
    """A downloaded adapter's tensors: a pickle is read without running code from it (tensors only)."""
    for name in ("pytorch_adapter.bin", "adapter_model.bin"):
        if (directory / name).is_file():
            weights = load_untrusted_torch(directory / name, what="AdapterHub weights file")
            if not isinstance(weights, dict) or not all(
                    isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
                raise ArtifactError(f"{directory / name}: not AdapterHub weights (a dict of named tensors expected)")
            return weights
    for path in sorted(directory.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                return {key: handle.get_tensor(key) for key in handle.keys()}
        except Exception as error:  # safetensors raises several types for corrupt files
            raise ArtifactError(f"{path}: not a readable safetensors file ({error})") from None
    raise ArtifactError(f"{directory}: no AdapterHub weights (pytorch_adapter.bin or *.safetensors)")


def load_adapterhub(directory: str | Path, level: int = LANGUAGE, num_layers: int | None = None) -> PfeifferAdapter:
    """Import an AdapterHub adapter saved with ``save_adapter`` (``adapter_config.json`` +
    ``pytorch_adapter.bin``) in the Pfeiffer configuration, with or without its NICE invertible
    adapter (``PfeifferInvConfig``). Other configurations (Houlsby, parallel, gating, ...) are refused."""
    directory = Path(directory)
    config_path = directory / "adapter_config.json"
    if not config_path.is_file():
        raise ArtifactError(f"{directory}: no adapter_config.json (not an AdapterHub adapter)")
    try:
        saved = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{config_path}:{error.lineno}: invalid JSON ({error.msg})") from None
    config = saved.get("config", saved)
    for key, required in PFEIFFER_REQUIREMENTS.items():
        if key in config and config[key] != required and not (key == "scaling" and config[key] in (1, 1.0)):
            raise ArtifactError(f"{config_path}: {key}={config[key]!r} is not the Pfeiffer configuration "
                                f"({key}={required!r} required)")
    inv_kind = config.get("inv_adapter")
    if inv_kind not in (None, "nice"):
        raise ArtifactError(f"{config_path}: inv_adapter={inv_kind!r} unsupported (only nice)")
    layer_tensors: dict[int, dict[str, torch.Tensor]] = {}
    inverse: dict[str, torch.Tensor] = {}
    unknown = []
    for key, tensor in _read_hub_weights(directory).items():
        if match := _HUB_LAYER.search(key):
            part = "down" if match.group(3) == "down.0" else "up"
            layer_tensors.setdefault(int(match.group(1)), {})[f"{part}.{match.group(4)}"] = tensor
        elif match := _HUB_INV.search(key):
            inverse[f"{match.group(2)}.{match.group(3)}.{match.group(4)}"] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise ArtifactError(f"{directory}: unsupported AdapterHub tensors, e.g. {unknown[0]!r} "
                            "(only Pfeiffer output adapters and NICE invertible adapters are supported)")
    if not layer_tensors:
        raise ArtifactError(f"{directory}: no adapter layers found")
    first = layer_tensors[min(layer_tensors)]
    bottleneck, hidden = first["down.weight"].shape
    if any(t["down.weight"].shape != (bottleneck, hidden) for t in layer_tensors.values()):
        raise ArtifactError(f"{directory}: layers have different bottleneck sizes (unsupported)")
    inv_rf = 2.0
    if inverse:
        inner = inverse["F.0.weight"].shape[0]
        inv_rf = (hidden - hidden // 2) / inner
    shape = AdapterShape(int(hidden), int(bottleneck), tuple(sorted(layer_tensors)), invertible=bool(inverse),
                         inv_reduction_factor=float(config.get("inv_adapter_reduction_factor", inv_rf)),
                         non_linearity=str(config.get("non_linearity", "relu")).lower(),
                         bias="down.bias" in first)
    if num_layers is not None and max(shape.layers) >= num_layers:
        raise ArtifactError(f"{directory}: adapter has layer {max(shape.layers)}, the model {num_layers} layers")
    adapter = PfeifferAdapter(shape, level=level)
    state = {f"layers.{i}.{k}": v for i, tensors in layer_tensors.items() for k, v in tensors.items()}
    state.update({f"invertible.{k}": v for k, v in inverse.items()})
    try:
        adapter.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ArtifactError(f"{directory}: tensors do not fit a Pfeiffer adapter ({str(error).splitlines()[0]})") \
            from None
    return adapter


__all__ = ["AdapterHost", "AdapterShape", "AttachedAdapter", "BottleneckAdapter", "NICECoupling", "PfeifferAdapter",
           "active_adapters", "attach_adapter", "find_sites", "load_adapter", "load_adapterhub", "save_adapter",
           "LANGUAGE", "TASK"]
