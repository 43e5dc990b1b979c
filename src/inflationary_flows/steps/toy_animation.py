"""Step ``animate``: GIFs of one toy flow, inflation and generation (the paper's website)."""

from __future__ import annotations

import argparse

from ..figures.toys import flow_animation, panels_from_flow
from ..io import read_h5
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--output-inflation", required=True)
    parser.add_argument("--output-generation", required=True)


def run(args: argparse.Namespace) -> None:
    row = panels_from_flow(args.label, read_h5(args.flow, "flow")[0])
    meta = step_provenance("toy-animation", args)
    flow_animation(row, args.output_inflation, "inflation", metadata=meta)
    flow_animation(row, args.output_generation, "generation", metadata=meta)
