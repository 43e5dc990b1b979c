"""Step ``solver-accuracy``: round-trip and calibration error against NFE per solver, for a
trained toy model and for the exact score of a kernel density estimate of its training data
(a Gaussian mixture: well conditioned, unlike the bare empirical distribution, whose score
pulls held-out points onto the nearest training point; supp_solvers.pdf)."""

from __future__ import annotations

import argparse

import torch

from ..analyses.exact import exact_flow
from ..analyses.solver_accuracy import accuracy_sweep, solver_settings
from ..datasets import read_dataset
from ..figures.analyses import solver_figure
from ..flow import flow_for
from ..io import write_json
from ..models import load_model
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="weights (.pt); spec JSON beside it")
    parser.add_argument("--data", required=True, help="the model's dataset HDF5")
    parser.add_argument("--atoms", type=int, default=2000,
                        help="training points whose empirical distribution has the exact score")
    parser.add_argument("--bandwidth", type=float, default=0.1,
                        help="kernel width of the exact-score density estimate (data units)")
    parser.add_argument("--points", type=int, default=1000, help="held-out points")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.model.removesuffix(".pt") + ".json")
    schedule = meta["spec"]["schedule"]
    data, _ = read_dataset(args.data)
    x = torch.as_tensor(data["test"][: args.points])
    span = schedule["t_max"] - schedule["t_min"]
    flows = {"trained": flow_for(model, meta["spec"], {}),
             "exact": exact_flow(torch.as_tensor(data["train"][: args.atoms]), schedule,
                                 covariance="empirical", bandwidth=args.bandwidth)}
    sweeps = {}
    for score, flow in flows.items():
        sweeps[score] = accuracy_sweep(flow, x, solver_settings(span), calibration=True)
        for row in sweeps[score]:
            budget = f"steps {row['steps']}" if "steps" in row else f"tol {row['rtol']:g}"
            print(f"{score} {row['method']} {budget}: NFE {row['nfe']}, round trip "
                  f"{row['roundtrip_relative_mse']:.2e}, calibration gap "
                  f"{row['calibration_max_error_pp']:.2f} pp (solver's share "
                  f"{row['calibration_change_vs_most_accurate_pp']:.2f} pp)", flush=True)
    meta_out = step_provenance("solver-accuracy", args)
    label = args.model.rsplit("/", 1)[-1].removesuffix(".pt")
    solver_figure(sweeps, label, args.output_figure, meta_out)
    write_json(args.output_metrics, {"kind": "solver_accuracy", "model": label,
                                     "official_setting": solver_settings(span)[0],
                                     "sweeps": sweeps, "provenance": meta_out})
