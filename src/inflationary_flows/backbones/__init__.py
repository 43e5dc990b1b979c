"""Backbone networks F(x, t) inside the preconditioner: a residual MLP (:mod:`.mlp`) for
vectors and a DDPM++-style UNet (:mod:`.unet`) for images, both with the time features of
:mod:`.time_embedding`."""

from __future__ import annotations

from torch import nn

from .mlp import ResidualMLP
from .unet import UNet


def build_backbone(config: dict) -> nn.Module:
    """Rebuild a backbone from its JSON config (``network.config``)."""
    config = dict(config)
    kind = config.pop("kind")
    if kind == "mlp":
        return ResidualMLP(**config)
    if kind == "unet":
        return UNet(**config)
    raise ValueError(f"unknown backbone kind '{kind}' (allowed: mlp, unet)")
