"""The participation ratio along the flow, measured on samples against its closed form.

The data are the empirical distribution of ``atoms`` (N points), whose smoothed score is
exact (:class:`MixtureDenoiser`). Samples of p_{t_min} = atoms * N(0, C(t_min)) pushed by the
pfODE are distributed as p_t at every later t (that is what the flow does), so the covariance
of the pushed samples estimates Sigma(t) = diag(lambda) + C(t) in the atoms' eigenbasis, and
its PR estimates the closed form PR(Sigma(t)) of paper section 1.2: constant for the
main-text PRP schedule, drifting towards D for the exponential form's isotropic noise, and
towards the PR of the kept spectrum for PRR (section 1.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..basis import EigenBasis
from ..pca import participation_ratio
from ..schedules import ExponentialSchedule
from .exact import eigenbasis_of, exact_flow


@dataclass
class PRTrack:
    times: np.ndarray
    empirical: np.ndarray  # PR of the sample covariance of the pushed samples
    closed_form: np.ndarray  # PR(diag(lambda) + C(t))
    limit: float  # PR of the spectrum the schedule keeps (t -> infinity)
    eigenvalues: np.ndarray
    nfe: int


def empirical_eigenbasis(atoms: Tensor) -> tuple[Tensor, EigenBasis]:
    """Exact covariance of the empirical distribution (1/N, not 1/(N-1)): its eigenvalues
    (descending) and eigenbasis."""
    return eigenbasis_of(atoms, covariance="empirical", eigensolver="torch")


def pr_along_flow(atoms: Tensor, schedule_spec: dict[str, Any], n_samples: int,
                  frames: int, solver: dict[str, Any], seed: int) -> PRTrack:
    """Push ``n_samples`` draws of p_{t_min} through the exact-score flow; PR per frame."""
    lam, basis = empirical_eigenbasis(atoms)
    flow = exact_flow(atoms, schedule_spec, basis, eigenvalues=lam, solver=solver)
    schedule = flow.schedule
    t0, t1 = schedule_spec["t_min"], schedule_spec["t_max"]
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, atoms.shape[0], (n_samples,), generator=gen)
    noise = torch.randn(n_samples, atoms.shape[1], generator=gen, dtype=atoms.dtype)
    u0 = basis.to_eigen(atoms[pick]) + schedule.C(t0).sqrt() * noise
    times = np.linspace(t0, t1, frames)
    with torch.no_grad():
        result = flow.inflate(basis.to_data(u0), record=times.tolist())
    empirical = []
    for t, states in zip(times, result.states, strict=True):
        u = states / schedule.A(float(t))  # unscaled eigen coordinates
        empirical.append(participation_ratio(np.linalg.eigvalsh(np.cov(u.numpy().T))))
    closed = schedule.participation_ratio(torch.as_tensor(times)).numpy()
    return PRTrack(times, np.asarray(empirical), closed, _limit(schedule, lam),
                   lam.numpy(), result.nfe)


def _limit(schedule, lam: Tensor) -> float:
    """PR as t -> infinity. Only the axes with the largest rate g survive; noise
    proportional to lambda (main text) keeps their spectrum, PR(lambda_kept), while the
    exponential form's isotropic noise gamma0 e^{rho g t} swamps it: PR = their number."""
    kept = schedule.g == schedule.g.max()
    if isinstance(schedule, ExponentialSchedule):
        return float(kept.sum())
    return participation_ratio(lam[kept].numpy())
