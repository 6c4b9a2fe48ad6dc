"""Entry point: ``python launch.py +experiment=ltsft_americasnli [+profile=smoke] [overrides]``."""

from __future__ import annotations

import sys
import warnings

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

# conf/hydra/launcher/submitit_*.yaml are validated against the submitit plugin's schema of the same name
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    from xlt.errors import XltError
    from xlt.pipeline.run import run_experiment
    from xlt.report import write_job_error

    hydra_cfg = HydraConfig.get()
    try:
        results = run_experiment(cfg, hydra_cfg.runtime.output_dir, overrides=list(hydra_cfg.overrides.task))
    except XltError as error:
        print(f"error: {error}", file=sys.stderr)
        write_job_error(hydra_cfg.runtime.output_dir, error)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweep goes on with its other jobs; the report lists this one as failed
        sys.exit(2)
    metric = results.get("metric")
    return results.get("average", {}).get(metric) if metric else None


if __name__ == "__main__":
    main()
