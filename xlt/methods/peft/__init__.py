"""The peft baselines of chapter 7 (§7.4.2): LoRA and (IA)^3 through the ``peft`` library, and qLoRA on NF4
base weights. ``wrappers.py``: attaching, saving, merging and composing (the LoRA sum of §7.5.1);
``config.py``: ``PeftMethodConfig``; ``procedure.py``: ``train_peft``."""

from xlt.methods import register_method
from xlt.methods.peft.config import PeftMethodConfig

for _name in ("lora", "ia3"):  # version 2: a new task head is trained and saved beside the adapter
    register_method(_name, PeftMethodConfig, "xlt.methods.peft.procedure:train_peft",
                    "xlt.methods.peft.procedure:load_peft_module", version=2)
