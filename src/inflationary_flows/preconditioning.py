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

import torch
from torch import Tensor, nn

from .basis import EigenBasis
from .denoisers import Denoiser, empirical_posterior_mean
from .schedules import Schedule, skip_coefficient


def coefficients(eigenvalues: Tensor, C: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(c_skip, c_in, c_out) in closed form; c_out^2 = lambda C/(lambda + C) is never negative."""
    total = eigenvalues + C
    return skip_coefficient(eigenvalues, C), torch.rsqrt(total), torch.sqrt(eigenvalues * C / total)


class IFPreconditioner(Denoiser):
    """D(u, t) = c_skip u + c_out F(c_in u, t), the network F seeing eigen or data coordinates.

    ``space="eigen"``: F sees c_in u and returns eigen coordinates (toy default).
    ``space="data"``: the scaled input is rotated to data space, F's output rotated back
    (image default: convolutions need pixel layout). Loss and flow stay in eigen space.
    The network may run in float32 while the flow state is float64: inputs are cast to the
    network's parameter dtype and outputs back.
    """

    def __init__(self, backbone: nn.Module, schedule: Schedule, basis: EigenBasis | None = None,
                 space: str = "eigen") -> None:
        super().__init__(schedule)
        if space not in ("eigen", "data"):
            raise ValueError(f"space must be 'eigen' or 'data', got '{space}'")
        if space == "data" and basis is None:
            raise ValueError("space='data' needs the eigenbasis")
        self.backbone = backbone
        self.basis = basis
        self.space = space

    def _network_dtype(self) -> torch.dtype:
        param = next(self.backbone.parameters(), None)
        return param.dtype if param is not None else self.schedule.eigenvalues.dtype

    def network(self, u: Tensor, t: Tensor, c_in: Tensor) -> Tensor:
        """F in eigen coordinates, for eigen input u at times t (B,)."""
        x = c_in * u
        if self.space == "data":
            x = self.basis.rotate_to_data(x)
        dtype = self._network_dtype()
        out = self.backbone(x.to(dtype), t.to(dtype)).to(u.dtype)
        return self.basis.rotate_to_eigen(out) if self.space == "data" else out

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
