"""Step ``toy-figure``: the paper's toy flow figures (Fig. 2: PRP, Fig. 3: PRR) from flow
files; the title describes the schedule recorded in them."""

from __future__ import annotations

import argparse

from ..figures.toys import panels_from_flow, schedule_title, toy_flow_figure
from ..io import read_h5
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flows", nargs="+", required=True, help="flow HDF5 files, one per row")
    parser.add_argument("--labels", nargs="+", required=True, help="row labels")
    parser.add_argument("--snapshots", type=int, default=5)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    if len(args.flows) != len(args.labels):
        raise ValueError(f"{len(args.flows)} flows but {len(args.labels)} labels")
    flows = [read_h5(path, "flow") for path in args.flows]
    titles = {schedule_title(attrs["schedule"]) for _, attrs in flows}
    if len(titles) != 1:
        raise ValueError(f"the flows' schedules differ: {sorted(titles)}")
    rows = [panels_from_flow(label, arrays)
            for (arrays, _), label in zip(flows, args.labels, strict=True)]
    meta = step_provenance("toy-figure", args)
    toy_flow_figure(rows, args.output, titles.pop(), args.snapshots, meta)
    print(f"{len(rows)} rows -> {args.output}")
