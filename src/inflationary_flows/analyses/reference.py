"""The exact-score reference of a toy model, and the table that sets the two side by side.

The reference is the model's own flow (schedule, PCA basis, solver, held-out points, metrics)
with the exact empirical score of its training set in place of the network: a perfect
denoiser of the training data, so the method's limit there (docs/design.md). It needs the
data, the PCA and the schedule spec, not the trained model, so retraining does not redo it.
The empirical score costs O(n_train) per evaluation: ``n_train`` atoms bound its cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..basis import EigenBasis
from ..flow import InflationaryFlow
from ..smoothing import add_noise, noise_at_t_min
from .exact import exact_flow
from .metrics import flow_metrics, latent_calibration


def reference_flow(train: Tensor, pca: Mapping[str, np.ndarray], schedule: Mapping[str, Any],
                   solver: Mapping[str, Any]) -> InflationaryFlow:
    """The flow of the empirical distribution of ``train`` on the PCA's basis and eigenvalues
    (those the trained model's schedule is built on) under ``solver``."""
    basis = EigenBasis.from_pca(pca)
    return exact_flow(train, schedule, basis, eigenvalues=torch.as_tensor(pca["eigenvalues"]),
                      solver=solver)


@torch.no_grad()
def reference_metrics(flow: InflationaryFlow, test: Tensor, n_eval: int, keep: int,
                      generator: torch.Generator, smoothed: bool = False) -> dict[str, Any]:
    """The toy metrics of ``flow`` as the flow and metrics steps measure a trained model:
    ``n_eval`` held-out points inflated and round-tripped, min(n_eval, n_test / 2) generated
    against the whole test split (whose halves give the energy-distance floor). ``keep``:
    the dimensions a PRR schedule keeps (D for PRP). ``smoothed``: the test split gets fresh
    noise of the flow's t_min first (for a t_min chosen from the data, as the flow step does)."""
    if smoothed:
        test = add_noise(test, noise_at_t_min(flow), flow.basis.eigenvectors, generator)
    x = test[: min(n_eval, test.shape[0])]
    up = flow.inflate(x)
    back = flow.generate(up.value)
    prior = flow.sample_prior(min(n_eval, test.shape[0] // 2), generator)
    samples = flow.generate(prior)
    result = flow_metrics(x, up.value, back.value, samples.value, test,
                          flow.latent_variance(), keep)
    result["nfe"] = {"inflation": up.nfe, "roundtrip_generation": back.nfe,
                     "generation": samples.nfe}
    return result


@torch.no_grad()
def kept_calibration(flow: InflationaryFlow, x: Tensor, keep: int,
                     radii: tuple[float, ...]) -> dict[str, Any]:
    """Calibration of the ``keep`` leading latents of ``x`` through ``flow`` at ``radii``."""
    var = flow.latent_variance()[:keep]
    return latent_calibration(flow.inflate(x).value[:, :keep], var, radii)


def summary_row(model: str, trained: Mapping[str, Any], exact: Mapping[str, Any],
                ratio_trained_at_n_exact: float | None) -> dict:
    """One row: the trained model's metrics beside its exact-score reference (gaps in pp;
    the energy-distance ratio with the n it is computed at, since it grows with n, and the
    trained model's ratio again at the reference's n, for a comparison at equal n)."""
    def gap(metrics, key):
        cal = metrics.get(key)
        return "" if cal is None else f"{100 * cal['max_abs_error']:.2f}"

    return {
        "model": model,
        "calibration_max_gap_pp_trained": gap(trained, "latent_calibration"),
        "calibration_max_gap_pp_exact": gap(exact, "latent_calibration"),
        "n_eval_trained": trained.get("n_eval", ""),
        "n_eval_exact": exact["n_eval"],
        "ratio_trained": f"{trained['generation']['ratio']:.3f}",
        "n_ratio_trained": trained["generation"]["n"],
        "ratio_trained_at_n_exact": "" if ratio_trained_at_n_exact is None
        else f"{ratio_trained_at_n_exact:.3f}",
        "ratio_exact": f"{exact['generation']['ratio']:.3f}",
        "n_ratio_exact": exact["generation"]["n"],
        "kept_dims_max_gap_pp_trained": gap(trained, "latent_calibration_kept"),
        "kept_dims_max_gap_pp_exact": gap(exact, "latent_calibration_kept"),
        "roundtrip_trained": f"{trained['roundtrip_relative_mse']:.2e}",
        "roundtrip_exact": f"{exact['roundtrip_relative_mse']:.2e}",
        "n_train_exact": exact["n_train"],
        # PRR: the compressed coordinates from the training latents, not the Gaussian prior
        # (at n_ratio_trained)
        "ratio_trained_training_latents": f"{remedy['ratio']:.3f}"
        if (remedy := trained.get("generation_training_latents")) else "",
    }
