"""The sparse family: Lottery-Ticket Sparse Fine-Tuning (``ltsft``, thesis §4.3, Algorithm 1), its
rand-SFT ablation (§4.4.1), BitFit (§4.4.1) and full fine-tuning, all stored as SFTs.

- ``ltsft.py``, ``rand_sft.py``, ``bitfit.py``: the selections (pure PyTorch)
- ``config.py``: ``SparseModuleConfig`` and the budget rule
- ``procedure.py``: the training procedure (``train_sparse``), on the Fitter
- ``callbacks.py``: masked updates and the L1 pull towards theta0 (Lightning)

The config option ``ltsft`` (conf/*_module/ltsft.yaml) selects ``method: ltsft``.
"""

from xlt.methods import register_method
from xlt.methods.sparse.config import SparseModuleConfig

PROCEDURE = "xlt.methods.sparse.procedure:train_sparse"
LOADER = "xlt.methods.core.sft:load_sft_module"

for _name in ("ltsft", "bitfit", "full"):
    register_method(_name, SparseModuleConfig, PROCEDURE, LOADER)
register_method("rand_sft", SparseModuleConfig, PROCEDURE, LOADER, version=2)  # 2: stage-seeded masks
