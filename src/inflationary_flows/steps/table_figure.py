"""Step ``table-figure``: a table's models (PRP, PRR) as pair plots of the leading principal
components of held-out data, latents and generated samples."""

from __future__ import annotations

import argparse

from ..figures.toys import pair_plot_figure, principal_views
from ..io import read_h5
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flows", nargs="+", required=True, help="flow HDF5 files, one per row")
    parser.add_argument("--labels", nargs="+", required=True, help="row labels")
    parser.add_argument("--pca", required=True, help="the dataset's PCA HDF5 (its mean)")
    parser.add_argument("--title", required=True)
    parser.add_argument("--components", type=int, default=3)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    if len(args.flows) != len(args.labels):
        raise ValueError(f"{len(args.flows)} flows but {len(args.labels)} labels")
    mean = read_h5(args.pca, "pca", required=["mean"])[0]["mean"]
    flows = [read_h5(path, "flow")[0] for path in args.flows]
    rows = [(label, principal_views(flow, mean, args.components))
            for flow, label in zip(flows, args.labels, strict=True)]
    # a t_min chosen from the data: the model, and so its data panel, is of smoothed rows
    smoothed = any("smoothing/std" in flow for flow in flows)
    title = f"{args.title}: held-out rows with t_min noise" if smoothed else args.title
    pair_plot_figure(rows, args.output, title, step_provenance("table-figure", args))
    print(f"{len(rows)} rows -> {args.output}")
