"""The settings of one training run, with their checks: torch-free, so that the workflow
checks a config's training keys before any job runs as the train step would."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .spec import require_positive


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 2e-3
    lr_min_factor: float = 0.05
    warmup_steps: int = 100
    ema_halflife_samples: float = 100_000
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    seed: int = 0
    t_min: float = 0.0
    t_max: float = 15.0
    stable_target_size: int = 0
    mixed_precision: bool = True  # bf16 autocast of the network on CUDA
    # also on CPUs: slower there without bf16 units, but the same code path a GPU runs
    mixed_precision_cpu: bool = False
    compile: bool = False  # torch.compile the backbone for the loss (first steps compile)
    channels_last: bool = False  # NHWC convolutions (UNet on tensor cores)
    band_points: int = 4096  # held-out draws per band of t in the closing loss diagnostic
    # model selection on a few hundred rows: this share of the training rows is held out and
    # the EMA weights with the lowest loss on it are kept (0: train on all, keep the last)
    validation_fraction: float = 0.0
    validate_every: int = 50
    # with a validation split: stop once this many steps pass without a lower validation
    # loss (0: run every step). The kept weights are the same as without it whenever no
    # earlier stretch without improvement was as long.
    patience: int = 0
    validation_points: int = 4096  # fixed (row, t, noise) draws: steps compare on equal terms
    # weight of the kept directions' squared slope error of the denoiser (its linear
    # response, which sets the flow's per-direction latent variance; see
    # IFPreconditioner.response_terms) in each of linear_response_bands equal bands of t
    linear_response_weight: float = 0.0
    linear_response_bands: int = 10
    # weight of the kept directions' squared variance drift at states of the model's own
    # flow from training rows (trajectory_penalty.py), recorded over trajectory_penalty_band
    # of t and re-solved with the EMA weights every trajectory_penalty_every steps
    trajectory_penalty_weight: float = 0.0
    trajectory_penalty_every: int = 250
    trajectory_penalty_band: tuple[float, float] = (2.5, 8.0)

    def __post_init__(self) -> None:
        require_positive("TrainConfig", lr=self.lr, ema_halflife_samples=self.ema_halflife_samples,
                         grad_clip=self.grad_clip, span=self.t_max - self.t_min,
                         validate_every=self.validate_every,
                         validation_points=self.validation_points,
                         linear_response_bands=self.linear_response_bands)
        for key in ("linear_response_weight", "trajectory_penalty_weight"):
            if not (math.isfinite(getattr(self, key)) and getattr(self, key) >= 0):
                raise ValueError(f"TrainConfig: {key} must be >= 0, got {getattr(self, key)}")
        if self.trajectory_penalty_weight:
            self._check_trajectory_penalty()
        if self.patience < 0:
            raise ValueError(f"TrainConfig: patience must be >= 0 steps, got {self.patience}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"TrainConfig: validation_fraction must be in [0, 1), got "
                             f"{self.validation_fraction}")

    def _check_trajectory_penalty(self) -> None:
        lo, hi = self.trajectory_penalty_band
        if not self.t_min <= lo < hi <= self.t_max:
            raise ValueError(f"TrainConfig: trajectory_penalty_band [{lo:g}, {hi:g}] must rise "
                             f"within the schedule's [{self.t_min:g}, {self.t_max:g}]")
        every = self.trajectory_penalty_every
        # a resumed run then re-solves its states where the uninterrupted one did
        if every < 1 or self.checkpoint_every % every:
            raise ValueError(f"TrainConfig: checkpoint_every ({self.checkpoint_every}) must be a "
                             f"multiple of trajectory_penalty_every ({every})")
