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


class ResidualMLP(nn.Module):
    """F(x, t) for D-dimensional inputs: a residual MLP with Fourier time features.

    The output layer starts at zero, so an untrained network *is* the Gaussian denoiser
    (F = 0) and training measures its gain from there.
    """

    def __init__(self, dim: int, t_max: float, width: int = 128, depth: int = 4,
                 time_features: int = 16) -> None:
        super().__init__()
        self.config = {"kind": "mlp", "dim": dim, "t_max": t_max, "width": width,
                       "depth": depth, "time_features": time_features}
        self.time = FourierTime(time_features, t_max)
        self.inp = nn.Linear(dim + self.time.dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, self.time.dim) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        temb = self.time(t)
        h = self.inp(torch.cat([x, temb], dim=-1))
        for block in self.blocks:
            h = block(h, temb)
        return self.out(torch.nn.functional.silu(self.out_norm(h)))

