"""Step ``posterior``: Figure 4's posterior over mixture weights through one trained flow,
and simulation-based calibration over replicate datasets (one HDF5, kind ``posterior``)."""

from __future__ import annotations

import argparse

import torch

from ..analyses.posterior import (
    figure4_mixture,
    interval_coverage,
    rank_uniformity,
    sample_weight_posterior,
    sbc_ranks,
)
from ..io import write_h5
from ..provenance import step_provenance
from .common import add_model_arguments, load_flow

FIGURE4_WEIGHTS = [0.5, 0.25, 0.25]  # paper section 2.2
N_RANKS = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--n-points", type=int, default=1000, help="Figure 4's dataset size")
    parser.add_argument("--replicates", type=int, default=100, help="SBC datasets")
    parser.add_argument("--n-per-replicate", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=300, help="NUTS warm-up steps")
    parser.add_argument("--draws", type=int, default=400, help="NUTS draws kept")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    _, meta, flow = load_flow(args)
    std = flow.latent_variance().sqrt()
    mixture = figure4_mixture(std.shape[0])
    gen = torch.Generator().manual_seed(args.seed)

    @torch.no_grad()  # NUTS needs autograd; the flow does not
    def through_flow(zeta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised latents -> generated data -> latents recovered by inflation."""
        reps, n, dim = zeta.shape
        x = flow.generate(zeta.reshape(-1, dim) * std).value
        back = flow.inflate(x).value / std
        return x.reshape(reps, n, dim), back.reshape(reps, n, dim)

    weights = torch.tensor([FIGURE4_WEIGHTS], dtype=torch.float64)
    zeta, comp = mixture.sample(weights, args.n_points, gen)
    x, zeta_back = through_flow(zeta)
    draws = sample_weight_posterior(zeta_back, mixture, warmup=args.warmup, draws=args.draws,
                                    seed=args.seed)[:, 0]
    print(f"Figure 4: posterior mean {draws.mean(0).tolist()} (truth {FIGURE4_WEIGHTS})",
          flush=True)

    torch.manual_seed(args.seed)  # Dirichlet sampling draws from the global generator
    prior = torch.distributions.Dirichlet(torch.ones(mixture.n_components, dtype=torch.float64))
    truth = prior.sample((args.replicates,))
    zeta_r, _ = mixture.sample(truth, args.n_per_replicate, gen)
    _, zeta_r_back = through_flow(zeta_r)
    sbc_draws = sample_weight_posterior(zeta_r_back, mixture, warmup=args.warmup,
                                        draws=args.draws, seed=args.seed + 1)
    ranks = sbc_ranks(truth, sbc_draws, N_RANKS)
    uniformity = rank_uniformity(ranks, N_RANKS)
    coverage = interval_coverage(truth, sbc_draws)
    recovery = float((zeta_back - zeta).abs().max())
    print(f"SBC: rank-uniformity p-values {[u['p_value'] for u in uniformity]}, "
          f"interval coverage {coverage}, latent recovery max error {recovery:.2e}", flush=True)
    arrays = {"figure4/x": x[0].numpy(), "figure4/zeta": zeta[0].numpy(),
              "figure4/zeta_back": zeta_back[0].numpy(), "figure4/component": comp[0].numpy(),
              "figure4/draws": draws.numpy(), "sbc/truth": truth.numpy(), "sbc/ranks": ranks,
              "sbc/draws": sbc_draws.numpy()}
    attrs = {"model": args.model, "schedule": meta["spec"]["schedule"],
             "figure4_weights": FIGURE4_WEIGHTS, "n_ranks": N_RANKS,
             "rank_uniformity": uniformity, "interval_coverage": coverage,
             "latent_recovery_max_error": recovery,
             "mixture": {"means": mixture.means.tolist(), "std": mixture.std}}
    write_h5(args.output, "posterior", arrays, attrs,
             step_provenance("posterior", args))
