"""Step ``embedded``: embedded toys, local structure along inflation (supp_embedded.pdf and
results/metrics/embedded.json)."""

from __future__ import annotations

import argparse

from ..analyses.neighbours import overlap_along
from ..figures.analyses import embedded_figure
from ..figures.toys import angle_colour
from ..io import read_h5, write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flows", nargs="+", required=True, help="flow HDF5, one per model")
    parser.add_argument("--data", nargs="+", required=True, help="their embedded datasets")
    parser.add_argument("--labels", nargs="+", required=True)
    parser.add_argument("--neighbours", type=int, default=10)
    parser.add_argument("--output", required=True, help="PDF")
    parser.add_argument("--output-json", required=True)


def run(args: argparse.Namespace) -> None:
    if not len(args.flows) == len(args.data) == len(args.labels):
        raise ValueError("--flows, --data and --labels need one entry per model")
    rows, results = [], {}
    for flow_path, data_path, label in zip(args.flows, args.data, args.labels, strict=True):
        flow, _ = read_h5(flow_path, "flow", required=["trajectories/inflation"])
        data, attrs = read_h5(data_path, "dataset", required=["test/intrinsic"])
        states = flow["trajectories/inflation"] @ flow["eigenvectors"].T  # data orientation
        intrinsic = data["test/intrinsic"][: states.shape[1]]  # the flow's first test points
        overlap = overlap_along(intrinsic, states, args.neighbours)
        n = states.shape[1]
        results[label] = {"times": flow["trajectories/times"].tolist(),
                          "knn_overlap": overlap.tolist(), "start": float(overlap[0]),
                          "end": float(overlap[-1]), "points": n,
                          "curvature": attrs["params"]["curvature"],
                          "noise": attrs["params"]["noise"]}
        rows.append((label, flow["trajectories/times"], states, angle_colour(intrinsic), overlap))
    chance = args.neighbours / (n - 1)
    meta = step_provenance("embedded", args)
    write_json(args.output_json, {"kind": "embedded", "neighbours": args.neighbours,
                                  "chance": chance, "models": results, "provenance": meta})
    embedded_figure(rows, chance, args.output, metadata=meta)
    for label, r in results.items():
        print(f"{label}: kNN overlap with the 2-D set {r['start']:.3f} at t_min, "
              f"{r['end']:.3f} at T (chance {chance:.3f})")
