"""Time features shared by every backbone (kept apart so that backbones import it, and
:mod:`.networks` imports the backbones, without a cycle)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FourierTime(nn.Module):
    """[t/T, sin(pi k t/T), cos(pi k t/T)] for k = 1..n: smooth features on [0, T]."""

    def __init__(self, n_features: int, t_max: float) -> None:
        super().__init__()
        self.register_buffer("freqs", math.pi * torch.arange(1, n_features + 1) / t_max)
        self.t_max = float(t_max)
        self.dim = 2 * n_features + 1

    def forward(self, t: Tensor) -> Tensor:
        angle = t.unsqueeze(-1) * self.freqs.to(t.dtype)
        return torch.cat([t.unsqueeze(-1) / self.t_max, angle.sin(), angle.cos()], dim=-1)
