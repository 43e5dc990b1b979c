"""Step ``coverage``: the paper's coverage experiment through one trained flow, over seeds
(``results/metrics/coverage_<model>.json``)."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ..analyses.coverage import coverage_through_flow
from ..io import write_json
from ..provenance import step_provenance
from .common import add_model_arguments, load_flow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with fresh samples")
    parser.add_argument("--n-test", type=int, default=20000, help="latent test points")
    parser.add_argument("--n-boundary", type=int, default=200, help="boundary points per radius")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    _, meta, flow = load_flow(args)
    runs = [coverage_through_flow(flow, args.n_test, args.n_boundary, args.seed + k)
            for k in range(args.seeds)]
    out = {"radii": runs[0]["radii"], "chi2_mass": runs[0]["chi2_mass"], "seeds": args.seeds}
    for stage in ("initial", "generated", "roundtrip"):
        values = np.stack([r[stage] for r in runs])
        out[stage] = {"mean": values.mean(0), "sd": values.std(0, ddof=1) if args.seeds > 1
                      else np.zeros(values.shape[1]), "runs": values}
    for stage in ("generated", "roundtrip"):
        # the same points are counted at every stage: the gap's spread is the flow's alone
        gaps = 100 * (out[stage]["runs"] - out["initial"]["runs"])
        gap = gaps.mean(0)
        out[f"{stage}_minus_initial_pp"] = gap
        out[f"{stage}_minus_initial_sd_pp"] = gaps.std(0, ddof=1) if args.seeds > 1 \
            else np.zeros_like(gap)
        out[f"{stage}_max_abs_gap_pp"] = float(np.abs(gap).max())
        print(f"{stage}: coverage minus initial (pp) {np.round(gap, 2).tolist()}", flush=True)
    out["initial_minus_chi2_pp"] = 100 * (out["initial"]["mean"] - out["chi2_mass"])
    out["boundary_roundtrip_max_error"] = max(r["boundary_roundtrip_max_error"] for r in runs)
    write_json(args.output, {"kind": "coverage", "dim": int(flow.latent_variance().shape[0]),
                             **out, "provenance": step_provenance("coverage", args)})
