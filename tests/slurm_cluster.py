"""A real single-node SLURM for the tests: Debian's slurm-wlm, munge and slurmdbd (+ MariaDB, so that
``sacct`` and submitit's job states work), installed with apt where missing, configured for
localhost in a temp dir with private ports and sockets (no clash with a system cluster), and
stopped again by pid. Needs root (and apt, if anything is missing).

Recipe: shared/notes/slurm-single-node.md. By hand::

    python -m tests.slurm_cluster /tmp/slurm    # start; prints `export SLURM_CONF=...`; Ctrl-C stops
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUMMARY: list[str] = []  # lines for the end of the pytest run (job ids), printed by tests/conftest.py
PACKAGES = {  # binary -> Debian package
    "slurmctld": "slurm-wlm", "slurmd": "slurm-wlm", "sbatch": "slurm-client", "munged": "munge",
    "slurmdbd": "slurmdbd", "mariadbd": "mariadb-server",
}


def unavailable_reason() -> str | None:
    """Why a real SLURM cannot be started here (None: it can)."""
    if os.environ.get("XLT_SKIP_SLURM"):
        return "XLT_SKIP_SLURM is set"
    if not sys.platform.startswith("linux"):
        return f"a single-node SLURM needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "starting SLURM daemons needs root (run the tests as root, or set XLT_SKIP_SLURM=1)"
    missing = missing_packages()
    if missing and shutil.which("apt-get") is None:
        return f"SLURM is not installed ({', '.join(missing)} missing) and apt-get is unavailable"
    return None


def missing_packages() -> list[str]:
    """The Debian packages to install: by dpkg's records where there is dpkg, else by binaries."""
    packages = sorted(set(PACKAGES.values()))
    if shutil.which("dpkg-query") is None:
        return sorted({PACKAGES[binary] for binary in PACKAGES if shutil.which(binary) is None})
    missing = []
    for package in packages:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if status.returncode != 0 or "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def install() -> list[str]:
    """apt-get install whatever is missing; returns the packages installed."""
    packages = missing_packages()
    if packages:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "slurm-wlm", *packages],
                       check=True, env=env, capture_output=True, timeout=900)
    return packages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _wait(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"timed out waiting for {what}\n{tail}")


class SingleNodeSlurm:
    """munged, mariadbd, slurmdbd, slurmctld and slurmd for this host, all under ``root``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="xlt-slurm-"))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # munged runs as the munge user
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.munge_dir = self.root / "munge"
        self.munge_socket = self.munge_dir / "munge.socket"
        self.processes: dict[str, int] = {}  # daemon -> pid, in start order
        self._foreground: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def _run_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # ------------------------------------------------------------------ start
    def start(self) -> SingleNodeSlurm:
        try:
            self._start_munge()
            self._start_database()
            self._write_slurm_conf()
            self._start_slurmdbd()
            self._start_slurmctld()
            self._start_slurmd()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_munge(self) -> None:
        self.munge_dir.mkdir(exist_ok=True)
        key = self.munge_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        subprocess.run(["chown", "-R", "munge:munge", str(self.munge_dir)], check=True)
        os.chmod(self.munge_dir, 0o755)
        pid_file = self.munge_dir / "munged.pid"
        command = (f"/usr/sbin/munged --socket={self.munge_socket} --key-file={key} --pid-file={pid_file} "
                   f"--log-file={self.munge_dir / 'munged.log'} --seed-file={self.munge_dir / 'munged.seed'}")
        subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", command], check=True, capture_output=True, timeout=30)
        _wait(lambda: _pid(pid_file), 10, "munged", self.munge_dir / "munged.log")
        self.processes["munged"] = _pid(pid_file)
        check = subprocess.run(f"munge -n -S {self.munge_socket} | unmunge -S {self.munge_socket}", shell=True,
                               capture_output=True, text=True, timeout=10)
        if "Success" not in check.stdout:
            raise RuntimeError(f"munge does not work: {check.stdout}{check.stderr}")

    def _start_database(self) -> None:
        self.db_dir = self.root / "mysql"
        self.db_socket = self.root / "mysqld.sock"
        self.db_port = free_port()
        subprocess.run(["mariadb-install-db", f"--datadir={self.db_dir}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        log = self.root / "mariadb.log"
        self._foreground["mariadbd"] = process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.db_dir}", f"--socket={self.db_socket}",
             f"--port={self.db_port}", "--bind-address=127.0.0.1", "--user=root", "--skip-grant-tables",
             f"--pid-file={self.root / 'mariadbd.pid'}", f"--log-error={log}", "--innodb-buffer-pool-size=32M"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes["mariadbd"] = process.pid
        _wait(self.db_socket.exists, 60, "mariadbd", log)

    def _write_slurm_conf(self) -> None:
        for name in ("state", "spool", "log"):
            (self.root / name).mkdir(exist_ok=True)
        self.dbd_port, self.ctld_port, self.slurmd_port = free_port(), free_port(), free_port()
        memory = int(0.9 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
        cpus = os.cpu_count() or 1
        self.conf.write_text(f"""\
ClusterName=xlttest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={self.ctld_port}
SlurmdPort={self.slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
CredType=cred/munge
StateSaveLocation={self.root / 'state'}
SlurmdSpoolDir={self.root / 'spool'}
SlurmctldPidFile={self.root / 'slurmctld.pid'}
SlurmdPidFile={self.root / 'slurmd.pid'}
SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}
SlurmdLogFile={self.root / 'log' / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.dbd_port}
AccountingStoragePass={self.munge_socket}
MinJobAge=600
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        dbd_conf = self.root / "slurmdbd.conf"
        dbd_conf.write_text(f"""\
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort={self.dbd_port}
SlurmUser=root
PidFile={self.root / 'slurmdbd.pid'}
LogFile={self.root / 'log' / 'slurmdbd.log'}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.db_port}
StorageUser=root
StoragePass=unused
StorageLoc=slurm_acct_db
""")
        os.chmod(dbd_conf, 0o600)

    def _start_slurmdbd(self) -> None:
        log = self.root / "log" / "slurmdbd.log"
        self._foreground["slurmdbd"] = process = subprocess.Popen(
            ["slurmdbd", "-D"], env=self._run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.processes["slurmdbd"] = process.pid

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.dbd_port)) == 0

        _wait(listening, 60, "slurmdbd", log)

    def _start_slurmctld(self) -> None:
        subprocess.run(["slurmctld", "-f", str(self.conf)], check=True, env=self._run_env(), timeout=60)
        _wait(lambda: _pid(self.root / "slurmctld.pid"), 30, "slurmctld", self.root / "log" / "slurmctld.log")
        self.processes["slurmctld"] = _pid(self.root / "slurmctld.pid")

    def _start_slurmd(self) -> None:
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=self._run_env(), timeout=60)
        _wait(lambda: _pid(self.root / "slurmd.pid"), 30, "slurmd", self.root / "log" / "slurmd.log")
        self.processes["slurmd"] = _pid(self.root / "slurmd.pid")

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self._run_env(), capture_output=True, text=True)
            return out.stdout.strip() in ("idle", "mix")

        _wait(idle, 60, "the node to become idle", self.root / "log" / "slurmd.log")

    # ------------------------------------------------------------------ use
    def run(self, *command: str, timeout: float = 60) -> str:
        return subprocess.run(list(command), env=self._run_env(), check=True, capture_output=True, text=True,
                              timeout=timeout).stdout

    # ------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Cancel this cluster's jobs, then stop every daemon this object started (by pid, in reverse order)."""
        if "slurmctld" in self.processes:
            try:
                jobs = self.run("squeue", "-h", "-o", "%i", timeout=20).split()
                if jobs:
                    self.run("scancel", "--full", *jobs, timeout=20)
                    _wait(lambda: not self.run("squeue", "-h", "-o", "%i", timeout=20).split(), 30, "jobs to end")
            except (subprocess.SubprocessError, RuntimeError):
                pass  # stop the daemons anyway
        for name, pid in reversed(list(self.processes.items())):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _alive(pid):
                if name in self._foreground:
                    self._foreground[name].poll()
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.processes.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child is dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    reason = unavailable_reason()
    if reason:
        sys.exit(f"cannot start SLURM: {reason}")
    print("installed:", install() or "nothing (already there)")
    cluster = SingleNodeSlurm(sys.argv[1] if len(sys.argv) > 1 else None).start()
    print(f"export SLURM_CONF={cluster.conf}\n(Ctrl-C stops the daemons)")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
