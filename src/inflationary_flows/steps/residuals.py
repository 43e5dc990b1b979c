"""Step ``residuals``: temporal correlation of the trained denoisers' residuals
(supp_residuals.pdf and a JSON of the matrices)."""

from __future__ import annotations

import argparse

import torch

from ..analyses.exact import exact_flow
from ..analyses.residuals import residual_correlation
from ..datasets import read_dataset
from ..figures.analyses import residual_figure
from ..io import write_json
from ..models import load_model
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", required=True, help="weights (.pt); spec beside")
    parser.add_argument("--data", nargs="+", required=True, help="dataset HDF5, one per model")
    parser.add_argument("--labels", nargs="+", required=True)
    parser.add_argument("--points", type=int, default=2000, help="held-out points u_0")
    parser.add_argument("--atoms", type=int, default=2000,
                        help="training points of the exact (empirical) reference denoiser")
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    if not len(args.models) == len(args.data) == len(args.labels):
        raise ValueError("--models, --data and --labels need one entry each per model")
    panels, summary = [], {}
    for weights, data_path, label in zip(args.models, args.data, args.labels, strict=True):
        model, meta = load_model(weights, weights.removesuffix(".pt") + ".json")
        sched = meta["spec"]["schedule"]
        data, _ = read_dataset(data_path)
        test = torch.as_tensor(data["test"][: args.points])
        u0 = model.basis.to_eigen(test)
        exact = exact_flow(torch.as_tensor(data["train"][: args.atoms]), model.schedule,
                           model.basis).denoiser
        times = torch.linspace(sched["t_min"], sched["t_max"], args.times + 1,
                               dtype=torch.float64)[1:]
        row = {"times": times.numpy()}
        for kind, reference in (("residual", None), ("error_vs_exact", exact)):
            gen = torch.Generator().manual_seed(args.seed)  # the same noisy points for both
            R, sd = residual_correlation(model, u0, times, gen, reference)
            off = ~torch.eye(len(times), dtype=torch.bool)
            row[kind] = {"R": R.numpy(), "sd": sd.numpy(),
                         "mean_abs_offdiagonal": float(R[off].abs().mean()),
                         "mean_abs_adjacent": float(R.diagonal(1).abs().mean())}
        summary[label] = row
        panels.append((label, times.numpy(), row["residual"]["R"], row["error_vs_exact"]["R"]))
        print(f"{label}: mean |R| off the diagonal {row['residual']['mean_abs_offdiagonal']:.3f} "
              f"(residual), {row['error_vs_exact']['mean_abs_offdiagonal']:.3f} (error vs the "
              f"exact denoiser); adjacent times {row['residual']['mean_abs_adjacent']:.3f}, "
              f"{row['error_vs_exact']['mean_abs_adjacent']:.3f}", flush=True)
    meta = step_provenance("residuals", args)
    residual_figure(panels, args.output_figure, meta)
    write_json(args.output_metrics, {"kind": "residual_correlation",
                                     "normalisation": "cov(t1, t2) / (sd(t1) sd(t2))",
                                     "models": summary, "provenance": meta})
