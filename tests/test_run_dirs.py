"""Run and sweep directories are unique per launch (issue 10, item 21): two runs started in the same
second used to share ``outputs/DATE/H-M-S`` and overwrite each other's results.json and run.json."""

from __future__ import annotations

import re

from hydra import compose, initialize_config_dir
from hydra.core.utils import setup_globals

from tests.helpers import CONF, start_launch

DIRECTORY = re.compile(r"^  (run|sweep):\n    dir: (\S+)$", re.M)
PATTERN = re.compile(r"^(outputs|multirun)/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d_\d+-[0-9a-f]{4}$")


def test_two_launches_started_together_get_their_own_run_and_sweep_directories(cache_dir):
    launches = [start_launch(["+experiment=ltsft_americasnli", "--cfg", "hydra", "--resolve"], cache_dir)
                for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0] for process in launches]
    assert all(process.returncode == 0 for process in launches), outputs
    directories = [dict(DIRECTORY.findall(output)) for output in outputs]
    for found in directories:
        assert set(found) == {"run", "sweep"} and all(PATTERN.match(d) for d in found.values()), found
        assert found["run"].split("/", 1)[1] == found["sweep"].split("/", 1)[1]  # one id per launch
    assert directories[0]["run"] != directories[1]["run"]
    assert directories[0]["sweep"] != directories[1]["sweep"]


def test_composing_twice_in_one_process_gives_two_directories():
    """Same process, same second: the random part of the id still tells the runs apart."""
    setup_globals()  # Hydra's ${now:} resolver, as launch.py has it
    with initialize_config_dir(str(CONF), version_base="1.3"):
        first, second = (compose("config", return_hydra_config=True).hydra for _ in range(2))
    assert first.run.dir != second.run.dir and first.sweep.dir != second.sweep.dir
