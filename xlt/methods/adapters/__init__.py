"""Bottleneck adapters and MAD-X (thesis §2.2.1 eq. 2.8, §2.3.4): Pfeiffer adapters after each block's
FFN, NICE invertible adapters on the embeddings for language adapters, a task adapter stacked on the
language adapter; MAD-X 2.0 leaves the last layer out.

- ``bottleneck.py``: the adapters and their model-agnostic insertion, AdapterHub import (pure PyTorch)
- ``config.py``: ``AdapterModuleConfig``; ``artifact.py``: ``AdapterModule`` (save, attach, remove)
- ``procedure.py``: ``train_adapter`` (language adapters by MLM, task adapters with the head)
"""

from xlt.methods import register_method
from xlt.methods.adapters.config import AdapterModuleConfig

register_method("adapter", AdapterModuleConfig, "xlt.methods.adapters.procedure:train_adapter",
                "xlt.methods.adapters.artifact:load_adapter_module")
