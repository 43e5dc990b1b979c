"""Provenance records attached to every output: what produced it, from which inputs."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__

_LIBRARIES = ("numpy", "scipy", "torch", "h5py", "scikit-learn", "matplotlib", "snakemake")


def config_hash(params: dict[str, Any]) -> str:
    """Stable short hash of a JSON-serialisable parameter dictionary."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def array_hash(*arrays: Any) -> str:
    """Short hash of arrays' dtypes, shapes and bytes: equal only for identical content."""
    import numpy as np

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:16]


@cache
def git_commit() -> str:
    """Commit of the source tree this package was loaded from ("unknown" outside git)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out + ("+dirty" if dirty else "") if out else "unknown"


@cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def provenance(step: str, params: dict[str, Any]) -> dict[str, Any]:
    """The record stored with an output: step, its parameters and their hash, versions."""
    return {
        "step": step,
        "params": params,
        "params_hash": config_hash(params),
        "package_version": __version__,
        "git_commit": git_commit(),
        "libraries": library_versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def step_provenance(step: str, args: Any) -> dict[str, Any]:
    """:func:`provenance` of a command-line step: its arguments, less the output paths."""
    return provenance(step, {k: v for k, v in vars(args).items() if not k.startswith("output")})
