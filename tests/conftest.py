"""Shared fixtures: the repository root, float64 by default, and a real Snakemake runner."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"


def pytest_configure(config):
    # under pytest-xdist (-n), each worker runs on its own core: one intra-op thread, so that
    # two workers on a 2-core machine do not oversubscribe it
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def uses_tiny_run(item) -> bool:
    return "tiny_run" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """The tiny run starts in the background as soon as the session knows it needs one, and
    the test files that read it go last, so that the others run while it is made. Under
    pytest-xdist (``--dist loadfile``: a file's tests and fixtures stay on one worker) every
    worker collects this order, and the first worker starts the run for all of them."""
    reading = {item.nodeid.split("::")[0] for item in items if uses_tiny_run(item)}
    items.sort(key=lambda item: item.nodeid.split("::")[0] in reading)  # stable
    if reading and os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        TinyRun.start(config)


def pytest_sessionfinish(session, exitstatus):
    # the run outlives no session: awaited (the other workers may still read it), or stopped
    # when the session was interrupted
    if TinyRun.process is not None:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            TinyRun.process.terminate()
        TinyRun.process.wait()


class TinyRun:
    """One real run of the tiny config's default target per session, shared by every worker:
    ``snakemake ...; echo $? > exit_status`` in a folder beside the workers' own."""

    process: subprocess.Popen | None = None

    @staticmethod
    def folder(config) -> Path:
        base = config._tmp_path_factory.getbasetemp()
        return base.parent / "tiny" if os.environ.get("PYTEST_XDIST_WORKER") else base / "tiny"

    @classmethod
    def start(cls, config) -> None:
        workdir = cls.folder(config)
        workdir.mkdir(parents=True)
        shutil.copy(TINY_CONFIG, workdir / "tiny.yaml")
        cmd = " ".join(map(shlex.quote, snakemake_command(workdir, workdir / "tiny.yaml")))
        cls.process = subprocess.Popen(
            ["sh", "-c", f"{cmd} > snakemake.log 2>&1; echo $? > exit_status"], cwd=workdir)

    @classmethod
    def wait(cls, config) -> Path:
        workdir = cls.folder(config)
        status = workdir / "exit_status"
        deadline = time.monotonic() + 3600  # the run takes minutes; never wait forever
        while not status.exists() or not status.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"the tiny run in {workdir} gave no exit status in an hour")
            time.sleep(1)
        if status.read_text().strip() != "0":
            raise AssertionError(f"the tiny run failed:\n{(workdir / 'snakemake.log').read_text()}")
        return workdir


@pytest.fixture(autouse=True)
def _float64():
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def snakemake_command(workdir: Path, config: Path | None, *args: str,
                      snakefile: Path = REPO / "Snakefile",
                      extra_configs: list[Path] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
           "--directory", str(workdir), "--cores", "2", *args]
    if config is not None:
        # --configfile takes several values: it goes last so that targets are not read as files
        cmd += ["--configfile", str(config), *map(str, extra_configs)]
    return cmd


def snakemake(workdir: Path, *args: str, config: dict | Path | None = None,
              check: bool = True, snakefile: Path = REPO / "Snakefile",
              env: dict[str, str] | None = None,
              extra_configs: list[Path] = ()) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile for real in ``workdir``; return the finished process."""
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        path = workdir / "test_config.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    cmd = snakemake_command(workdir, config, *args, snakefile=snakefile,
                            extra_configs=extra_configs)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run or dry run, as {rule: count}."""
    lines = (proc.stdout + proc.stderr).split("Job stats:", 1)[1].splitlines()[3:]
    counts = {}
    for line in lines:
        if not line.strip() or line.startswith("total"):
            break
        rule, count = line.split()
        counts[rule] = int(count)
    return counts


@pytest.fixture(scope="session")
def tiny_run(pytestconfig) -> Path:
    """The shared run of the tiny config's default target (:class:`TinyRun`)."""
    return TinyRun.wait(pytestconfig)
