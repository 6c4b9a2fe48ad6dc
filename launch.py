"""Entry point: ``python launch.py +experiment=ltsft_americasnli [+profile=smoke] [overrides]``."""

from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from xlt.errors import XltError
    from xlt.pipeline.run import run_experiment

    try:
        results = run_experiment(cfg, HydraConfig.get().runtime.output_dir)
    except XltError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    metric = results.get("metric")
    return results.get("average", {}).get(metric) if metric else None


if __name__ == "__main__":
    main()
