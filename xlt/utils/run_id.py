"""A short id unique to the process, for Hydra's run and sweep directories (``conf/config.yaml``).

``outputs/DATE/TIME`` alone is shared by two runs started in the same second, which then overwrite each
other's ``results.json`` and ``run.json``. ``${xlt.run_id:}`` adds the process id (unique on its host while
the process runs) and two random bytes (processes of different hosts on a shared file system). Like Hydra's
``now`` it is registered with ``use_cache=True``: one value per composed config, which Hydra copies into
every job of a sweep (and submitit pickles with the launcher), so a sweep's jobs share their sweep directory.
"""

from __future__ import annotations

import os
import secrets

from omegaconf import OmegaConf

RESOLVER = "xlt.run_id"


def run_id() -> str:
    """``<pid>-<4 hex digits>``."""
    return f"{os.getpid()}-{secrets.token_hex(2)}"


def register_run_id_resolver() -> None:
    OmegaConf.register_new_resolver(RESOLVER, run_id, use_cache=True, replace=True)
