"""Step ``duality``: paper Figure 1 (forward SDE, Fokker-Planck marginals, pfODE paths on a
1-D mixture, exact score) and the KS distances of both samplers to the closed form."""

from __future__ import annotations

import argparse
import json

import torch

from ..analyses.duality import FIGURE1_MIXTURE, Duality
from ..figures.analyses import duality_figure
from ..io import write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--t-max", type=float, default=10.0)
    parser.add_argument("--paths", type=int, default=40, help="paths drawn per panel")
    parser.add_argument("--samples", type=int, default=20000, help="samples for the KS checks")
    parser.add_argument("--frames", type=int, default=201, help="times on the path grid")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    duality = Duality(FIGURE1_MIXTURE, args.t_max, json.loads(args.solver))
    gen = torch.Generator().manual_seed(args.seed)
    x0 = FIGURE1_MIXTURE.sample(args.samples, gen)
    times = torch.linspace(0.0, args.t_max, args.frames, dtype=torch.float64)
    sde = duality.sde_paths(x0, times, gen)
    ode, nfe = duality.ode_paths(x0, times)
    checks = [{"t": float(times[k]), "ks_sde": duality.ks_distance(float(times[k]), sde[k]),
               "ks_ode": duality.ks_distance(float(times[k]), ode[k])}
              for k in range(0, args.frames, max(1, args.frames // 8))]
    for row in checks:
        print(f"t = {row['t']:.2f}: KS distance to p_t, SDE {row['ks_sde']:.4f}, "
              f"pfODE {row['ks_ode']:.4f}", flush=True)
    grid = torch.linspace(-3.5, 3.5, 281, dtype=torch.float64)
    meta = step_provenance("duality", args)
    duality_figure(times.numpy(), grid.numpy(), duality.marginal_density(times, grid).numpy(),
                   sde[:, : args.paths].numpy(), ode[:, : args.paths].numpy(),
                   args.output_figure, meta)
    write_json(args.output_metrics, {
        "kind": "duality", "mixture": FIGURE1_MIXTURE.__dict__, "nfe": nfe,
        "ks_reference": f"about {0.87 / args.samples ** 0.5:.4f} for {args.samples} exact "
                        "samples (median of the KS distribution)",
        "checks": checks, "provenance": meta})
