"""A denoiser that is one denoiser for t in chosen bands and another elsewhere.

With the exact denoiser of a model's training set (:func:`.exact.exact_flow`) inside one band
and the trained network outside, the flow shows how much of a training gap that band makes:
the diagnosis of issue 14 (docs/results.md, "Where the training gap is").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..denoisers import Denoiser
from ..flow import InflationaryFlow
from .metrics import calibration_radii, generation_quality, latent_calibration


class HybridDenoiser(Denoiser):
    """``inside`` for t in any of ``bands`` (half-open [lo, hi)), ``outside`` elsewhere.

    Both denoisers must share the schedule (and so the eigen coordinates): e.g. the exact
    denoiser of a model's training set inside, the trained network outside. Each is
    evaluated only on the rows whose t it serves, so an expensive exact denoiser costs
    nothing outside its bands. The flow integrates :meth:`residual`, which is each
    denoiser's own (the Gaussian denoiser's zero is exact, not a round-off difference).
    """

    def __init__(self, inside: Denoiser, outside: Denoiser,
                 bands: Sequence[tuple[float, float]]) -> None:
        super().__init__(outside.schedule)
        if not torch.equal(inside.schedule.eigenvalues, outside.schedule.eigenvalues):
            raise ValueError("the two denoisers need the same schedule eigenvalues")
        for lo, hi in bands:
            if not lo < hi:
                raise ValueError(f"a band needs lo < hi, got [{lo}, {hi})")
        self.inside = inside
        self.outside = outside
        self.bands = [(float(lo), float(hi)) for lo, hi in bands]

    def in_bands(self, t: Tensor) -> Tensor:
        mask = torch.zeros(t.shape, dtype=torch.bool, device=t.device)
        for lo, hi in self.bands:
            mask |= (t >= lo) & (t < hi)
        return mask

    def _split(self, method: str, u: Tensor, t: Tensor) -> Tensor:
        t = t.expand(u.shape[0]) if t.ndim == 0 else t
        mask = self.in_bands(t)
        if bool(mask.all()):
            return getattr(self.inside, method)(u, t)
        if not bool(mask.any()):
            return getattr(self.outside, method)(u, t)
        out = torch.empty_like(u)
        out[mask] = getattr(self.inside, method)(u[mask], t[mask])
        out[~mask] = getattr(self.outside, method)(u[~mask], t[~mask])
        return out

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        return self._split("forward", u, t)

    def residual(self, u: Tensor, t: Tensor) -> Tensor:
        return self._split("residual", u, t)


@torch.no_grad()
def band_diagnosis(network: Denoiser, exact: Denoiser, flow: InflationaryFlow,
                   bands: Sequence[tuple[float, float]], x: Tensor, pool: Tensor,
                   n_generate: int, seed: int) -> list[dict]:
    """Calibration and generation of hybrid flows: the exact denoiser in one band of t at a
    time, the network elsewhere, beside the network alone and the exact denoiser alone.

    ``flow`` gives the basis and solver; ``x`` is inflated (calibration max gap over the
    paper's radii), ``n_generate`` prior samples (the same for every row) are generated
    against the held-out ``pool`` (energy-distance ratio).
    """
    rows = []
    span = (float("-inf"), float("inf"))
    cases = [("network", None), *[(f"[{lo:g}, {hi:g})", (lo, hi)) for lo, hi in bands],
             ("exact", span)]
    prior = flow.sample_prior(n_generate, torch.Generator().manual_seed(seed))
    for label, band in cases:
        denoiser = network if band is None else HybridDenoiser(exact, network, [band])
        hybrid = InflationaryFlow(denoiser, flow.basis, flow.solver)
        z = hybrid.inflate(x).value
        cal = latent_calibration(z, hybrid.latent_variance(), calibration_radii(x.shape[1]))
        quality = generation_quality(hybrid.generate(prior).value, pool)
        rows.append({"exact_in": label, "calibration_max_gap_pp": 100 * cal["max_abs_error"],
                     "fraction_inside": cal["fraction_inside"], "chi2_mass": cal["chi2_mass"],
                     "ratio": quality["ratio"], "n_eval": x.shape[0], "n_ratio": quality["n"]})
    return rows
