"""What every figure shares: pyplot (under the package's backend), saving with provenance,
and the point-cloud scatter of a flow state."""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np

from ..io import atomic_path

__all__ = ["plt", "save_pdf", "scatter_points"]


def save_pdf(fig, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save atomically, with provenance in the PDF's Keywords field."""
    info = {"Creator": "inflationary_flows"}
    if metadata:
        info["Keywords"] = json.dumps(metadata, default=str)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight", metadata=info)
    plt.close(fig)



def scatter_points(ax, points: np.ndarray, colour: np.ndarray) -> None:
    kw = {"c": colour, "cmap": "twilight", "s": 1.5, "linewidths": 0, "vmin": -np.pi,
          "vmax": np.pi}
    if points.shape[1] >= 3:
        ax.scatter(points[:, 0], points[:, 1], points[:, 2], **kw)
        # s_curve and swirl extend along x and z with y as depth: look along y
        ax.view_init(elev=12, azim=-75)
        lim = np.abs(points[:, :3]).max()
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), zlim=(-lim, lim))
        ax.set_box_aspect((1, 1, 1))
        ax.set_zticks([])
    else:
        ax.scatter(points[:, 0], points[:, 1], **kw)
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
