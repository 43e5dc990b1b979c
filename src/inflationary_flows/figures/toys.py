"""The paper's toy flow panels (Figures 2 and 3), their animations, and pair plots of tables."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..io import atomic_path
from .common import plt, save_pdf, scatter_points


@dataclass
class FlowPanels:
    """What a row of a toy-flow figure needs, read from a flow HDF5."""

    label: str
    times: np.ndarray  # (R,)
    signal_fraction: np.ndarray  # (R,) lambda_1 / (lambda_1 + C_1(t))
    inflation: np.ndarray  # (R, n, D), scaled states rotated to data orientation
    generation: np.ndarray  # (R, n, D), ordered in time like ``times``
    colour_inflation: np.ndarray  # (n,)
    colour_generation: np.ndarray  # (n,)
    three_d: bool = False


def panels_from_flow(label: str, arrays: dict[str, np.ndarray]) -> FlowPanels:
    """Scaled eigen states x~ shown in data orientation (W x~), so a PRR latent reads as a
    line or plane along the data's top principal axes; colours follow the start points."""
    w = arrays["eigenvectors"]
    up = arrays["trajectories/inflation"] @ w.T
    down = arrays["trajectories/generation"] @ w.T
    latent = arrays["trajectories/generation"][-1]
    compressed = latent.var(0)[-1] < 1e-2 * latent.var(0)[0]
    # PRR latents are flat: colour by the leading kept coordinate instead of an angle
    colour_gen = _rank(latent[:, 0]) * 2 * np.pi - np.pi if compressed else angle_colour(latent)
    return FlowPanels(label, arrays["trajectories/times"],
                      arrays["trajectories/signal_fraction"], up, down,
                      angle_colour(arrays["trajectories/inflation"][0]), colour_gen,
                      three_d=up.shape[-1] >= 3)


def angle_colour(states: np.ndarray) -> np.ndarray:
    """A colour per point from its position on the first two axes (structure stays visible)."""
    return np.arctan2(states[:, 1], states[:, 0])


def _rank(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values)) / max(1, len(values) - 1)


def _snapshot_indices(signal_fraction: np.ndarray, n_snapshots: int) -> list[int]:
    """First and last frame, and between them the frames closest to signal fractions
    from 0.95 down to 0.05, geometrically spaced: where the picture changes (for PRR, the
    collapse onto the kept axes), not where it is all data or all noise."""
    inner = np.geomspace(0.95, 0.05, n_snapshots - 2) if n_snapshots > 2 else []
    picks = [int(np.argmin(np.abs(signal_fraction - s))) for s in inner]
    return sorted({0, len(signal_fraction) - 1, *picks})


def schedule_title(spec: dict) -> str:
    """A figure title from a schedule spec: 'PRR (exponential schedule, T = 7.0), constant_gap
    IG = 2.0'; the dimensions each dataset keeps differ by row and are left out."""
    text = f"{spec['kind'].upper()} ({spec['form']} schedule, T = {spec['t_max']})"
    if spec["kind"] == "prr":
        text += f", {spec['g_mode']}"
        if spec["g_mode"] == "constant_gap":
            text += f" IG = {spec['inflation_gap']}"
    return text


def toy_flow_figure(rows: Sequence[FlowPanels], path: str | os.PathLike, title: str,
                    n_snapshots: int = 5, metadata: dict | None = None) -> None:
    """One row per dataset: inflation snapshots (data -> latent), then generation snapshots
    (latent -> data), at equally spaced recorded times."""
    n_cols = 2 * n_snapshots
    fig = plt.figure(figsize=(1.25 * n_cols + 0.6, 1.35 * len(rows) + 0.6))
    grid = fig.add_gridspec(len(rows), n_cols, wspace=0.05, hspace=0.15)
    for r, row in enumerate(rows):
        idx = _snapshot_indices(row.signal_fraction, n_snapshots)
        three_d = row.three_d
        panels = [(row.inflation[i], row.colour_inflation, row.times[i]) for i in idx]
        panels += [(row.generation[i], row.colour_generation, row.times[i]) for i in idx[::-1]]
        for c, (points, colour, t) in enumerate(panels):
            ax = fig.add_subplot(grid[r, c], projection="3d" if three_d else None)
            scatter_points(ax, points, colour)
            if r == 0:
                ax.set_title(f"t = {t:.2f}", fontsize=7)
            if c == 0:
                ax.text2D(-0.25, 0.5, row.label, transform=ax.transAxes, rotation=90,
                          va="center", fontsize=8) if three_d else \
                    ax.set_ylabel(row.label, fontsize=8)
    fig.text(0.30, 0.995, "inflation (data \u2192 latent)", ha="center", va="top", fontsize=9)
    fig.text(0.74, 0.995, "generation (latent \u2192 data)", ha="center", va="top", fontsize=9)
    fig.suptitle(title, y=1.04, fontsize=10)
    save_pdf(fig, path, metadata)


def principal_views(arrays: dict[str, np.ndarray], mean: np.ndarray, n_pcs: int = 3
                    ) -> dict[str, np.ndarray]:
    """A flow file's held-out data, whitened latents and generated samples on the leading
    ``n_pcs`` principal components (data and samples in data units, latents in prior sds)."""
    w = arrays["eigenvectors"][:, :n_pcs]
    latent = arrays["inflation/z"] / np.sqrt(arrays["latent_variance"])
    n = len(latent)  # as many (i.i.d.) samples as held-out rows: equal visual density
    return {"data": (arrays["inflation/x"] - mean) @ w, "latent": latent[:, :n_pcs],
            "generated": (arrays["generation/x"][:n] - mean) @ w}


def pair_plot_figure(rows: Sequence[tuple[str, dict[str, np.ndarray]]],
                     path: str | os.PathLike, title: str, metadata: dict | None = None) -> None:
    """One row per model: pair plots of the leading principal components of held-out data,
    of their latents and of generated samples (data and samples share their axes)."""
    views = ("data", "latent", "generated")
    k = rows[0][1]["data"].shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] or [(0, 0)]
    n_cols = len(views) * len(pairs)
    fig = plt.figure(figsize=(1.45 * n_cols + 0.6, 1.45 * len(rows) + 0.7))
    grid = fig.add_gridspec(len(rows), n_cols, wspace=0.3, hspace=0.3)
    for r, (label, panels) in enumerate(rows):
        lim = np.quantile(np.abs(np.concatenate([panels["data"], panels["generated"]])), 0.995)
        for v, view in enumerate(views):
            points = panels[view]
            for p, (i, j) in enumerate(pairs):
                ax = fig.add_subplot(grid[r, v * len(pairs) + p])
                ax.scatter(points[:, i], points[:, j], s=3, linewidths=0, alpha=0.8,
                           color=("C0", "C1", "C2")[v])
                bound = 3.5 if view == "latent" else lim
                ax.set(xlim=(-bound, bound), ylim=(-bound, bound), xticks=[], yticks=[])
                ax.set_aspect("equal")
                if r == len(rows) - 1:
                    ax.set_xlabel(f"PC{i + 1}", fontsize=7, labelpad=1)
                ax.set_ylabel(f"PC{j + 1}", fontsize=7, labelpad=1)
                if r == 0 and p == len(pairs) // 2:
                    ax.set_title(view, fontsize=9)
                if v == 0 and p == 0:
                    ax.text(-0.45, 0.5, label, transform=ax.transAxes, rotation=90,
                            va="center", ha="center", fontsize=8)
    fig.suptitle(title, y=1.0 + 0.06 / len(rows), fontsize=10)
    save_pdf(fig, path, metadata)


def flow_animation(row: FlowPanels, path: str | os.PathLike, direction: str,
                   fps: int = 12, metadata: dict | None = None) -> None:
    """GIF of one flow direction ("inflation" or "generation") over the recorded frames,
    with provenance in the GIF's comment extension."""
    from PIL import Image

    states = row.inflation if direction == "inflation" else row.generation[::-1]
    times = row.times if direction == "inflation" else row.times[::-1]
    colour = row.colour_inflation if direction == "inflation" else row.colour_generation
    lim = np.abs(states).max() * 1.05
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    scat = ax.scatter(states[0][:, 0], states[0][:, 1], c=colour, cmap="twilight", s=2,
                      linewidths=0)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
    label = ax.set_title("")
    frames = []
    for state, t in zip(states, times, strict=True):
        scat.set_offsets(state[:, :2])
        label.set_text(f"{row.label}, {direction}: t = {t:.2f}")
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]))
    plt.close(fig)
    comment = json.dumps(metadata, default=str) if metadata else ""
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=round(1000 / fps), loop=0, comment=comment)
