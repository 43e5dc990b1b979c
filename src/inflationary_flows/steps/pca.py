"""Step ``pca``: eigendecomposition of a dataset's training covariance (kind ``pca``)."""

from __future__ import annotations

import argparse

from ..io import read_h5, write_h5
from ..pca import fit_pca
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset HDF5 from the dataset step")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    arrays, attrs = read_h5(args.data, "dataset", required=["train/x"])
    pca = fit_pca(arrays["train/x"], args.batch_size, attrs["params"].get("encoding"))
    if not pca.eigenvalues.any():
        raise ValueError(f"{args.data}: every training column is constant (zero covariance)")
    write_h5(
        args.output, "pca",
        {"mean": pca.mean, "eigenvalues": pca.eigenvalues, "eigenvectors": pca.eigenvectors},
        {"name": attrs["name"], "dim": pca.dim, "n_samples": pca.n_samples,
         "participation_ratio": pca.participation_ratio},
        step_provenance("pca", args),
    )
    print(f"{attrs['name']}: D = {pca.dim}, PR = {pca.participation_ratio:.4f}")
