"""Which language modules a zero-shot transfer uses: in task-module training and at inference
(``recipe.protocol`` of the ``zero_shot`` and ``madg`` recipes).

The thesis's "TA-only" differs between chapters, so it is two protocols here:

- §3.4.2 (MAD-G, MAD-X; Tables 3.2-3.4, A.3-A.4): "TA-only trains the task adapter directly on top of the
  MMT, i.e., without any language adapter" - ``ta_only``: no language module anywhere (the plan has no
  language-module stage; MAD-G's not even the generator).
- §4.4.1 (LT-SFT, MAD-X 2.0; Table 4.2): "only the task module is applied, without the target language
  module", and "during task adaptation, we always apply the source language adapter [...] or source
  language SFT" (§4.4.3) - ``ta_only_at_inference``: the task module of ``target`` (the same artifact,
  trained on base + source language module), evaluated on base + task module alone.
"""

from __future__ import annotations

from typing import Any

from xlt.errors import ConfigError

PROTOCOLS: dict[str, str] = {
    "target": "task module trained on base + source language module(s); each target evaluated with base + task "
              "module + its own language module (§4.3.2 Algorithm 1, MAD-X §2.3.4, MAD-G §3.3.3)",
    "source": "task module trained on base + source language module(s); each target evaluated with the source "
              "language's module (MAD-G-en, §3.4.2; multi-source: the first source's)",
    "ta_only": "no language module in training or inference: task module trained on the base model alone "
               "(TA-only of §3.4.2)",
    "ta_only_at_inference": "task module trained on base + source language module(s) as in target, evaluated "
                            "with no language module (TA-only of §4.4.1, §4.4.3)",
}


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise ConfigError(f"recipe.protocol={name!r}: expected one of {', '.join(PROTOCOLS)}")
    return name


def trains_with_source_modules(protocol: str) -> bool:
    """Whether the task module trains on base + the source language module(s)."""
    return protocol != "ta_only"


def inference_language(protocol: str, target: str, source: str) -> str | None:
    """The language whose module a target is evaluated with (None: no language module)."""
    return {"target": target, "source": source}.get(protocol)


def protocol_record(protocol: str, training: dict[str, str | None], inference: dict[str, str | None]
                    ) -> dict[str, Any]:
    """``results.json``'s ``protocol``: the protocol that ran and, per source (``training``) and per target
    (``inference``), whose language module was active (null: none). A plan that used no language module
    at all (``lang_module=none``, or no language has one) ran ``ta_only`` whatever was configured."""
    ran = protocol if any(training.values()) or any(inference.values()) else "ta_only"
    return {"name": ran, "configured": protocol, "description": PROTOCOLS[ran], "training": training,
            "inference": inference}
