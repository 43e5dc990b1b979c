"""Figures of the calibration and dimensionality analyses (paper Fig. 4 and the appendix)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.ticker
import numpy as np

from .common import plt, save_pdf, scatter_points

COMPONENT_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]


def posterior_figure(rows: Sequence[tuple[str, dict[str, np.ndarray], dict]],
                     path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Figure 4: per schedule, the generated data and recovered latents coloured by mixture
    component, and kernel density estimates of the weight posterior with the truth (solid)
    and the posterior mean (dashed)."""
    from scipy.stats import gaussian_kde

    fig, axes = plt.subplots(len(rows), 3, figsize=(10, 3.2 * len(rows)), squeeze=False)
    for (label, arrays, attrs), (ax_x, ax_z, ax_w) in zip(rows, axes, strict=True):
        comp = arrays["figure4/component"]
        colours = np.array(COMPONENT_COLOURS)[comp]
        x, z = arrays["figure4/x"], arrays["figure4/zeta_back"]
        ax_x.scatter(x[:, 0], x[:, 1], c=colours, s=2, linewidths=0)
        ax_x.set(title=f"{label}: generated data", xticks=[], yticks=[], aspect="equal")
        ax_z.scatter(z[:, 0], z[:, 1], c=colours, s=2, linewidths=0)
        ax_z.set(title="recovered latents (standardised)", xticks=[], yticks=[],
                 aspect="equal")
        draws = arrays["figure4/draws"]
        grid = np.linspace(0, 1, 400)
        for k, truth in enumerate(attrs["figure4_weights"]):
            colour = COMPONENT_COLOURS[k]
            ax_w.plot(grid, gaussian_kde(draws[:, k])(grid), color=colour, label=f"$w_{k + 1}$")
            ax_w.axvline(truth, color=colour, lw=1)
            ax_w.axvline(draws[:, k].mean(), color=colour, lw=1, ls="--")
        ax_w.set(title="posterior of the weights (NUTS)", xlabel="weight", yticks=[],
                 xlim=(0, 1))
        ax_w.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def pr_figure(results: dict[str, dict[str, dict]], path: str | os.PathLike,
              metadata: dict | None = None) -> None:
    """PR of the pushed samples (markers) and its closed form (lines) against t / T, one
    panel per dataset; dotted lines are each schedule's t -> infinity limit."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, (label, tracks) in zip(axes[0], results.items(), strict=True):
        for i, (name, tr) in enumerate(tracks.items()):
            colour = COMPONENT_COLOURS[i % len(COMPONENT_COLOURS)]
            t = np.asarray(tr["times"])
            frac = (t - t[0]) / (t[-1] - t[0])
            spec = tr["schedule"]
            ax.plot(frac, tr["closed_form"], color=colour, lw=1.2,
                    label=f"{name} ({spec['kind'].upper()}, {spec['form']})")
            ax.plot(frac, tr["empirical"], "o", color=colour, ms=3)
            ax.axhline(tr["limit"], color=colour, lw=0.8, ls=":")
        ax.set(title=f"{label}: PR along inflation", xlabel="t / T",
               ylabel="participation ratio")
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def residual_figure(panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                    path: str | os.PathLike, metadata: dict | None = None,
                    per_row: int = 5) -> None:
    """Heatmaps of R(t1, t2), ``per_row`` models across: for each model the residual
    D - u_0 (upper of a pair of rows) and the network's deviation from the exact empirical
    denoiser (lower)."""
    cols = min(per_row, len(panels))
    groups = -(-len(panels) // cols)
    fig, axes = plt.subplots(2 * groups, cols, figsize=(2.4 * cols, 2.5 * 2 * groups),
                             squeeze=False)
    image = None
    for i, (label, times, residual, error) in enumerate(panels):
        span = (times[0], times[-1], times[-1], times[0])
        for row, (R, what) in enumerate(((residual, "$D - u_0$"), (error, "$D - D_{exact}$"))):
            ax = axes[2 * (i // cols) + row, i % cols]
            image = ax.imshow(R, vmin=-1, vmax=1, cmap="RdBu_r", extent=span)
            ax.set(title=f"{label}: {what}", xlabel="$t_2$", ylabel="$t_1$")
            ax.title.set_fontsize(8)
    for i in range(len(panels), groups * cols):
        for row in (0, 1):
            axes[2 * (i // cols) + row, i % cols].axis("off")
    fig.tight_layout()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.5, label="R($t_1$, $t_2$)")
    save_pdf(fig, path, metadata)


def duality_figure(times: np.ndarray, grid: np.ndarray, density: np.ndarray, sde: np.ndarray,
                   ode: np.ndarray, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Figure 1: stochastic paths, the marginal density they share with the deterministic
    paths (the Fokker-Planck solution), and the pfODE paths, in scaled coordinates."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), sharey=True)
    extent = (times[0], times[-1], grid[0], grid[-1])
    titles = ("forward SDE: $dx = \\sqrt{\\dot C}\\, dW$",
              "Fokker-Planck: $p_t = p_0 * N(0, C(t))$",
              "probability-flow ODE (exact score)")
    for ax, title, paths in zip(axes, titles, (sde, None, ode), strict=True):
        ax.imshow(density.T, origin="lower", extent=extent, aspect="auto", cmap="Blues",
                  alpha=1.0 if paths is None else 0.55)
        if paths is not None:
            ax.plot(times, paths, color="black", lw=0.5, alpha=0.7)
        ax.set(title=title, xlabel="t", ylim=(grid[0], grid[-1]))
        ax.title.set_fontsize(9)
    axes[0].set_ylabel(r"scaled state $\tilde x = A(t)\, x$")
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def coverage_figure(runs: dict[str, dict], held_out: dict[str, dict], path: str | os.PathLike,
                    metadata: dict | None = None) -> None:
    """Top: the paper's coverage experiment per model, coverage after generation and after
    the round trip minus the initial coverage of the same points (mean +- 2 sd over seeds;
    grey: +- 2 pp).
    Bottom: held-out data pushed to latent space, mass inside each Mahalanobis ball minus
    the chi2 mass, every model."""
    names = list(runs)
    mosaic = [names, ["held_out"] * len(names)] if names else [["held_out"]]
    fig, axes = plt.subplot_mosaic(mosaic, figsize=(3.0 * max(1, len(names)), 6.0))
    for name in names:
        ax, run = axes[name], runs[name]
        radii = np.asarray(run["radii"])
        ax.axhspan(-2, 2, color="0.9")
        ax.axhline(0, color="0.5", lw=0.8)
        for stage, colour, shift in (("generated", "tab:blue", -0.03),
                                     ("roundtrip", "tab:orange", 0.03)):
            gap = np.asarray(run[f"{stage}_minus_initial_pp"])
            spread = 2 * np.asarray(run[f"{stage}_minus_initial_sd_pp"])
            ax.errorbar(radii + shift, gap, yerr=spread, fmt="o-",
                        ms=3, color=colour, label=stage.replace("roundtrip", "round trip"))
        ax.plot(radii, run["initial_minus_chi2_pp"], "k:", lw=1, label=r"initial $-\ \chi^2$")
        ax.set(title=f"{name} (D = {run['dim']}, {run['seeds']} seeds)",
               xlabel="Mahalanobis radius r", ylabel="coverage - initial (pp)")
        ax.title.set_fontsize(9)
        ax.legend(frameon=False, fontsize=7)
    ax = axes["held_out"]
    ax.axhspan(-2, 2, color="0.9")
    ax.axhline(0, color="0.5", lw=0.8)
    for i, (name, metrics) in enumerate(held_out.items()):
        cal = metrics["latent_calibration"]
        gap = 100 * (np.asarray(cal["fraction_inside"]) - np.asarray(cal["chi2_mass"]))
        ax.plot(cal["radii"], gap, "o-", ms=3, lw=1,
                color=plt.get_cmap("tab10")(i % 10), label=name)
    ax.set(title="held-out data pushed to latent space: mass in the ball - $\\chi^2_D$ mass",
           xlabel="Mahalanobis radius r", ylabel="pp")
    ax.legend(frameon=False, fontsize=7, ncol=5)
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def solver_figure(sweeps: dict[str, list[dict]], label: str, path: str | os.PathLike,
                  metadata: dict | None = None) -> None:
    """Round-trip error, and the change in the share of inflated held-out points inside the
    Mahalanobis balls against the most accurate solve, against NFE, per method, for the
    trained score (solid) and the exact score (dashed); the star is the official code's Euler
    with h = 1e-2 (the first row of each sweep)."""
    fig, (ax_rt, ax_cal) = plt.subplots(1, 2, figsize=(9, 3.4))
    colours = {"euler": "tab:red", "heun": "tab:blue", "dopri5": "tab:green"}
    for score, rows in sweeps.items():
        style = "-" if score == "trained" else "--"
        for method, colour in colours.items():
            picked = sorted((r for r in rows[1:] if r["method"] == method),
                            key=lambda r: r["nfe"])
            nfe = [r["nfe"] for r in picked]
            ax_rt.loglog(nfe, [r["roundtrip_relative_mse"] for r in picked], style, marker="o",
                         ms=3, color=colour, label=f"{method}, {score} score")
            ax_cal.semilogx(nfe, [r["calibration_change_vs_most_accurate_pp"] for r in picked],
                            style, marker="o", ms=3, color=colour)
        ref = rows[0]
        ax_rt.loglog(ref["nfe"], ref["roundtrip_relative_mse"], "*", ms=10, color="black")
        ax_cal.semilogx(ref["nfe"], ref["calibration_change_vs_most_accurate_pp"], "*", ms=10,
                        color="black")
    ax_rt.set(title=f"{label}: round trip", xlabel="NFE (inflation + generation)",
              ylabel="relative MSE")
    ax_cal.set(title="coverage change the solver causes", xlabel="NFE",
               ylabel="max |mass in ball - most accurate| (pp)")
    ax_rt.legend(frameon=False, fontsize=6, ncol=2)
    for ax in (ax_rt, ax_cal):  # decades only: minor labels on a short log axis collide
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    save_pdf(fig, path, metadata)


def embedded_figure(rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                    chance: float, path: str | os.PathLike, n_snapshots: int = 4,
                    metadata: dict | None = None) -> None:
    """Embedded toys: per model (label, times, states (R, n, 3), intrinsic colour, kNN
    overlap per frame), inflation snapshots coloured by the points' position on the
    original 2-D set, and the neighbour overlap with that set along inflation."""
    fig = plt.figure(figsize=(1.6 * (n_snapshots + 1.6), 1.7 * len(rows) + 0.4))
    grid = fig.add_gridspec(len(rows), n_snapshots + 1, wspace=0.1, hspace=0.3,
                            width_ratios=[1] * n_snapshots + [1.6])
    for r, (label, times, states, colour, overlap) in enumerate(rows):
        picks = np.linspace(0, len(times) - 1, n_snapshots).round().astype(int)
        for c, i in enumerate(picks):
            ax = fig.add_subplot(grid[r, c], projection="3d")
            scatter_points(ax, states[i], colour)
            ax.set_title(f"t = {times[i]:.2f}", fontsize=7)
            if c == 0:
                ax.text2D(-0.2, 0.5, label, transform=ax.transAxes, rotation=90, va="center",
                          fontsize=8)
        ax = fig.add_subplot(grid[r, -1])
        ax.plot(times, overlap, color="tab:blue", label="kNN kept")
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
        ax.set(ylim=(0, 1.02), xlabel="t" if r == len(rows) - 1 else None)
        ax.set_ylabel("share of neighbours kept", fontsize=7)
        ax.tick_params(labelsize=6)
        if r == 0:
            ax.legend(fontsize=6, loc="lower left")
    save_pdf(fig, path, metadata)


def prr_generation_figure(results: dict[str, list[dict]], path: str | os.PathLike,
                          metadata: dict | None = None) -> None:
    """Per dataset: the energy-distance ratio of samples against T, one colour per inflation
    gap, with the compressed coordinates from the Gaussian prior (solid) and from the
    training latents (dashed); and the held-out calibration gap, kept dimensions (solid) and
    all D (dotted). A ring marks the paper's "orig" gap D / (D - d)."""
    fig, axes = plt.subplots(len(results), 2, figsize=(9, 3.2 * len(results)), squeeze=False)
    for (ax_ed, ax_cal), (label, rows) in zip(axes, results.items(), strict=True):
        gaps = sorted({r["inflation_gap"] for r in rows})
        for i, gap in enumerate(gaps):
            colour = COMPONENT_COLOURS[i % len(COMPONENT_COLOURS)]
            picked = sorted((r for r in rows if r["inflation_gap"] == gap),
                            key=lambda r: r["t_max"])
            t = [r["t_max"] for r in picked]
            orig = " (orig)" if picked[0]["is_orig_gap"] else ""
            ax_ed.plot(t, [r["ratio_gaussian_prior"] for r in picked], "-o", ms=3,
                       color=colour, label=f"IG {gap:g}{orig}, Gaussian prior")
            ax_ed.plot(t, [r["ratio_empirical_compressed"] for r in picked], "--s", ms=3,
                       color=colour, label=f"IG {gap:g}, training latents")
            ax_cal.plot(t, [r["kept_calibration_pp"] for r in picked], "-o", ms=3,
                        color=colour, label=f"IG {gap:g}{orig}, kept dims")
            ax_cal.plot(t, [r["full_calibration_pp"] for r in picked], ":", marker="^", ms=3,
                        color=colour, label=f"IG {gap:g}, all dims")
            if orig:
                for ax, key in ((ax_ed, "ratio_gaussian_prior"),
                                (ax_cal, "kept_calibration_pp")):
                    ax.plot(t, [r[key] for r in picked], "o", ms=8, mfc="none", color=colour)
        n = rows[0]["n"]
        ax_ed.set(title=f"{label}: samples (exact score)", xlabel="T",
                  ylabel=f"energy-distance ratio (n = {n})")
        ax_ed.axhline(1.0, color="grey", lw=0.8)
        ax_cal.set(title=f"{label}: held-out calibration", xlabel="T",
                   ylabel="max calibration gap (pp)")
        ax_ed.legend(frameon=False, fontsize=6)
        ax_cal.legend(frameon=False, fontsize=6)
    fig.tight_layout()
    save_pdf(fig, path, metadata)
