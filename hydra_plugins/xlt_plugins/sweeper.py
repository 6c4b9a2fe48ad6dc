"""``hydra/sweeper=zip`` (implementation: xlt.cluster.sweeper)."""

from xlt.cluster import sweeper


class ZipSweeper(sweeper.ZipSweeper):
    """Cartesian product of the swept keys, with paired (zipped) groups of keys."""
