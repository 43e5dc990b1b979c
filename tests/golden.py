"""Digests of a results folder, to prove that a refactor changes no output.

Every array (HDF5 datasets, model weights) is recorded by its sha256 and, for a machine with
other CPU kernels, its sum and absolute sum; every number and string of the JSON metrics and
CSV tables is recorded as is. Timings, provenance (and the provenance table) and checkpoints
(optimiser state) are left out: they differ between two runs of the same code.

Record after a deliberate change of results (then say why in the commit)::

    python tests/golden.py record <workdir>/results tests/golden/tiny.json
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import platform
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

VOLATILE = ("provenance", "seconds", "per_s", "elapsed", "wall", "memory", "created",
            "git_commit", "package_version", "libraries")
SKIPPED_DIRS = ("checkpoints",)


def machine() -> dict[str, str]:
    """What decides the bits of a float computation here: library versions and CPU kernels."""
    return {"torch": torch.__version__, "numpy": np.__version__,
            "cpu": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine()}


def _volatile(key: str) -> bool:
    return any(v in key.lower() for v in VOLATILE)


def _array(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    entry = {"sha256": hashlib.sha256(a.tobytes()).hexdigest()[:20], "shape": list(a.shape),
             "dtype": str(a.dtype)}
    if a.dtype.kind in "fiub":
        x = a.astype(np.float64)
        entry |= {"sum": float(x.sum()), "abs": float(np.abs(x).sum())}
    return entry


def _leaves(obj, prefix: str, out: dict) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not _volatile(k):
                _leaves(v, f"{prefix}/{k}", out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _leaves(v, f"{prefix}[{i}]", out)
    else:
        out[prefix] = obj


def _determinate(h5: h5py.File, name: str, value: np.ndarray) -> np.ndarray:
    """The eigenvectors (columns) of a zero eigenvalue span a null space in which LAPACK
    may return any basis, and CPUs differ (circles_5d's three, between the AVX2 machine of an
    earlier record and an AVX512 one): only the columns of positive eigenvalues are recorded."""
    parent = name.rpartition("/")[0]
    values = f"{parent}/eigenvalues" if parent else "eigenvalues"
    if name.rpartition("/")[2] != "eigenvectors" or values not in h5:
        return value
    lam = h5[values][()]
    return value[:, lam > 1e-9 * lam.max()]


def digest(results: Path) -> dict:
    out: dict = {}
    for f in sorted(results.rglob("*")):
        rel = f.relative_to(results).as_posix()
        if rel.startswith(SKIPPED_DIRS) or _volatile(f.name) or not f.is_file():
            continue
        if f.suffix == ".h5":
            with h5py.File(f) as h5:
                h5.visititems(lambda name, obj, rel=rel, h5=h5: out.__setitem__(
                    f"{rel}:{name}", _array(_determinate(h5, name, obj[()])))
                    if isinstance(obj, h5py.Dataset) and not _volatile(name) else None)
        elif f.suffix == ".pt":
            state = torch.load(f, weights_only=True, map_location="cpu")
            for key, value in state.items():
                out[f"{rel}:{key}"] = _array(value.detach().numpy())
        elif f.suffix == ".json":
            _leaves(json.loads(f.read_text()), rel, out)
        elif f.suffix == ".csv":
            lines = [line for line in f.read_text().splitlines() if not line.startswith("#")]
            for i, row in enumerate(csv.DictReader(io.StringIO("\n".join(lines)))):
                _leaves({k: v for k, v in row.items() if not _volatile(k)}, f"{rel}[{i}]", out)
    return out


def _close(a, b, rtol: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        if a["shape"] != b["shape"] or a["dtype"] != b["dtype"]:
            return False
        return all(_close(a.get(k), b.get(k), rtol) for k in ("sum", "abs"))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, str) and isinstance(b, str):
        try:
            return _close(float(a), float(b), rtol)
        except ValueError:
            return a == b
    return a == b


# Another machine's CPU kernels (AVX2 against AVX512, measured on this tiny run) move the
# trained breast-cancer weights, PRR round-trip errors and p-values by less than 1e-2
# relative (more than 1e-3 in two of 4800 entries).
CROSS_MACHINE_RTOL = 1e-2


def differences(recorded: dict, results: Path, rtol: float = CROSS_MACHINE_RTOL) -> list[str]:
    """Entries that differ: bit for bit on the recording machine, else beyond ``rtol``."""
    now = digest(results)
    same_machine = recorded["machine"] == machine()
    old = recorded["entries"]
    found = []
    for key in sorted(old.keys() | now.keys()):
        a, b = old.get(key), now.get(key)
        equal = a == b if same_machine else _close(a, b, rtol)
        if not equal:
            found.append(f"{key}: recorded {str(a)[:80]}, now {str(b)[:80]}")
    return found


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "record":
        sys.exit("usage: python tests/golden.py record <results folder> <digest.json>")
    entries = digest(Path(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps({"machine": machine(), "entries": entries},
                                            indent=0, sort_keys=True) + "\n")
    print(f"{len(entries)} entries written to {sys.argv[3]}")
