"""MAD-G (thesis chapter 3): a generator of language adapters from URIEL typology vectors (§3.3),
trained by multilingual MLM (§3.4.3); MAD-G-LS with layer embeddings (§3.3.2); MAD-G-ft fine-tuning of
generated adapters (§3.5.3).

- ``generator.py``: the generator (theta_l = W V t_l; per layer with MAD-G-LS), pure PyTorch
- ``config.py``: ``MadgConfig``; ``artifact.py``: the generator artifact and generation
- ``procedure.py``: generator training and adapter fine-tuning on the Fitter
The recipes and stages that use it: xlt/pipeline/recipes/madg.py, xlt/pipeline/stages/madg.py.
"""

from xlt.methods import register_method
from xlt.methods.madg.config import MadgConfig

# generated per language by the madg recipe's stages (not trained per language): no procedure
register_method("madg", MadgConfig, None, "xlt.methods.adapters.artifact:load_adapter_module")
