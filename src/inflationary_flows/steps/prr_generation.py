"""Step ``prr-generation``: PRR's calibration and sample quality against T and IG with the
exact score of each set's training points, with the compressed coordinates from the Gaussian
prior and from the training latents (supp_prr.pdf and a JSON of the sweep)."""

from __future__ import annotations

import argparse
import json

import torch

from ..analyses.prr_generation import prr_sweep
from ..datasets import read_dataset
from ..figures.analyses import prr_generation_figure
from ..io import write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, help="dataset HDF5 files")
    parser.add_argument("--labels", nargs="+", required=True, help="dataset names")
    parser.add_argument("--schedule", required=True,
                        help="PRR schedule spec as JSON (t_max and inflation_gap are swept)")
    parser.add_argument("--t-max", type=float, nargs="+", required=True)
    parser.add_argument("--inflation-gaps", type=float, nargs="+", required=True)
    parser.add_argument("--atoms", type=int, required=True,
                        help="training points whose distribution has the exact score")
    parser.add_argument("--bandwidth", type=float, default=0.0,
                        help="Gaussian kernel width on the atoms (0: the bare points)")
    parser.add_argument("--points", type=int, required=True,
                        help="held-out points inflated, and samples generated")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    spec, solver = json.loads(args.schedule), json.loads(args.solver)
    results = {}
    for path, label in zip(args.data, args.labels, strict=True):
        data, _ = read_dataset(path)
        if data["train"].shape[0] < args.atoms:
            raise ValueError(f"{path}: {data['train'].shape[0]} training points, "
                             f"--atoms needs {args.atoms}")
        rows = prr_sweep(torch.as_tensor(data["train"][: args.atoms]),
                         torch.as_tensor(data["test"]), spec, args.t_max, args.inflation_gaps,
                         args.points, solver, args.seed, args.bandwidth)
        for row in rows:
            print(f"{label} T {row['t_max']:g} IG {row['inflation_gap']:g}: calibration kept "
                  f"{row['kept_calibration_pp']:.2f} pp, full {row['full_calibration_pp']:.2f} "
                  f"pp; energy-distance ratio {row['ratio_gaussian_prior']:.2f} (Gaussian "
                  f"prior), {row['ratio_empirical_compressed']:.2f} (training latents)",
                  flush=True)
        results[label] = rows
    meta = step_provenance("prr-generation", args)
    prr_generation_figure(results, args.output_figure, meta)
    write_json(args.output_metrics, {"kind": "prr_generation", "datasets": results,
                                     "provenance": meta})
