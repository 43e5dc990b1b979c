"""A DDPM++-style UNet backbone F(x, t) for images (paper section 2.3), written from its
description: residual blocks with GroupNorm and SiLU, additive time embedding, self-attention
at chosen resolutions, skip connections between matching resolutions, and a zero-initialised
output so that the untrained preconditioned model is the Gaussian denoiser.

Inputs and outputs are flattened images (B, C*H*W) in channel-major order (the datasets'
storage layout), so the preconditioner treats it like any other backbone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as nnf

from .time_embedding import FourierTime


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, channels), channels, eps=1e-6)


class ResBlock(nn.Module):
    """GN-SiLU-conv, + time embedding, GN-SiLU-dropout-conv, skip; scaled by 1/sqrt(2)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(nnf.silu(self.norm1(x))) + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(nnf.silu(self.norm2(h))))
        return (h + self.skip(x)) / math.sqrt(2)


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).transpose(-1, -2).unbind(1)
        out = nnf.scaled_dot_product_attention(q, k, v)  # (b, hw, c)
        return (x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))) / math.sqrt(2)


class Level(nn.Module):
    """The blocks of one resolution (each optionally followed by attention)."""

    def __init__(self, channels: Sequence[tuple[int, int]], emb_dim: int, attend: bool,
                 dropout: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(i, o, emb_dim, dropout) for i, o in channels)
        self.attn = nn.ModuleList(Attention(o) if attend else nn.Identity() for _, o in channels)


class UNet(nn.Module):
    """F(x, t) on (C, H, W) images: ``channels * multipliers[i]`` channels at level i
    (resolution H / 2^i), ``blocks`` residual blocks per level on the way down and
    ``blocks + 1`` on the way up, attention where the resolution is in ``attention``."""

    def __init__(self, dim: int, t_max: float, image_shape: Sequence[int], channels: int = 128,
                 multipliers: Sequence[int] = (2, 2, 2), blocks: int = 4,
                 attention: Sequence[int] = (16,), dropout: float = 0.0,
                 time_features: int = 32) -> None:
        super().__init__()
        shape = tuple(image_shape) if len(image_shape) == 3 else (1, *image_shape)
        if math.prod(shape) != dim:
            raise ValueError(f"image shape {shape} has {math.prod(shape)} values, data has {dim}")
        if shape[1] % 2 ** (len(multipliers) - 1) or shape[2] % 2 ** (len(multipliers) - 1):
            raise ValueError(f"{shape[1]}x{shape[2]} images do not halve {len(multipliers) - 1} "
                             "times; use fewer multipliers")
        self.config = {"kind": "unet", "dim": dim, "t_max": t_max, "image_shape": list(shape),
                       "channels": channels, "multipliers": list(multipliers), "blocks": blocks,
                       "attention": list(attention), "dropout": dropout,
                       "time_features": time_features}
        self.shape = shape
        emb_dim = 4 * channels
        self.time = FourierTime(time_features, t_max)
        self.time_mlp = nn.Sequential(nn.Linear(self.time.dim, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        self.inp = nn.Conv2d(shape[0], channels, 3, padding=1)
        widths = [channels * m for m in multipliers]
        resolutions = [shape[1] // 2**i for i in range(len(widths))]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        skips, c = [channels], channels  # channels of every feature map the decoder joins
        for i, (width, res) in enumerate(zip(widths, resolutions, strict=True)):
            pairs = [(c if b == 0 else width, width) for b in range(blocks)]
            self.down.append(Level(pairs, emb_dim, res in attention, dropout))
            c = width
            skips += [width] * blocks
            last = i == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, 2, padding=1))
            skips += [] if last else [c]
        self.mid = Level([(c, c), (c, c)], emb_dim, False, dropout)
        self.mid_attn = Attention(c)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(widths))):
            width, res = widths[i], resolutions[i]
            pairs = []
            for _ in range(blocks + 1):
                pairs.append((c + skips.pop(), width))
                c = width
            self.up.append(Level(pairs, emb_dim, res in attention, dropout))
            self.upsample.append(nn.Identity() if i == 0 else nn.Conv2d(c, c, 3, padding=1))
        self.out_norm = _norm(c)
        self.out = nn.Conv2d(c, shape[0], 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = self.time_mlp(self.time(t))
        h = self.inp(x.reshape(-1, *self.shape))
        skips = [h]
        for level, down in zip(self.down, self.downsample, strict=True):
            for block, attn in zip(level.blocks, level.attn, strict=True):
                h = attn(block(h, emb))
                skips.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                skips.append(h)
        h = self.mid.blocks[1](self.mid_attn(self.mid.blocks[0](h, emb)), emb)
        for level, up in zip(self.up, self.upsample, strict=True):
            for block, attn in zip(level.blocks, level.attn, strict=True):
                h = attn(block(torch.cat([h, skips.pop()], dim=1), emb))
            if not isinstance(up, nn.Identity):
                h = up(nnf.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out(nnf.silu(self.out_norm(h))).flatten(1)
