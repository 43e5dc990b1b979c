"""Step ``image-figure``: Figure 5, generated images and round trips of several models."""

from __future__ import annotations

import argparse

from ..figures.images import ImageRow, image_figure, latent_images
from ..io import read_h5
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flows", nargs="+", required=True, help="flow HDF5, one per row")
    parser.add_argument("--labels", nargs="+", required=True, help="row labels")
    parser.add_argument("--data", required=True, help="dataset HDF5 (for the image shape)")
    parser.add_argument("--title", required=True)
    parser.add_argument("--samples", type=int, default=16, help="generated images per row")
    parser.add_argument("--roundtrips", type=int, default=4, help="round trips per row")
    parser.add_argument("--output", required=True)


def read_row(path: str, label: str, shape: list[int], samples: int, roundtrips: int) -> ImageRow:
    flow, _ = read_h5(path, "flow", required=["generation/x", "inflation/x", "inflation/z",
                                              "roundtrip/x_back", "eigenvectors"])
    if len(flow["generation/x"]) < samples or len(flow["inflation/x"]) < roundtrips:
        raise ValueError(f"{path}: fewer images than the figure shows ({samples} generated, "
                         f"{roundtrips} round trips)")
    def images(rows): return rows.reshape(-1, *shape)
    return ImageRow(label, images(flow["generation/x"][:samples]),
                    images(flow["inflation/x"][:roundtrips]),
                    images(latent_images(flow["inflation/z"][:roundtrips], flow["eigenvectors"])),
                    images(flow["roundtrip/x_back"][:roundtrips]))


def run(args: argparse.Namespace) -> None:
    if len(args.flows) != len(args.labels):
        raise ValueError(f"{len(args.flows)} flows but {len(args.labels)} labels")
    _, attrs = read_h5(args.data, "dataset")
    shape = attrs["image_shape"]
    if not shape:
        raise ValueError(f"{args.data}: not an image dataset (no image_shape)")
    rows = [read_row(path, label, shape, args.samples, args.roundtrips)
            for path, label in zip(args.flows, args.labels, strict=True)]
    image_figure(rows, args.output, args.title, step_provenance("image-figure", args))
    print(f"{len(rows)} rows -> {args.output}")
