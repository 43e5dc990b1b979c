"""Step ``spectra``: eigenvalue spectra and participation ratios of datasets (appendix)."""

from __future__ import annotations

import argparse

from ..figures.images import spectra_figure
from ..io import read_h5
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pca", nargs="+", required=True, help="PCA HDF5 files")
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    spectra = []
    for path in args.pca:
        arrays, attrs = read_h5(path, "pca", required=["eigenvalues"])
        spectra.append((attrs["name"], arrays["eigenvalues"], attrs["participation_ratio"]))
    spectra_figure(spectra, args.output, step_provenance("spectra-figure", args))
    print(f"{len(spectra)} spectra -> {args.output}")
