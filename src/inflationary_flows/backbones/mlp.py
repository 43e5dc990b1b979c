"""The residual MLP backbone F(x, t) of the toys, tables and digits."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .time_embedding import FourierTime


class ResidualBlock(nn.Module):
    def __init__(self, width: int, time_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: Tensor, temb: Tensor) -> Tensor:
        z = torch.nn.functional.silu(self.fc1(self.norm(h)) + self.time(temb))
        return h + self.fc2(z)


class FourierInputs(nn.Module):
    """[x, sin(x B), cos(x B)] with B (D, n) drawn once from N(0, scale^2): random Fourier
    features (Tancik et al. 2020). A plain MLP of a few inputs learns the low frequencies of
    its target first and stalls on the rest; on the 3-D toys that left the denoiser short of
    the data's exact one where the noise is comparable to the data (docs/results.md, "Where
    the training gap is"). B is a buffer: the model file carries it."""

    def __init__(self, dim: int, n_features: int, scale: float) -> None:
        super().__init__()
        self.register_buffer("frequencies", scale * torch.randn(dim, n_features))
        self.dim = dim + 2 * n_features

    def forward(self, x: Tensor) -> Tensor:
        angle = x @ self.frequencies.to(x.dtype)
        return torch.cat([x, angle.sin(), angle.cos()], dim=-1)


class ResidualMLP(nn.Module):
    """F(x, t) for D-dimensional inputs: a residual MLP with Fourier time features and, with
    ``fourier_features`` > 0, random Fourier features of its input (:class:`FourierInputs`).

    The output layer starts at zero, so an untrained network *is* the Gaussian denoiser
    (F = 0) and training measures its gain from there.
    """

    def __init__(self, dim: int, t_max: float, width: int = 128, depth: int = 4,
                 time_features: int = 16, fourier_features: int = 0,
                 fourier_scale: float = 1.0) -> None:
        super().__init__()
        self.config = {"kind": "mlp", "dim": dim, "t_max": t_max, "width": width,
                       "depth": depth, "time_features": time_features}
        if fourier_features:  # drawn first; without features the layers initialise as before
            self.config |= {"fourier_features": fourier_features, "fourier_scale": fourier_scale}
            self.inputs = FourierInputs(dim, fourier_features, fourier_scale)
        else:
            self.inputs = nn.Identity()
        self.time = FourierTime(time_features, t_max)
        self.inp = nn.Linear(getattr(self.inputs, "dim", dim) + self.time.dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, self.time.dim) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        temb = self.time(t)
        h = self.inp(torch.cat([self.inputs(x), temb], dim=-1))
        for block in self.blocks:
            h = block(h, temb)
        return self.out(torch.nn.functional.silu(self.out_norm(h)))

