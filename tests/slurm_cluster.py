"""A real single-node SLURM cluster for the tests, started from this machine's binaries in a temporary folder.

``slurm_cluster`` (one per session) starts a private MariaDB, ``slurmdbd`` (so that ``sacct`` works:
submitit reads job states from it), ``slurmctld`` and ``slurmd`` on free localhost ports, with every
file under a temporary folder; clients and jobs find it through ``SLURM_CONF``. MUNGE is the system's
(started as the ``munge`` user if it is not running). What makes it work on a plain machine as root,
without systemd (SLURM 22.05): no cgroup plugins, ``select/cons_tres`` over the node's real CPUs,
``EnforcePartLimits=ALL`` (an impossible request is refused at submission), a short ``KillWait`` and
a short ``cred_expire`` (a requeued job starts again in seconds rather than two minutes). Daemons run
in the foreground as children of the fixture and are stopped by their PIDs at the end. Tests are
skipped, saying why, where the binaries are missing (CI installs Debian's packages).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BINARIES = ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "sacctmgr", "munged", "mariadbd")
CLUSTER = "attnlab"
PARTITION = "debug"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster: its config file (clients and jobs read ``SLURM_CONF``), folder and node."""

    conf: Path
    folder: Path
    node: str
    cpus: int
    partition: str = PARTITION

    @property
    def environment(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *command: str, check: bool = True) -> str:
        """A SLURM client command (``squeue``, ``scontrol``, ``sacct``…) against this cluster; its stdout."""
        done = subprocess.run(
            command, env=os.environ | self.environment, capture_output=True, text=True, timeout=60, check=False
        )
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"timed out waiting for {what}\n{tail}")


def _munge_works() -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True, timeout=10, check=False)
    if encoded.returncode:
        return False
    return subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, timeout=10).returncode == 0


def _start_munge() -> int | None:
    """The system's MUNGE, started (as ``munge``) when it is not running: its PID, or None if it was running."""
    if MUNGE_SOCKET.exists() and _munge_works():
        return None
    account = pwd.getpwnam("munge")
    for folder in (MUNGE_SOCKET.parent, Path("/var/log/munge"), Path("/var/lib/munge")):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, account.pw_uid, account.pw_gid)
    subprocess.run(["runuser", "-u", "munge", "--", _binary("munged")], check=True, timeout=30)
    _wait(_munge_works, "munged")
    return int(Path("/run/munge/munged.pid").read_text().strip())


def _start_mariadb(folder: Path) -> tuple[subprocess.Popen, int]:
    data, port = folder / "mysql", _free_port()
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    log = folder / "mariadb.log"
    server = subprocess.Popen(
        [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={folder / 'mysql.sock'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-grant-tables",
            "--innodb-flush-log-at-trx-commit=0",
            f"--log-error={log}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def accepting() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    _wait(accepting, "MariaDB", log)
    return server, port


def _write_configs(folder: Path, node: str, cpus: int, mysql_port: int) -> Path:
    ports = {name: _free_port() for name in ("ctld", "slurmd", "dbd")}
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    dbd = folder / "slurmdbd.conf"
    dbd.write_text(
        "\n".join(
            [
                "AuthType=auth/munge",
                "DbdHost=localhost",
                f"DbdPort={ports['dbd']}",
                "SlurmUser=root",
                "StorageType=accounting_storage/mysql",
                "StorageHost=127.0.0.1",
                f"StoragePort={mysql_port}",
                "StorageUser=root",
                "StorageLoc=slurm_acct_db",
                f"LogFile={folder / 'slurmdbd.log'}",
                f"PidFile={folder / 'slurmdbd.pid'}",
            ]
        )
        + "\n"
    )
    dbd.chmod(0o600)
    conf = folder / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                f"ClusterName={CLUSTER}",
                f"SlurmctldHost={node}(127.0.0.1)",
                f"SlurmctldPort={ports['ctld']}",
                f"SlurmdPort={ports['slurmd']}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "AuthInfo=cred_expire=5",
                "CredType=cred/munge",
                "MpiDefault=none",
                f"StateSaveLocation={folder / 'state'}",
                f"SlurmdSpoolDir={folder / 'spool'}",
                f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
                f"SlurmdPidFile={folder / 'slurmd.pid'}",
                f"SlurmctldLogFile={folder / 'slurmctld.log'}",
                f"SlurmdLogFile={folder / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "JobAcctGatherType=jobacct_gather/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "EnforcePartLimits=ALL",
                "KillWait=5",
                "MinJobAge=600",
                "ReturnToService=2",
                "SchedulerType=sched/backfill",
                "SchedulerParameters=bf_interval=1,sched_interval=2,sched_min_interval=100000",
                "AccountingStorageType=accounting_storage/slurmdbd",
                "AccountingStorageHost=localhost",
                f"AccountingStoragePort={ports['dbd']}",
                "JobCompType=jobcomp/none",
                f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN",
                f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
            ]
        )
        + "\n"
    )
    return conf


def _daemon(command: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen(command, env=os.environ | environment, stdout=output, stderr=subprocess.STDOUT)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for process in reversed(processes):
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cancel_all(cluster: SlurmCluster) -> None:
    """Cancels every job and waits for them to be gone, so that no job step outlives the daemons."""
    cluster.run("scancel", "--user=root", check=False)
    _wait(lambda: not cluster.run("squeue", "-h").strip(), "the jobs to end")


def _kill_stray_steps(conf: Path) -> None:
    """Kills, by PID, the job steps of this cluster still running (``slurmstepd`` outlives ``slurmd``; it
    carries the cluster's ``SLURM_CONF`` in its environment)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if not (entry / "cmdline").read_bytes().startswith(b"slurmstepd"):
                continue
            if f"SLURM_CONF={conf}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), 9)


@contextlib.contextmanager
def running_cluster(folder: Path) -> Iterator[SlurmCluster]:
    """Starts the whole cluster in ``folder`` and stops what it started when the block ends."""
    if os.geteuid() != 0:
        raise PermissionError("the test cluster runs its daemons as root")
    node, cpus = socket.gethostname().split(".")[0], os.cpu_count() or 1
    started: list[subprocess.Popen] = []
    munged = _start_munge()
    try:
        mariadb, mysql_port = _start_mariadb(folder)
        started.append(mariadb)
        conf = _write_configs(folder, node, cpus, mysql_port)
        cluster = SlurmCluster(conf, folder, node, cpus)
        environment = cluster.environment
        started.append(_daemon([_binary("slurmdbd"), "-D"], environment, folder / "slurmdbd.out"))
        _wait(lambda: cluster.run("sacctmgr", "-n", "list", "cluster") is not None, "slurmdbd", folder / "slurmdbd.log")
        cluster.run("sacctmgr", "-i", "add", "cluster", CLUSTER)
        started.append(_daemon([_binary("slurmctld"), "-D", "-i"], environment, folder / "slurmctld.out"))
        started.append(_daemon([_binary("slurmd"), "-D", "-N", node], environment, folder / "slurmd.out"))

        def node_idle() -> bool:
            state = cluster.run("sinfo", "-h", "-N", "-o", "%T").strip()
            return state == "idle"

        _wait(node_idle, "the node to be idle", folder / "slurmctld.log")
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            _cancel_all(SlurmCluster(folder / "slurm.conf", folder, node, cpus))
        _stop(started)
        _kill_stray_steps(folder / "slurm.conf")
        if munged is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(munged, 15)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"no SLURM here (missing {', '.join(missing)}); CI installs slurmctld slurmd slurmdbd munge")
    if os.geteuid() != 0:
        pytest.skip("the test SLURM cluster runs its daemons as root")
    with running_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
