"""Atomic, versioned, provenance-carrying file output and checked input.

Every writer goes through :func:`atomic_path`: the file is written under a temporary name in
the destination folder and renamed into place, so an interrupted job never leaves a file that
looks complete. Every reader checks the format version and the datasets it needs, and
rejects non-finite numbers (no step writes them, so one read back means a fault), naming the
file and the dataset in one line.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_VERSION = 1
_UMASK = os.umask(0)
os.umask(_UMASK)


class FormatError(RuntimeError):
    """A file on disk is not what the reader expects (version, kind or content)."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the real suffix last: writers that infer the format from the name still work
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should read like any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    payload = {"format_version": FORMAT_VERSION, **payload}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    def non_finite(word: str) -> float:
        raise FormatError(f"{path}: holds the non-finite number {word}")

    try:
        payload = json.loads(Path(path).read_text(), parse_constant=non_finite)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(f"{path}: cannot read JSON ({err})") from err
    if not isinstance(payload, dict):
        raise FormatError(f"{path}: not a JSON object")
    _check_version(path, payload.get("format_version"))
    if kind is not None and payload.get("kind") != kind:
        raise FormatError(f"{path}: expected a '{kind}' file, found '{payload.get('kind')}'")
    return payload


def write_h5(
    path: str | os.PathLike,
    kind: str,
    datasets: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> None:
    """Write named arrays (``"group/name"`` paths allowed) with attributes, atomically."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["kind"] = kind
            f.attrs["provenance"] = json.dumps(provenance, default=_json_default)
            for key, value in attrs.items():
                f.attrs[key] = _attr_value(value)
            for name, array in datasets.items():
                f.create_dataset(name, data=np.asarray(array))


def read_h5(
    path: str | os.PathLike, kind: str, required: Sequence[str] = ()
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read every dataset and attribute of a file written by :func:`write_h5`."""
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise FormatError(f"{path}: not a readable HDF5 file ({err})") from err
    with f:
        _check_version(path, f.attrs.get("format_version"))
        if f.attrs.get("kind") != kind:
            raise FormatError(f"{path}: expected a '{kind}' file, found '{f.attrs.get('kind')}'")
        arrays: dict[str, np.ndarray] = {}
        f.visititems(lambda name, obj: _collect(arrays, name, obj))
        attrs = {k: _decode_attr(v) for k, v in f.attrs.items()}
    missing = [name for name in required if name not in arrays]
    if missing:
        raise FormatError(f"{path}: missing dataset(s) {', '.join(missing)}")
    for name, array in arrays.items():
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            where = np.argwhere(~np.isfinite(array))[0].tolist()
            raise FormatError(f"{path}: dataset '{name}' holds non-finite values (first "
                              f"{array[tuple(where)]} at index {where})")
    return arrays, attrs


def write_csv(
    path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], provenance: Mapping[str, Any]
) -> None:
    """CSV with one ``# provenance: {...}`` comment line first (pandas: ``comment='#'``).
    The columns are every row's keys in order of appearance; a row without one leaves it
    empty."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        handle.write("# provenance: " + json.dumps(provenance, default=_json_default) + "\n")
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record of any output this package writes, by its format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".h5":  # the attribute alone: the arrays can be hundreds of MB
        try:
            with h5py.File(path, "r") as f:
                _check_version(path, f.attrs.get("format_version"))
                return json.loads(f.attrs["provenance"])
        except (OSError, KeyError) as err:
            raise FormatError(f"{path}: no readable provenance attribute ({err})") from err
    if suffix == ".json":
        return read_json(path)["provenance"]
    if suffix == ".csv":
        first = path.read_text().split("\n", 1)[0]
        if first.startswith("# provenance: "):
            return json.loads(first[len("# provenance: "):])
    elif suffix == ".pdf":
        return json.loads(pdf_keywords(path))
    elif suffix == ".gif":
        from PIL import Image

        with Image.open(path) as img:
            comment = img.info.get("comment", b"")
        if comment:
            return json.loads(comment)
    raise FormatError(f"{path}: carries no provenance record")


def pdf_keywords(path: str | os.PathLike) -> str:
    """The Keywords entry of a PDF's info dictionary (matplotlib writes it as a literal
    string, with parentheses and backslashes escaped by a backslash)."""
    raw = Path(path).read_bytes()
    start = raw.find(b"/Keywords (")
    if not raw.startswith(b"%PDF") or start < 0:
        raise FormatError(f"{path}: not a PDF with a Keywords entry")
    i, out = start + len(b"/Keywords ("), bytearray()
    while raw[i:i + 1] != b")":
        if raw[i:i + 1] == b"\\":
            i += 1
        out += raw[i:i + 1]
        i += 1
    return out.decode()


def _collect(arrays: dict[str, np.ndarray], name: str, obj: Any) -> None:
    if isinstance(obj, h5py.Dataset):
        arrays[name] = obj[()]


def _check_version(path: Any, version: Any) -> None:
    if version is None:
        raise FormatError(f"{path}: no format_version (not written by inflationary_flows)")
    if int(version) != FORMAT_VERSION:
        raise FormatError(
            f"{path}: format version {int(version)}, this code reads version {FORMAT_VERSION}; "
            "rerun the step that made it"
        )


def _attr_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)) or value is None:
        return json.dumps(value, default=_json_default)
    return value


def _decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and (value[:1] in ("[", "{") or value == "null"):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, TypeError):
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
