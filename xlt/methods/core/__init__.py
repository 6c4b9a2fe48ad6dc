"""What the PEFT families share: the SFT format and its pipeline module (``sft.py``), exact global
top-K selection in bounded memory (``selection.py``), masked training (``masking.py``) and NF4
quantisation of base weights (``quantization.py``). Pure PyTorch, no Lightning."""
