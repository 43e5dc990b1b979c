"""Temporal correlation of denoiser residuals (paper appendix C.3).

r(t) = D(u_0 + n_t, t) - u_0 with fresh noise n_t ~ N(0, C(t)) at every t, for held-out u_0.
The correlation over samples (pooled over dimensions),

    R(t1, t2) = cov(r(t1), r(t2)) / (sd(t1) sd(t2)),

is normalised by the outer product of the standard deviations at the two times, so that
R(t, t) = 1. (The official code divides by one time's deviation only, which makes the
matrix asymmetric and its scale depend on the noise level.) Weak off-diagonal correlation
means the error of the learned score acts like noise whose effect shrinks with the step size.

At high noise D ~ the data mean, so r(t) ~ -u_0 at every t and R -> 1 there by construction.
The error that drives the integration is the network's deviation from the exact denoiser;
with ``exact`` (the exact denoiser of the training set's empirical distribution), the
same statistic is computed for e(t) = D(y_t, t) - D_ref(y_t, t) on the same noisy points.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..denoisers import Denoiser
from ..schedules import skip_coefficient


@torch.no_grad()
def residual_correlation(denoiser: Denoiser, u0: Tensor, times: Tensor,
                         generator: torch.Generator, exact: Denoiser | None = None
                         ) -> tuple[Tensor, Tensor]:
    """(R (T, T), sd (T,)) for eigen-coordinate points u0 (M, D) at ``times`` (T,); of
    D - u_0, or of D - D_exact with an ``exact`` denoiser."""
    rows = []
    for t in times:
        tt = t.expand(u0.shape[0])
        noise = torch.randn(u0.shape, generator=generator, dtype=u0.dtype)
        y = u0 + denoiser.schedule.C(tt).sqrt() * noise
        rows.append(denoiser(y, tt) - (u0 if exact is None else exact(y, tt)))
    return correlation(torch.stack(rows))


def correlation(r: Tensor) -> tuple[Tensor, Tensor]:
    """Correlation over samples, pooled over dimensions, of residuals r (T, M, D)."""
    r = r - r.mean(1, keepdim=True)
    flat = r.reshape(r.shape[0], -1)
    cov = flat @ flat.T / r.shape[1]
    sd = cov.diagonal().sqrt()
    return cov / torch.outer(sd, sd), sd


def gaussian_residual_correlation(eigenvalues: Tensor, C: Tensor) -> Tensor:
    """Closed form of R for Gaussian data N(0, diag(lambda)) and its exact denoiser.

    D(y) = c y with c = lambda / (lambda + C), so r(t) = (c - 1) u_0 + c sqrt(C) eps_t and,
    summed over dimensions, cov(t1, t2) = sum (c1 - 1)(c2 - 1) lambda for t1 != t2, while
    var(t) = sum (c - 1)^2 lambda + c^2 C. ``C``: (T, D) noise variances at the T times.
    """
    c = skip_coefficient(eigenvalues, C)
    shared = (c - 1) * eigenvalues.sqrt()  # the part of r driven by u_0
    cov = shared @ shared.T
    var = (shared**2).sum(-1) + (c**2 * C).sum(-1)
    cov = cov - torch.diag(cov.diagonal()) + torch.diag(var)
    sd = var.sqrt()
    return cov / torch.outer(sd, sd)
