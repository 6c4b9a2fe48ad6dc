"""SpIEL (thesis chapter 7, §7.3): sparse fine-tuning of LLMs with iterative drop/grow of the trained
entries, SpIEL-AG (accumulated gradients) and SpIEL-MA (SM3 momentum approximation), and qSpIEL on NF4
base weights.

- ``sparse_linear.py``: ``SpielLinear`` (W + scatter(eta, phi), the E.4 sparse backward), attach/remove
- ``selection.py``: AG and MA drop/grow, the update schedule (plain hooks)
- ``optim.py``: ``SpielAdamW`` (per-entry ages) and ``SparseSM3``
- ``config.py``: ``SpielConfig``; ``procedure.py``: ``train_spiel``; ``callbacks.py``: ``SpielCallback``
"""

from xlt.methods import register_method
from xlt.methods.spiel.config import SpielConfig

for _name in ("spiel_ag", "spiel_ma"):  # 2: initial indices drawn per stage; 3: a new task head trains + saves
    register_method(_name, SpielConfig, "xlt.methods.spiel.procedure:train_spiel",
                    "xlt.methods.spiel.procedure:load_spiel_module", version=3)
