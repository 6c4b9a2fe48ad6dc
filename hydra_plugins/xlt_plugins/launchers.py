"""``hydra/launcher=submitit_slurm`` / ``submitit_local`` (implementation: xlt.cluster.launcher)."""

from xlt.cluster import launcher


class SlurmLauncher(launcher.SlurmLauncher):
    """SLURM through submitit: dry run, cluster validation, job ids, failed jobs do not stop the wait."""


class LocalLauncher(launcher.LocalLauncher):
    """Local processes through submitit (the SLURM job code path, without a scheduler)."""
