"""The one builder of an exact-score flow from data points, and a hybrid denoiser.

The empirical distribution of N points (or a Gaussian mixture centred on them) has a smoothed
score in closed form (:class:`~inflationary_flows.denoisers.MixtureDenoiser`), so its flow
needs no training: it is the method's limit on that data, the reference a trained model is
judged beside (docs/design.md), and the exact score the analyses push samples with.

:func:`exact_flow` is the only place that builds one. What the analyses differ in is an
argument, not a second builder:

- the schedule: a spec (built on the points' own eigenvalues) or a given :class:`Schedule`
  with its :class:`EigenBasis` (a trained model's, or a PCA file's);
- the points' covariance when the schedule is built here: ``covariance="sample"`` (1/(N-1),
  what the pipeline's PCA files hold) or ``"empirical"`` (1/N: the exact covariance of the
  empirical distribution), computed by ``eigensolver="numpy"`` (:func:`fit_pca`, with its sign
  convention) or ``"torch"`` (``torch.linalg.eigh``);
- the components: points (``bandwidth=0``), a Gaussian kernel density estimate
  (``bandwidth > 0``, whose covariance adds bandwidth^2 to every eigenvalue), or Gaussian
  components with their own ``variances`` and ``weights``;
- the solver setting, over the spec's time span unless the setting names one.

The hybrid of an exact denoiser and a trained one, band by band in t, is
:class:`~inflationary_flows.analyses.hybrid.HybridDenoiser`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..basis import EigenBasis
from ..denoisers import Denoiser, MixtureDenoiser, empirical_posterior_mean
from ..flow import InflationaryFlow, SolverConfig
from ..models import schedule_from_spec
from ..pca import fit_pca
from ..schedules import Schedule


class KernelDensityDenoiser(Denoiser):
    """Exact denoiser of a Gaussian kernel density estimate: components N(m_k, h^2 I).

    Given y, component k has posterior weight r_k proportional to N(y; m_k, (h^2 + C) I) and
    E[u_0 | y, k] = m_k + h^2 / (h^2 + C) (y - m_k), so
    D(y) = C / (h^2 + C) * sum_k r_k m_k + h^2 / (h^2 + C) * y: one softmax over the points
    (two matrix products), where the general mixture needs a (B, K, D) tensor.
    """

    def __init__(self, schedule: Schedule, points: Tensor, bandwidth: float) -> None:
        super().__init__(schedule)
        self.register_buffer("points", points)
        self.h2 = bandwidth**2

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        C = self.schedule.C(t)
        total = C + self.h2
        return C / total * empirical_posterior_mean(u, total, self.points) + self.h2 / total * u


def eigenbasis_of(points: Tensor, covariance: str = "sample",
                  eigensolver: str = "numpy") -> tuple[Tensor, EigenBasis]:
    """Eigenvalues (descending) and eigenbasis of the points' covariance.

    ``covariance``: "sample" (1/(N-1)) or "empirical" (1/N, the exact covariance of the
    empirical distribution). ``eigensolver``: "numpy" (:func:`fit_pca`: batched float64
    accumulation, deterministic signs) or "torch" (one ``torch.linalg.eigh``).
    """
    if covariance not in ("sample", "empirical"):
        raise ValueError(f"covariance must be 'sample' or 'empirical', got '{covariance}'")
    n = points.shape[0]
    if eigensolver == "numpy":
        pca = fit_pca(points.numpy())
        lam = torch.as_tensor(pca.eigenvalues)
        if covariance == "empirical":
            lam = lam * (n - 1) / n
        return lam, EigenBasis.from_pca(pca)
    if eigensolver == "torch":
        mean = points.mean(0)
        centred = points - mean
        lam, w = torch.linalg.eigh(centred.T @ centred / (n if covariance == "empirical"
                                                          else n - 1))
        return lam.flip(0).clamp_min(0), EigenBasis(w.flip(1), mean)
    raise ValueError(f"eigensolver must be 'numpy' or 'torch', got '{eigensolver}'")


def exact_flow(points: Tensor, schedule: Schedule | Mapping[str, Any],
               basis: EigenBasis | None = None, *, eigenvalues: Tensor | None = None,
               covariance: str = "sample",
               eigensolver: str = "numpy", bandwidth: float = 0.0,
               variances: Tensor | None = None, weights: Tensor | None = None,
               solver: SolverConfig | Mapping[str, Any] | None = None) -> InflationaryFlow:
    """The flow of the exact score of a distribution built on ``points`` (N, D), data space.

    ``schedule``: a spec (paper-convention parameters and ``t_min``/``t_max``), built here on
    the eigenvalues of the points' ``covariance`` (plus ``bandwidth``^2) in their own
    eigenbasis, or on given ``eigenvalues`` with their ``basis`` (e.g. a PCA file's); or a
    :class:`Schedule`, used as given, with ``basis`` (default: identity).
    Components: the points themselves (bandwidth 0, the empirical distribution), Gaussian
    kernels of width ``bandwidth`` (data units) on them, or N(point_k, diag(variances_k))
    with ``weights`` (eigen coordinates).
    ``solver``: a :class:`SolverConfig`, or its fields (``t_min``/``t_max`` default to the
    spec's).
    """
    if isinstance(schedule, Schedule):
        spec = None
        if eigenvalues is not None:
            raise ValueError("a built Schedule has its eigenvalues; give a spec to set them")
        basis = basis or EigenBasis.identity(points.shape[1])
    else:
        spec = schedule
        if (basis is None) != (eigenvalues is None):
            raise ValueError("with a spec, give both a basis and its eigenvalues, or neither")
        if basis is None:
            eigenvalues, basis = eigenbasis_of(points, covariance, eigensolver)
        if bandwidth:
            eigenvalues = eigenvalues + bandwidth**2
        schedule = schedule_from_spec(spec, torch.as_tensor(eigenvalues))
    if bandwidth and variances is not None:
        raise ValueError("give a kernel bandwidth or component variances, not both")
    means = basis.to_eigen(points)
    if bandwidth:
        denoiser: Denoiser = KernelDensityDenoiser(schedule, means, bandwidth)
    else:
        denoiser = MixtureDenoiser(schedule, means, variances, weights)
    if not isinstance(solver, SolverConfig):
        span = {} if spec is None else {"t_min": spec["t_min"], "t_max": spec["t_max"]}
        solver = SolverConfig(**{**span, **(solver or {})})
    return InflationaryFlow(denoiser, basis, solver)

