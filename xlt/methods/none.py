"""``method: none``: no module (zero-shot: the plan of ``recipe.protocol=ta_only``, §3.4.2)."""

from __future__ import annotations

from dataclasses import dataclass

from xlt.methods import register_method


@dataclass
class NoModuleConfig:
    """No language module: nothing is trained or applied."""

    method: str = "none"


register_method("none", NoModuleConfig)
