"""Figures of the image experiments: Figure 5 (generated samples and round trips per model)
and the dataset spectra with their participation ratios (appendix)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .common import plt, save_pdf


@dataclass
class ImageRow:
    """One model's row of Figure 5, images as (n, C, H, W) in [-1, 1]."""

    label: str
    generated: np.ndarray
    original: np.ndarray
    latent: np.ndarray
    recovered: np.ndarray


def latent_images(z: np.ndarray, eigenvectors: np.ndarray) -> np.ndarray:
    """Scaled-eigen latents rotated to pixel layout and stretched to [-1, 1] per image (their
    own scale is the prior's, not the data's; PRR latents are combinations of the top d
    eigen-images)."""
    x = z @ eigenvectors.T
    lo, hi = x.min(1, keepdims=True), x.max(1, keepdims=True)
    return 2 * (x - lo) / np.where(hi > lo, hi - lo, 1.0) - 1


def mosaic(images: np.ndarray, columns: int) -> np.ndarray:
    """(n, C, H, W) images in [-1, 1] tiled into one (rows*H, columns*W, C) array in [0, 1],
    with one-pixel grey gutters."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, c), 0.75)  # grey gutters
    for i, img in enumerate(np.clip((images + 1) / 2, 0, 1)):
        r, k = divmod(i, columns)
        out[r * (h + 1): r * (h + 1) + h, k * (w + 1): k * (w + 1) + w] = img.transpose(1, 2, 0)
    return out


def _show(ax, tile: np.ndarray, title: str | None = None) -> None:
    gray = tile.shape[-1] == 1
    ax.imshow(tile[..., 0] if gray else tile, cmap="gray" if gray else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def image_figure(rows: Sequence[ImageRow], path: str | os.PathLike, title: str,
                 metadata: dict | None = None) -> None:
    """Figure 5: per model, generated samples (left) and round trips as
    original | latent | recovered columns (right)."""
    fig, axes = plt.subplots(len(rows), 2, figsize=(9, 1.5 * len(rows) + 0.4), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    for (gen_ax, rt_ax), row in zip(axes, rows, strict=True):
        first = row is rows[0]
        _show(gen_ax, mosaic(row.generated, -(-len(row.generated) // 2)),
              "generated" if first else None)
        gen_ax.set_ylabel(row.label, fontsize=8)
        triplets = np.stack([row.original, row.latent, row.recovered], 1)
        _show(rt_ax, mosaic(triplets.reshape(-1, *row.original.shape[1:]), 6),
              "round trip: original | latent | recovered" if first else None)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def spectra_figure(spectra: Sequence[tuple[str, np.ndarray, float]], path: str | os.PathLike,
                   metadata: dict | None = None) -> None:
    """Normalised eigenvalue spectra (lambda_i / sum lambda) of each dataset against i / D,
    with the participation ratio in the legend."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name, lam, pr in spectra:
        share = lam / lam.sum()
        index = np.arange(1, len(lam) + 1)
        ax.loglog(index, np.where(share > 0, share, np.nan), label=f"{name} (D = {len(lam)}, "
                  f"PR = {pr:.2f})")
    ax.set_xlabel("eigen-direction i")
    ax.set_ylabel(r"$\lambda_i / \sum_j \lambda_j$")
    ax.set_title("Dataset spectra and participation ratios", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_pdf(fig, path, metadata)
