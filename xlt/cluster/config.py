"""The ``cluster`` config group: where and with what resources sweep jobs run on SLURM.

Site settings (partition, account, qos, setup lines) go in the git-ignored
``conf/cluster/local.yaml`` (merged over ``conf/cluster/default.yaml``); experiments set the
resources they need (GPUs, CPUs, memory, time); the command line overrides both. The
``hydra/launcher=submitit_slurm`` config reads every value from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlt.config import parse
from xlt.errors import ConfigError


@dataclass
class ClusterConfig:
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None  # e.g. a GPU type: "a100"
    exclude: str | None = None  # nodes to avoid
    gpus_per_node: int | None = 1  # null: no GPU request (CPU jobs)
    cpus_per_task: int | None = 8
    mem_gb: int | None = 32
    timeout_min: int = 1440  # the job's time limit; longer stages resume in a requeued job
    setup: list[str] = field(default_factory=list)  # shell lines run before the job (module load, venv, ...)
    array_parallelism: int = 64  # jobs of a sweep running at once
    max_num_timeout: int = 3  # how often a job that hits its time limit is requeued (preemptions: always)
    signal_delay_s: int = 120  # the preemption signal comes this long before the time limit
    additional_parameters: dict[str, Any] = field(default_factory=dict)  # any other sbatch flag
    dry_run: bool = False  # print the sbatch script and each job's overrides instead of submitting

    def __post_init__(self) -> None:
        if self.gpus_per_node is not None and self.gpus_per_node < 0:
            raise ConfigError(f"cluster.gpus_per_node={self.gpus_per_node}: must be >= 0 (or null)")
        for name in ("cpus_per_task", "mem_gb"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"cluster.{name}={value}: must be >= 1 (or null)")
        if self.timeout_min < 1:
            raise ConfigError(f"cluster.timeout_min={self.timeout_min}: must be >= 1")
        if self.array_parallelism < 1:
            raise ConfigError(f"cluster.array_parallelism={self.array_parallelism}: must be >= 1")
        if self.max_num_timeout < 0:
            raise ConfigError(f"cluster.max_num_timeout={self.max_num_timeout}: must be >= 0")
        if not isinstance(self.setup, list) or not all(isinstance(line, str) for line in self.setup):
            raise ConfigError("cluster.setup: expected a list of shell lines")


def parse_cluster_config(node: Any) -> ClusterConfig:
    return parse(ClusterConfig, node, "cluster")
