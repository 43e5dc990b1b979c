"""The inflationary-flow preconditioner around any backbone network (paper section 1.6).

Per eigen-dimension, with lambda_i playing EDM's sigma_data^2 and C_i(t) its sigma^2:

    c_skip = lambda / (lambda + C)        c_in  = 1 / sqrt(lambda + C)
    c_out  = sqrt(lambda C / (lambda + C)) c_noise = t          loss weight = 1 / c_out

    D(u, t) = c_skip u + c_out F(c_in u, c_noise(t))

With F = 0 this is the exact denoiser of Gaussian data with the data's covariance, and the
loss below equals 1 in expectation for *any* data (it depends on second moments only), so the
loss relative to 1 measures what the network learned beyond the linear (Gaussian) denoiser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .basis import EigenBasis
from .denoisers import Denoiser, empirical_posterior_mean
from .schedules import Schedule, skip_coefficient


def coefficients(eigenvalues: Tensor, C: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(c_skip, c_in, c_out) in closed form; c_out^2 = lambda C/(lambda + C) is never negative."""
    total = eigenvalues + C
    return skip_coefficient(eigenvalues, C), torch.rsqrt(total), torch.sqrt(eigenvalues * C / total)


def ramp_weight(t: Tensor, start: float, end: float) -> Tensor:
    """1 for t <= start, 0 for t >= end, and a half cosine in ln t between (continuous with
    its first derivative, so an adaptive solver meets no kink): the share of F that a
    :class:`LowTimeNetwork` takes."""
    x = ((t.log() - math.log(start)) / (math.log(end) - math.log(start))).clamp(0, 1)
    return 0.5 * (1 + torch.cos(math.pi * x))


class LowTimeNetwork(nn.Module):
    """A second backbone that takes F over at small t: F = w F_low + (1 - w) F_main with
    w = :func:`ramp_weight` (t, *ramp). It is trained on t in [t_min, ramp[1]] only, the
    range where w > 0, and evaluated only there.

    Why (docs/results.md, "one denoiser from both networks"): on 1438 digits a convolutional
    network generalises at small t, where the MLP memorises its training images, while the
    MLP's large-t action gives the samples their shape.
    """

    def __init__(self, backbone: nn.Module, space: str, ramp: Sequence[float]) -> None:
        super().__init__()
        start, end = (float(v) for v in ramp)
        if not 0 < start < end:
            raise ValueError(f"low_t ramp must satisfy 0 < start < end, got {list(ramp)}")
        self.backbone = backbone
        self.space = space
        self.ramp = (start, end)


def _check_space(space: str, basis: EigenBasis | None, what: str) -> None:
    if space not in ("eigen", "data"):
        raise ValueError(f"{what} must be 'eigen' or 'data', got '{space}'")
    if space == "data" and basis is None:
        raise ValueError(f"{what}='data' needs the eigenbasis")


class IFPreconditioner(Denoiser):
    """D(u, t) = c_skip u + c_out F(c_in u, t), the network F seeing eigen or data coordinates.

    ``space="eigen"``: F sees c_in u and returns eigen coordinates (toy default).
    ``space="data"``: the scaled input is rotated to data space, F's output rotated back
    (image default: convolutions need pixel layout). Loss and flow stay in eigen space.
    The network may run in float32 while the flow state is float64: inputs are cast to the
    network's parameter dtype and outputs back.
    With ``low_t`` (a :class:`LowTimeNetwork`), F is the blend of the two networks.
    """

    def __init__(self, backbone: nn.Module, schedule: Schedule, basis: EigenBasis | None = None,
                 space: str = "eigen", low_t: LowTimeNetwork | None = None) -> None:
        super().__init__(schedule)
        _check_space(space, basis, "space")
        if low_t is not None:
            _check_space(low_t.space, basis, "low_t space")
        self.backbone = backbone
        self.basis = basis
        self.space = space
        self.low_t = low_t

    def _run(self, backbone: nn.Module, space: str, x: Tensor, t: Tensor,
             dtype: torch.dtype) -> Tensor:
        """One backbone's output in eigen coordinates (as ``dtype``) for scaled eigen input x."""
        if space == "data":
            x = self.basis.rotate_to_data(x)
        param = next(backbone.parameters(), None)
        net_dtype = param.dtype if param is not None else self.schedule.eigenvalues.dtype
        out = backbone(x.to(net_dtype), t.to(net_dtype)).to(dtype)
        return self.basis.rotate_to_eigen(out) if space == "data" else out

    def network(self, u: Tensor, t: Tensor, c_in: Tensor) -> Tensor:
        """F in eigen coordinates, for eigen input u at times t (B,)."""
        x = c_in * u
        F = self._run(self.backbone, self.space, x, t, u.dtype)
        if self.low_t is None:
            return F
        w = ramp_weight(t, *self.low_t.ramp)
        near = w > 0
        # rows may sit at different t (dopri5 steps each row on its own; training batches):
        # the low network runs on the rows where its share is not 0
        if bool(near.all()):
            low = self._run(self.low_t.backbone, self.low_t.space, x, t, u.dtype)
        elif bool(near.any()):
            low = F.clone()
            low[near] = self._run(self.low_t.backbone, self.low_t.space, x[near], t[near],
                                  u.dtype)
        else:
            return F
        return F + w.unsqueeze(-1) * (low - F)

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        c_skip, c_in, c_out = coefficients(self.schedule.eigenvalues, self.schedule.C(t))
        return c_skip * u + c_out * self.network(u, t, c_in)

    def residual(self, u: Tensor, t: Tensor) -> Tensor:
        _, c_in, c_out = coefficients(self.schedule.eigenvalues, self.schedule.C(t))
        return c_out * self.network(u, t, c_in)

    def loss_terms(self, u0: Tensor, t: Tensor, noise: Tensor,
                   target_points: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(F, target) at y = u0 + sqrt(C(t)) noise, with EDM's effective target
        (u0 - c_skip y) / c_out, so that (F - target)^2 = ||(D(y) - u0) / c_out||^2.

        With ``target_points`` (training points that include the batch), u0 in the target is
        replaced by the posterior mean of u0 over them (the "stable target field" estimator,
        Xu et al. 2023): the same minimiser as the set of points grows, far less variance.

        Dimensions with C = 0 (no noise injected, possible only in the main-text PRR with
        g = 0) carry no information: their target and F are set to 0 (zero loss).
        """
        C = self.schedule.C(t)
        c_skip, c_in, c_out = coefficients(self.schedule.eigenvalues, C)
        y = u0 + torch.sqrt(C) * noise
        clean = u0 if target_points is None else empirical_posterior_mean(y, C, target_points)
        active = c_out > 0
        target = torch.where(active, (clean - c_skip * y) / torch.where(active, c_out, 1.0), 0.0)
        F = torch.where(active, self.network(y, t, c_in), 0.0)
        return F, target

    def response_terms(self, u0: Tensor, t: Tensor, noise: Tensor, F: Tensor,
                       target: Tensor) -> Tensor:
        """q = y (D(y) - u0) / (lambda + C) per row and direction, from :meth:`loss_terms`.

        Over rows at one t, E[q] = delta, the slope of the denoiser's error on its input: the
        error of its linear response (0 for the exact denoiser, and for F = 0 on any data,
        the linear denoiser being the least-squares line). By Stein's identity
        E[y (y - D*)] = C, a slope error delta makes the flow's variance ratio
        E[y^2] / (lambda + C) in that direction drift at -delta dC/dt / C, while the loss
        charges it delta^2 (lambda + C)^2 / (lambda C) >= 4 delta^2 against the Gaussian
        denoiser's 1: an error the loss hardly sees can still mis-scale the latents.
        """
        C = self.schedule.C(t)
        _, _, c_out = coefficients(self.schedule.eigenvalues, C)
        y = u0 + torch.sqrt(C) * noise
        return y * c_out * (F.to(y.dtype) - target) / (self.schedule.eigenvalues + C)

    def loss(self, u0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Per-sample, per-dimension loss; F = 0 (the Gaussian denoiser) scores 1 on average."""
        F, target = self.loss_terms(u0, t, noise)
        return (F - target) ** 2
