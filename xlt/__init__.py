"""xlt: composable, efficient cross-lingual transfer and parameter-efficient fine-tuning.

Reproduces the pipelines of Ansell (2024), "Efficient and Composable Adaptation for
Cross-Lingual Transfer", from composable Hydra configs.
"""

__version__ = "0.1.0"
