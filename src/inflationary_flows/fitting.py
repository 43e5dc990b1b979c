"""A denoiser ready to train from a model spec: the one recipe of the ``train`` step and of
the cross-fitted calibration, so that both fit exactly the same model to their rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .models import build_model
from .preconditioning import IFPreconditioner
from .smoothing import resolve_t_min
from .training import TrainConfig


def prepare_training(spec: dict[str, Any], training: Mapping[str, Any],
                     pca: Mapping[str, np.ndarray], x_train: np.ndarray, seed: int,
                     source: str) -> tuple[IFPreconditioner, dict[str, Any], TrainConfig, Tensor]:
    """The untrained model of ``spec`` (backbone complete) on a PCA of ``x_train``, the spec
    with ``t_min: auto`` resolved from those rows, the TrainConfig and the rows in eigen
    coordinates. ``seed`` initialises the network and seeds training; errors name
    ``source``."""
    torch.manual_seed(seed)  # network initialisation, the same in every process
    model = build_model(spec, pca["eigenvalues"], pca["eigenvectors"], pca["mean"])
    spec = resolve_t_min(spec, model.schedule, x_train, source)  # auto -> a number
    sched = spec["schedule"]
    cfg = TrainConfig(**training, seed=seed, t_min=sched["t_min"], t_max=sched["t_max"])
    u_train = model.basis.to_eigen(torch.as_tensor(x_train, dtype=torch.float64))
    return model, spec, cfg, u_train
