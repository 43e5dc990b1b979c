"""A real single-node SLURM cluster on localhost for the tests: munged, slurmctld, slurmd.

Built from Debian's slurm-wlm and munge (``.ci/run`` installs them). Everything lives in a
temporary folder except ``/etc/slurm/slurm.conf``: the executor plugin strips SLURM_* from
the environment of nested ``srun`` calls, SLURM_CONF included, so the config must sit where
every SLURM command looks by default. An existing config of another cluster is never touched.
The daemons are stopped by the pids they wrote, and the config file is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by the inflationary-flows test suite"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "sinfo")


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (the reason says why)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterUnavailable("cannot read MemTotal from /proc/meminfo")


class LocalSlurm:
    """``with LocalSlurm(folder) as cluster:`` a started cluster; stopped on exit."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.node = socket.gethostname().split(".")[0]
        self.pidfiles = {name: self.root / f"{name}.pid"
                         for name in ("munged", "slurmctld", "slurmd")}
        self.ctld_log = self.root / "slurmctld.log"

    # -- checks --------------------------------------------------------------------------
    def check(self) -> None:
        missing = [b for b in BINARIES if shutil.which(b) is None]
        if missing:
            raise ClusterUnavailable(
                f"SLURM binaries missing ({', '.join(missing)}): install Debian's slurm-wlm "
                "and munge (apt-get install slurm-wlm munge), as .ci/run does")
        if os.geteuid() != 0:
            raise ClusterUnavailable("the test cluster's daemons must start as root")
        if SYSTEM_CONF.exists() and MARKER not in SYSTEM_CONF.read_text():
            raise ClusterUnavailable(f"{SYSTEM_CONF} belongs to another cluster; not touched")

    # -- configuration -------------------------------------------------------------------
    def _conf(self) -> str:
        r = self.root
        cpus = os.cpu_count() or 1
        memory = int(_memory_mb() * 0.9)
        return f"""{MARKER} in {r}
ClusterName=iftest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={self.pidfiles['slurmctld']}
SlurmdPidFile={self.pidfiles['slurmd']}
SlurmctldLogFile={self.ctld_log}
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self.check()
        r = self.root
        for sub in ("state", "spool"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        key = r / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.write_text(self._conf())
        self._daemon(["munged", f"--key-file={key}", f"--socket={r}/munge.socket",
                      f"--pid-file={self.pidfiles['munged']}", f"--log-file={r}/munged.log",
                      f"--seed-file={r}/munge.seed", "--force"])
        self._daemon(["slurmctld", "-f", str(SYSTEM_CONF)])
        self._daemon(["slurmd", "-f", str(SYSTEM_CONF)])
        self._wait_until_idle()

    def _daemon(self, cmd: list[str]) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"{cmd[0]} did not start: {proc.stderr.strip()}")

    def _wait_until_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True,
                                  text=True)
            state = proc.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the test node did not become idle in {timeout:.0f} s "
                           f"(state: {state or 'unknown'})")

    def stop(self) -> None:
        """Stop the daemons this cluster started, by their pids; remove the system config."""
        pids = []
        for pidfile in self.pidfiles.values():
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                try:
                    os.kill(pid, signal.SIGTERM)
                    pids.append(pid)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if SYSTEM_CONF.exists() and MARKER in SYSTEM_CONF.read_text():
            SYSTEM_CONF.unlink()

    def __enter__(self) -> LocalSlurm:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    """Running, not a zombie (a daemon's parent may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
