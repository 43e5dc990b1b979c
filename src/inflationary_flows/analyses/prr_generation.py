"""Where PRR's generation quality is lost, and one remedy (issue 14).

Under a PRR schedule with an inflation gap IG >= 2 the compressed coordinates never grow
(rate 2 - IG <= 0), so the drift never mixes them: at t = T they are the data's own
compressed coordinates, squeezed, not a Gaussian. Generation draws them from the Gaussian
prior anyway, so samples land off the data even with a perfect score. The remedy kept here
draws the kept coordinates from the prior, as before, and the compressed ones from the
latents of training points: those of the training latent nearest in the kept coordinates (a
nearest-neighbour draw from their conditional distribution;
:func:`~inflationary_flows.flow.compressed_from_latents`, in the core so that the flow step
uses it without tracking this module). Only training points are used,
so held-out data stays held out.

:func:`prr_sweep` measures both against T and IG with the exact score of a distribution
built on training points (:func:`~inflationary_flows.analyses.exact.exact_flow`), so what
it shows is the method's, not a network's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..flow import compressed_from_latents
from ..spec import resolve_dims_to_keep
from .exact import exact_flow
from .metrics import calibration_radii, generation_quality, latent_calibration


def orig_gap(dim: int, keep: int) -> float:
    """The inflation gap of the paper's "orig" PRR rates, D / (D - d)."""
    return dim / (dim - keep)


@torch.no_grad()
def prr_point(atoms: Tensor, test: Tensor, spec: Mapping[str, Any], n: int,
              solver: Mapping[str, Any], generator: torch.Generator,
              bandwidth: float = 0.0) -> dict[str, Any]:
    """One schedule: kept-dims and full-D calibration of ``n`` held-out points, and the
    energy-distance ratio of ``n`` samples against ``test`` (2n points or more) with the
    compressed coordinates from the Gaussian prior and from the atoms' own latents."""
    if test.shape[0] < 2 * n:
        raise ValueError(f"the sweep needs 2 x {n} held-out points, got {test.shape[0]}")
    dim = atoms.shape[1]
    keep = resolve_dims_to_keep(spec, dim)
    flow = exact_flow(atoms, spec, bandwidth=bandwidth, solver=solver)
    variance = flow.latent_variance()
    up = flow.inflate(test[:n])
    train_latents = flow.inflate(atoms).value
    prior = flow.sample_prior(n, generator)
    gaussian = flow.generate(prior)
    empirical = flow.generate(compressed_from_latents(prior, train_latents, keep))
    z = up.value
    return {
        "t_max": spec["t_max"], "inflation_gap": spec["inflation_gap"], "keep": keep,
        "is_orig_gap": abs(spec["inflation_gap"] - orig_gap(dim, keep)) < 1e-12,
        "n": n,
        "kept_calibration_pp": 100 * latent_calibration(
            z[:, :keep], variance[:keep], calibration_radii(keep))["max_abs_error"],
        "full_calibration_pp": 100 * latent_calibration(
            z, variance, calibration_radii(dim))["max_abs_error"],
        "compressed_variance_ratio": (z[:, keep:].var(0) / variance[keep:]).tolist(),
        "ratio_gaussian_prior": generation_quality(gaussian.value, test)["ratio"],
        "ratio_empirical_compressed": generation_quality(empirical.value, test)["ratio"],
        "nfe": {"inflation": up.nfe, "generation": gaussian.nfe},
    }


def prr_sweep(atoms: Tensor, test: Tensor, spec: Mapping[str, Any], t_maxes: Sequence[float],
              gaps: Sequence[float], n: int, solver: Mapping[str, Any], seed: int,
              bandwidth: float = 0.0) -> list[dict[str, Any]]:
    """:func:`prr_point` for every (T, IG) of ``t_maxes`` x ``gaps``, the other schedule
    fields from ``spec`` (a PRR spec, g_mode constant_gap); the same prior draws for all."""
    if spec["kind"] != "prr":
        raise ValueError(f"the PRR sweep needs a PRR schedule, got kind '{spec['kind']}'")
    rows = []
    for t_max in t_maxes:
        for gap in gaps:
            point = {**spec, "g_mode": "constant_gap", "inflation_gap": float(gap),
                     "t_max": float(t_max)}
            rows.append(prr_point(atoms, test, point, n, solver,
                                  torch.Generator().manual_seed(seed), bandwidth))
    return rows
