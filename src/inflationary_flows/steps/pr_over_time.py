"""Step ``pr-over-time``: PR of pushed samples along the flow against its closed form
(supp_pr.pdf and a JSON of the curves), for several schedules on several toy sets."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..analyses.dimensionality import pr_along_flow
from ..datasets import read_dataset
from ..figures.analyses import pr_figure
from ..io import write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, help="dataset HDF5 files")
    parser.add_argument("--labels", nargs="+", required=True, help="dataset names")
    parser.add_argument("--schedules", required=True,
                        help="JSON {name: schedule spec} (paper convention)")
    parser.add_argument("--atoms", type=int, default=1000,
                        help="training points whose empirical distribution is the data")
    parser.add_argument("--samples", type=int, default=5000, help="points pushed by the flow")
    parser.add_argument("--frames", type=int, default=21)
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    schedules, solver = json.loads(args.schedules), json.loads(args.solver)
    results: dict[str, dict] = {}
    for path, label in zip(args.data, args.labels, strict=True):
        data, _ = read_dataset(path, ["train"])
        if data["train"].shape[0] < args.atoms:
            raise ValueError(f"{path}: {data['train'].shape[0]} training points, "
                             f"--atoms needs {args.atoms}")
        atoms = torch.as_tensor(data["train"][: args.atoms])
        results[label] = {}
        for name, spec in schedules.items():
            track = pr_along_flow(atoms, spec, args.samples, args.frames, solver, args.seed)
            emp, closed = track.empirical, track.closed_form
            results[label][name] = {
                "schedule": spec, "times": track.times, "empirical": emp,
                "closed_form": closed, "limit": track.limit, "nfe": track.nfe,
                "max_relative_drift_from_start": float(np.abs(emp / emp[0] - 1).max()),
                "max_relative_error_vs_closed_form": float(np.abs(emp / closed - 1).max()),
                "end_relative_to_limit": float(emp[-1] / track.limit - 1),
            }
            print(f"{label} {name}: PR {emp[0]:.4f} -> {emp[-1]:.4f} (closed form "
                  f"{closed[0]:.4f} -> {closed[-1]:.4f}, limit {track.limit:.4f}), "
                  f"NFE {track.nfe}", flush=True)
    meta = step_provenance("pr-over-time", args)
    pr_figure(results, args.output_figure, meta)
    write_json(args.output_metrics, {"kind": "pr_over_time", "datasets": results,
                                     "provenance": meta})
