"""Step ``pr-table``: one CSV row per dataset with its dimension and participation ratio."""

from __future__ import annotations

import argparse

from ..io import read_h5, write_csv
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pca", nargs="+", required=True, help="PCA HDF5 files")
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    rows = []
    for path in args.pca:
        arrays, attrs = read_h5(path, "pca", required=["eigenvalues"])
        lam = arrays["eigenvalues"]
        rows.append({
            "dataset": attrs["name"],
            "D": int(attrs["dim"]),
            "participation_ratio": f"{attrs['participation_ratio']:.6f}",
            "top_eigenvalue_share": f"{lam[0] / lam.sum():.6f}",
        })
    write_csv(args.output, rows, step_provenance("participation-ratio-table", args))
    print(f"{len(rows)} datasets -> {args.output}")
