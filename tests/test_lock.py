"""The test environment is the committed lock: a dependency that moved is seen by whoever moves the lock."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.utils import canonicalize_name

from tests.helpers import REPO


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_the_lock_pins_every_direct_dependency_except_torch():
    pins = locked_versions()
    requirements = metadata.requires("xlt") or []
    direct = {canonicalize_name(re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0]) for r in requirements
              if "extra ==" not in r or 'extra == "dev"' in r}
    assert direct - {"torch"} <= set(pins), sorted(direct - {"torch"} - set(pins))
    assert "torch" not in pins  # the build (CPU or CUDA) is chosen per machine by scripts/install_torch.sh


def test_installed_versions_are_the_locked_ones():
    drifted = {}
    for name, version in locked_versions().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # optional packages of the lock (platform-specific) need not be present
        if installed != version:
            drifted[name] = (installed, version)
    assert not drifted, f"installed != locked (reinstall: rm -rf .venv && make test): {drifted}"
