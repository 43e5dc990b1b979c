"""Your own data: a table of numeric vectors (CSV, TSV, NPY, HDF5, or a table that a library
ships) read into the same train/test dataset the toys use.

A source is a path, ``file.h5:group/dataset`` for one array inside an HDF5 file, or
``sklearn:<name>`` for a real table scikit-learn ships (nothing is downloaded). CSV and TSV
files may start with a header row; ``columns`` then picks columns by name, else by index.

Every fault is one ``ValueError`` line naming the file and the problem: a missing file, a
column that is not numeric (with its row), NaN or infinity, too few rows, constant data.
Only numpy and the standard library are imported at module level: the Snakefile reads
tables' dimensions through :func:`table_dim` when it is parsed.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# tables scikit-learn ships inside its package (no download)
SKLEARN_TABLES = ("breast_cancer", "wine", "diabetes", "iris")
TRANSFORMS = ("none", "yeo-johnson")
MIN_TEST_ROWS = 4


def add_preprocessing_arguments(parser: argparse.ArgumentParser, fitted_to: str) -> None:
    """The column choice and the preprocessing of a table, as every step that reads one
    takes them (each fitted to ``fitted_to``)."""
    parser.add_argument("--columns", default="[]",
                        help="table: JSON list of column names or indices ([]: all)")
    parser.add_argument("--transform", choices=TRANSFORMS, default="none",
                        help=f"table: per-column power transform fitted to {fitted_to}")
    parser.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=True,
                        help=f"table: z-score columns with the statistics of {fitted_to}")


def _split_source(source: str) -> tuple[str, str]:
    """``(path, dataset inside an HDF5 file or '')``."""
    path, sep, inner = source.partition(".h5:")
    return (path + ".h5", inner) if sep else (source, "")


def source_file(source: str) -> str | None:
    """The file a table source reads (None for a table a library ships)."""
    return None if source.startswith("sklearn:") else _split_source(source)[0]


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() in (".tsv", ".tab") else ","


def _header(path: Path) -> list[str] | None:
    """The column names of a CSV/TSV whose first row is not numeric, else None."""
    with open(path, newline="") as handle:
        first = next(csv.reader(handle, delimiter=_delimiter(path)), None)
    if first is None:
        raise ValueError(f"{path}: the file is empty")
    try:
        [float(cell) for cell in first]
    except ValueError:
        return [cell.strip() for cell in first]
    return None


def _read_text(path: Path) -> tuple[np.ndarray, list[str]]:
    header = _header(path)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter=_delimiter(path)))
    rows = rows[1:] if header else rows
    width = len(header) if header else len(rows[0]) if rows else 0
    names = header or [str(i) for i in range(width)]
    x = np.empty((len(rows), width))
    for r, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise ValueError(f"{path}: row {r} has {len(row)} fields, the table {width}")
        for c, cell in enumerate(row):
            try:
                x[r - (2 if header else 1), c] = float(cell)
            except ValueError:
                raise ValueError(f"{path}: column '{names[c]}' is not numeric (row {r}: "
                                 f"{cell.strip()[:40]!r})") from None
    return x, names


def _read_array(path: Path, inner: str) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path}: not a numeric .npy array ({err})") from None
    import h5py

    with h5py.File(path, "r") as f:
        if not inner or inner not in f or not isinstance(f[inner], h5py.Dataset):
            found = []
            f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
            raise ValueError(f"{path}: no dataset '{inner}' (give path.h5:<dataset>; it holds "
                             f"{', '.join(found[:8]) or 'no datasets'})")
        return f[inner][()]


def read_table(source: str) -> tuple[np.ndarray, list[str]]:
    """All rows of a table as float64 and its column names (indices where it has none)."""
    if source.startswith("sklearn:"):
        name = source.removeprefix("sklearn:")
        if name not in SKLEARN_TABLES:
            raise ValueError(f"{source}: unknown table (scikit-learn ships "
                             f"{', '.join(SKLEARN_TABLES)})")
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")()
        return np.asarray(bunch.data, np.float64), [str(n) for n in bunch.feature_names]
    path_text, inner = _split_source(source)
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".tab", ".txt"):
        return _read_text(path)
    if suffix not in (".npy", ".h5", ".hdf5"):
        raise ValueError(f"{path}: unknown table format '{suffix}' (allowed: .csv, .tsv, "
                         ".npy, .h5:<dataset>)")
    x = _read_array(path, inner)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{path}: expected a 2-D numeric array (rows x columns), found "
                         f"{x.dtype} of shape {x.shape}")
    return x.astype(np.float64), [str(i) for i in range(x.shape[1])]


def select_columns(x: np.ndarray, names: list[str], columns: Sequence[str | int],
                   source: str) -> tuple[np.ndarray, list[str]]:
    """The ``columns`` of a table by name or index (all of them if empty)."""
    if not columns:
        return x, names
    picked = []
    for column in columns:
        key = str(column)
        if key in names:
            picked.append(names.index(key))
        elif isinstance(column, int) and 0 <= column < len(names):
            picked.append(column)
        else:
            raise ValueError(f"{source}: no column {column!r} (it has {len(names)}: "
                             f"{', '.join(names[:8])}{', ...' if len(names) > 8 else ''})")
    return x[:, picked], [names[i] for i in picked]


def table_dim(spec: dict[str, Any]) -> int:
    """Columns a table entry gives, read from the header or array shape alone where it can."""
    if spec.get("columns"):
        return len(spec["columns"])
    source = spec["path"]
    path_text, inner = _split_source(source)
    path = Path(path_text)
    if source.startswith("sklearn:") or not path.is_file():
        return read_table(source)[0].shape[1]  # a missing file fails with its line here
    if path.suffix.lower() == ".npy":
        shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    elif path.suffix.lower() in (".h5", ".hdf5"):
        shape = _read_array(path, inner).shape
    else:
        header = _header(path)
        if header:
            return len(header)
        with open(path, newline="") as handle:
            return len(next(csv.reader(handle, delimiter=_delimiter(path))))
    if len(shape) != 2:
        raise ValueError(f"{path}: expected a 2-D array (rows x columns), found shape {shape}")
    return int(shape[1])


def yeo_johnson(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Both splits through scikit-learn's Yeo-Johnson power transform, one exponent per column
    fitted by maximum likelihood to the training split (a constant column is left as it is):
    skewed, heavy-tailed measurements become nearly symmetric, so a few hundred rows leave
    fewer held-out rows in tails the model never saw. A fixed invertible map of the data, so
    the latents and their calibration are those of a flow of the original columns."""
    from sklearn.preprocessing import PowerTransformer

    varying = np.ptp(train, axis=0) > 0
    if not varying.any():
        return train, test, [None] * train.shape[1]
    fitted = PowerTransformer(method="yeo-johnson", standardize=False).fit(train[:, varying])
    train, test = train.copy(), test.copy()
    train[:, varying], test[:, varying] = fitted.transform(train[:, varying]), \
        fitted.transform(test[:, varying])
    lambdas = np.full(train.shape[1], np.nan)
    lambdas[varying] = fitted.lambdas_
    return train, test, [None if np.isnan(v) else float(v) for v in lambdas]


def table_rows(source: str, columns: Sequence[str | int]) -> tuple[np.ndarray, list[str]]:
    """The chosen columns of every row, checked: finite and not all constant."""
    x, names = select_columns(*read_table(source), columns, source)
    from .datasets import nonfinite_columns

    bad = nonfinite_columns(x)
    if bad:
        raise ValueError(f"{source}: NaN or infinity in column(s) "
                         f"{', '.join(repr(names[c]) for c in bad)}")
    if not np.ptp(x, axis=0).any():
        raise ValueError(f"{source}: every column is constant (nothing to learn)")
    return x, names


def preprocess(train: np.ndarray, test: np.ndarray, transform: str, standardize: bool,
               source: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Both splits through the optional power transform, then the optional z-score, each
    fitted to ``train`` alone; what was fitted, for the dataset's params."""
    fitted: dict[str, Any] = {}
    if transform == "yeo-johnson":
        train, test, fitted["yeo_johnson_lambdas"] = yeo_johnson(train, test)
    elif transform not in TRANSFORMS:
        raise ValueError(f"{source}: unknown transform '{transform}' ({' or '.join(TRANSFORMS)})")
    if standardize:
        mean, std = train.mean(0), train.std(0)
        std = np.where(std > 0, std, 1.0)
        train, test = (train - mean) / std, (test - mean) / std
        fitted |= {"zscore_mean": mean.tolist(), "zscore_std": std.tolist()}
    return train, test, fitted


def load_table(source: str, columns: Sequence[str | int], test_fraction: float,
               standardize: bool, seed: int, transform: str = "none"):
    """A table as a :class:`~.datasets.Dataset`: a seeded row split, optionally power
    transformed (``transform``: none or yeo-johnson) and then z-scored per column with the
    training split's statistics (a constant column stays 0)."""
    from .datasets import Dataset

    x, names = table_rows(source, columns)
    n_test = int(round(test_fraction * len(x)))
    n_train = len(x) - n_test
    if n_test < MIN_TEST_ROWS or n_train <= x.shape[1]:
        raise ValueError(f"{source}: {len(x)} rows are too few for {x.shape[1]} columns "
                         f"(need more than {x.shape[1]} training rows and {MIN_TEST_ROWS} "
                         f"test rows at test_fraction {test_fraction})")
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = x[order[n_test:]], x[order[:n_test]]
    train, test, fitted = preprocess(train, test, transform, standardize, source)
    params: dict[str, Any] = {"kind": "table", "source": source, "columns": names,
                              "test_fraction": test_fraction, "seed": seed,
                              "standardize": standardize, "transform": transform, **fitted}
    return Dataset("table", train, test, params)
