"""Shared fixtures: the repository root, float64 by default, and a real Snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _float64():
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def snakemake(workdir: Path, *args: str, config: dict | Path | None = None,
              check: bool = True, snakefile: Path = REPO / "Snakefile",
              env: dict[str, str] | None = None,
              extra_configs: list[Path] = ()) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile for real in ``workdir``; return the finished process."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
           "--directory", str(workdir), "--cores", "2", *args]
    if config is not None:
        if isinstance(config, dict):
            path = workdir / "test_config.yaml"
            path.write_text(yaml.safe_dump(config))
            config = path
        cmd += ["--configfile", str(config), *map(str, extra_configs)]
    # --configfile takes several values: it goes last so that targets are not read as files
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
def tiny_run(tmp_path_factory) -> Path:
    """One real run of the tiny config's default target, shared by the workflow tests."""
    workdir = tmp_path_factory.mktemp("tiny")
    shutil.copy(TINY_CONFIG, workdir / "tiny.yaml")
    snakemake(workdir, config=workdir / "tiny.yaml")
    return workdir
