"""Denoiser training shared by every dataset: one loop, checkpoint/resume, EMA, diagnostics.

Each step draws fresh data indices, times t ~ U(t_min, t_max) and noise from one seeded
generator whose state is checkpointed, so an interrupted run resumes to the same weights.
Under torchrun every process draws the same global batch and trains on its slice of it
(see :mod:`.distributed`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import Tensor

from .distributed import Processes
from .io import FormatError, atomic_path
from .preconditioning import IFPreconditioner
from .provenance import config_hash
from .state_files import read_torch_state, state_mismatch
from .train_config import TrainConfig
from .trajectory_penalty import STATE_ROWS, TIMES, flow_states, trajectory_penalty


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class BF16Autocast(torch.nn.Module):
    """Runs a backbone under bf16 autocast on ``device_type`` ("cuda" or "cpu"); the schedule,
    targets and loss around it stay in float64 (the preconditioner casts the network's output
    back)."""

    def __init__(self, net: torch.nn.Module, device_type: str) -> None:
        super().__init__()
        self.net = net
        self.device_type = device_type

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        with torch.autocast(self.device_type, torch.bfloat16):
            return self.net(x, t)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: allocated CUDA memory on a GPU, the process's resident set on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_min_factor * lr``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr_min_factor
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class Trainer:
    """Trains ``model`` on eigen-coordinate data ``u`` (N, D); checkpoints to ``ckpt_dir``.

    ``inputs`` names a hash of everything else the weights depend on (the training data, the
    PCA, the model spec); with the training config and the process layout it forms the
    checkpoint's fingerprint, and a checkpoint is resumed only if its fingerprint is equal.
    With ``procs`` of several processes (torchrun), the backbone is wrapped in
    DistributedDataParallel for the loss only, so ``model`` and its state_dict stay plain;
    only the main process writes checkpoints.
    """

    def __init__(self, model: IFPreconditioner, u: Tensor, cfg: TrainConfig,
                 ckpt_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 procs: Processes | None = None, inputs: Mapping[str, str] | None = None) -> None:
        if getattr(model, "low_t", None) is not None:
            # its loss would run through the blend: the main network's gradient scaled by 1 - w
            raise ValueError("Trainer: detach the model's low-t network and train it on its "
                             "own (steps.train.train_low_t)")
        self.cfg = cfg
        self.procs = procs = procs or Processes()
        if cfg.trajectory_penalty_weight and procs.world_size > 1:
            # its second forward pass per step is not one that DDP's gradient hooks expect
            raise ValueError("Trainer: trajectory_penalty_weight needs a single process")
        self.part = procs.batch_slice(cfg.batch_size)
        self.device = device = torch.device(device)
        if device.type == "cuda" and device.index is None:  # DDP needs the explicit index
            self.device = device = torch.device("cuda", torch.cuda.current_device())
        self.model = model.to(device)
        if cfg.channels_last:
            model.backbone.to(memory_format=torch.channels_last)  # activations follow weights
        # never trained: evaluation mode, so that dropout is off where it is evaluated
        self.ema = copy.deepcopy(model).requires_grad_(False).eval()
        net = model.backbone
        if procs.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(net, [device.index] if device.type == "cuda" else None)
        if cfg.compile:  # after DDP, so that compiled graphs break at its gradient buckets
            net = torch.compile(net)
        if cfg.mixed_precision and (device.type == "cuda" or cfg.mixed_precision_cpu):
            net = BF16Autocast(net, device.type)
        # what the loss runs through: the model itself, or its backbone wrapped
        self.trained = model if net is model.backbone else IFPreconditioner(
            net, model.schedule, model.basis, model.space)
        # the whole training set lives on the device: a batch is a gather, no host transfer
        self.u, self.validation = split_validation(u.to(device, torch.float64), cfg)
        self.best: dict[str, Any] | None = None  # {step, loss, ema}: the selected weights
        self.validation_curve: list[dict[str, float]] = []
        self.params = list(model.backbone.parameters())
        self.trajectory: tuple[Tensor, Tensor] | None = None  # (times, flow states)
        self.ema_params = list(self.ema.backbone.parameters())
        # fused Adam skips the update on the device when found_inf is set: no host sync
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr, fused=True)
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.step = 0
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir else None
        self.history: list[dict[str, float]] = []
        self.fingerprint = {**(inputs or {}), "training": config_hash(asdict(cfg)),
                            "processes": f"{procs.world_size} on {self.device.type}"}

    # -- checkpoints ---------------------------------------------------------------------
    def _ckpt_path(self) -> Path:
        return self.ckpt_dir / "last.pt"

    def save_checkpoint(self) -> None:
        if self.ckpt_dir is None or not self.procs.is_main:
            return
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        state = {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                 "optimizer": self.opt.state_dict(), "step": self.step,
                 "rng": self.gen.get_state(), "fingerprint": json.dumps(self.fingerprint),
                 "history": json.dumps(self.history), "best": self.best,
                 "validation_curve": json.dumps(self.validation_curve)}
        with atomic_path(self._ckpt_path()) as tmp:
            torch.save(state, tmp)

    def try_resume(self) -> str | None:
        """Load the last checkpoint if it was made from identical inputs. Returns None when
        resumed or when there is none, else why it was not (training then starts afresh and
        the next checkpoint replaces it)."""
        if self.ckpt_dir is None or not self._ckpt_path().exists():
            return None
        try:
            state = read_torch_state(self._ckpt_path(), self.device)
        except FormatError as err:  # truncated, not a torch file, or non-finite weights
            return f"it cannot be used ({str(err).removeprefix(f'{self._ckpt_path()}: ')})"
        reason = self._stale(state)
        if reason:
            return reason
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["optimizer"])
        self.gen.set_state(state["rng"].cpu())  # a generator state is a CPU tensor on any device
        self.step = int(state["step"])
        self.history = json.loads(state["history"])
        self.best = state.get("best")
        self.validation_curve = json.loads(state.get("validation_curve", "[]"))
        return None

    def _stale(self, state: dict[str, Any]) -> str | None:
        """Why ``state`` cannot continue this run (None if it can)."""
        if "fingerprint" not in state:
            return "it records no fingerprint of its inputs (made by an older version)"
        saved = json.loads(state["fingerprint"])
        changed = sorted(k for k in saved.keys() | self.fingerprint.keys()
                         if saved.get(k) != self.fingerprint.get(k))
        if changed:
            return f"it was made from other inputs ({', '.join(changed)} differ)"
        # equal fingerprints with other shapes: a network-code change the spec does not show
        mismatch = state_mismatch(self.model, state["model"])
        return f"its network does not match ({mismatch})" if mismatch else None

    # -- one step ------------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        cfg, n = self.cfg, self.u.shape[0]
        idx = torch.randint(0, n, (cfg.batch_size,), generator=self.gen, device=self.device)
        u0 = self.u[idx]
        t = cfg.t_min + (cfg.t_max - cfg.t_min) * torch.rand(
            cfg.batch_size, generator=self.gen, device=self.device, dtype=torch.float64)
        noise = torch.randn(u0.shape, generator=self.gen, device=self.device,
                            dtype=torch.float64)
        target_points = None
        if cfg.stable_target_size:
            extra = torch.randint(0, n, (cfg.stable_target_size,), generator=self.gen,
                                  device=self.device)
            target_points = self.u[torch.cat([idx, extra])]
        return u0, t, noise, target_points

    def train_step(self) -> Tensor:
        u0, t, noise, target_points = self._batch()
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.cfg, self.step)
        part = self.part
        F, target = self.trained.loss_terms(u0[part], t[part], noise[part], target_points)
        loss = ((F - target) ** 2).mean()
        if self.cfg.linear_response_weight:
            q = self.trained.response_terms(u0[part], t[part], noise[part], F, target)
            # the mask multiplies rather than selects: selecting would read its count on the host
            loss = loss + self.cfg.linear_response_weight * band_slope_penalty(
                q * self.model.schedule.kept, t[part], self.cfg.t_min, self.cfg.t_max,
                self.cfg.linear_response_bands)
        if self.cfg.trajectory_penalty_weight:
            loss = loss + self.cfg.trajectory_penalty_weight * self._trajectory_penalty()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        # a spike is clipped; a non-finite gradient is skipped, decided on the device
        self.opt.found_inf = (~torch.isfinite(grad_norm)).float()
        self.opt.step()
        beta = 0.5 ** (self.cfg.batch_size / self.cfg.ema_halflife_samples)
        with torch.no_grad():
            torch._foreach_lerp_(self.ema_params, self.params, 1 - beta)
        self.step += 1
        return loss.detach()

    def _trajectory_penalty(self) -> Tensor:
        cfg = self.cfg
        if self.trajectory is None or self.step % cfg.trajectory_penalty_every == 0:
            times = torch.linspace(*cfg.trajectory_penalty_band, TIMES, dtype=torch.float64,
                                   device=self.device)
            self.trajectory = times, flow_states(self.ema, self.u[:STATE_ROWS], cfg.t_min,
                                                 cfg.t_max, times.tolist())
        times, states = self.trajectory
        return trajectory_penalty(self.trained, self.model.schedule, states, times, self.gen)

    def fit(self, log: TextIO | None = None, log_every: int = 100) -> None:
        from tqdm import tqdm

        stale = self.try_resume()
        if log and stale:
            print(f"not resuming from {self._ckpt_path()}: {stale}; training from scratch",
                  file=log, flush=True)
        elif log and self.step:
            print(f"resumed from {self._ckpt_path()} at step {self.step}", file=log, flush=True)
        bar = tqdm(total=self.cfg.steps, initial=self.step, file=log, mininterval=5,
                   disable=log is None, ascii=True)
        running, count, t_start = 0.0, 0, time.perf_counter()
        while self.step < self.cfg.steps:
            loss = self.train_step()
            running, count = running + loss, count + 1
            at_log = self.step % log_every == 0 or self.step == self.cfg.steps
            at_ckpt = self.step % self.cfg.checkpoint_every == 0
            if at_log or at_ckpt:
                # one host sync (and one all-reduce) per interval, not per step
                mean = float(self.procs.mean(running / count))
                if not math.isfinite(mean):
                    raise TrainingDiverged(
                        f"loss became {mean} between steps {self.step - count + 1} and "
                        f"{self.step}; the last good checkpoint is kept, no model is written")
            stop = False
            if self.validation is not None and (self.step % self.cfg.validate_every == 0
                                                or self.step == self.cfg.steps):
                self.select()
                stop = self.patience_spent()
            if at_log:
                rate = count * self.cfg.batch_size / (time.perf_counter() - t_start)
                memory = peak_memory_mb(self.device)
                self.history.append({"step": self.step, "loss": mean, "samples_per_s": rate,
                                     "peak_memory_mb": memory})
                bar.set_postfix(loss=f"{mean:.4f}", samples_per_s=f"{rate:.0f}",
                                peak_mb=f"{memory:.0f}")
            if at_log or at_ckpt:
                running, count, t_start = 0.0, 0, time.perf_counter()
            bar.update(1)
            if at_ckpt:
                self.save_checkpoint()
            if stop:
                if log:
                    print(f"stopped at step {self.step}: no lower validation loss since step "
                          f"{self.best['step']}", file=log, flush=True)
                break
        bar.close()
        if self.best is not None:
            self.ema.load_state_dict(self.best["ema"])

    # -- model selection -----------------------------------------------------------------
    @torch.no_grad()
    def validation_loss(self) -> float:
        """The EMA weights' loss on the held-out training rows (plain target: unbiased),
        relative to the Gaussian denoiser's (F = 0) on the same draws, as per band below;
        evaluated a training batch at a time, so that memory stays that of a step."""
        loss = linear = 0.0
        for u0, t, noise in zip(*(d.split(self.cfg.batch_size) for d in self.validation),
                                strict=True):
            F, target = self.ema.loss_terms(u0, t, noise)
            loss, linear = loss + ((F - target) ** 2).sum(), linear + (target**2).sum()
        return float(loss / linear)

    def patience_spent(self) -> bool:
        """``patience`` steps have passed since the lowest validation loss."""
        return bool(self.cfg.patience and self.best is not None
                    and self.step - self.best["step"] >= self.cfg.patience)

    def select(self) -> None:
        """Keep the EMA weights if their validation loss is the lowest so far (every process
        holds the same EMA and validation draws, so all select alike)."""
        loss = self.validation_loss()
        self.validation_curve.append({"step": self.step, "loss": loss})
        if not math.isfinite(loss):
            return
        if self.best is None or loss < self.best["loss"]:
            self.best = {"step": self.step, "loss": loss,
                         "ema": {k: v.detach().clone() for k, v in self.ema.state_dict().items()}}


def split_validation(u: Tensor, cfg: TrainConfig) -> tuple[Tensor, tuple[Tensor, ...] | None]:
    """(rows to fit, fixed validation draws (u0, t, noise) or None): a seeded share of the
    rows, each drawn ceil(``validation_points`` / n) times at fixed times with fixed noise."""
    n_val = round(cfg.validation_fraction * u.shape[0])
    if not n_val:
        return u, None
    if u.shape[0] - n_val < 2:
        raise ValueError(f"training config key 'validation_fraction': {cfg.validation_fraction} "
                         f"leaves {u.shape[0] - n_val} of {u.shape[0]} rows to fit")
    gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same split everywhere
    perm = torch.randperm(u.shape[0], generator=gen).to(u.device)
    held = u[perm[:n_val]].repeat(-(-cfg.validation_points // n_val), 1)
    t = cfg.t_min + (cfg.t_max - cfg.t_min) * torch.rand(held.shape[0], generator=gen,
                                                         dtype=torch.float64)
    noise = torch.randn(held.shape, generator=gen, dtype=torch.float64)
    return u[perm[n_val:]], (held, t.to(u.device), noise.to(u.device))


def band_slope_penalty(q: Tensor, t: Tensor, t_min: float, t_max: float, bands: int) -> Tensor:
    """Mean over ``bands`` equal bands of [t_min, t_max] of sum_i delta_i^2, each delta_i the
    mean of q[:, i] over the band's rows (:meth:`IFPreconditioner.response_terms`). The square
    of a mean is estimated from pairs of distinct rows, ((sum q)^2 - sum q^2) / (n (n - 1)),
    so that row noise adds no bias; a band with fewer than two rows adds 0. No value is read
    on the host (index_add_, not bincount, counts the rows)."""
    band = ((t - t_min) * (bands / (t_max - t_min))).long().clamp(0, bands - 1)
    sums = q.new_zeros(bands, q.shape[1]).index_add_(0, band, q)
    squares = q.new_zeros(bands, q.shape[1]).index_add_(0, band, q * q)
    n = q.new_zeros(bands).index_add_(0, band, torch.ones_like(t, dtype=q.dtype))
    pairs = n * (n - 1)
    per_band = (sums * sums - squares).sum(1) / pairs.clamp_min(1)
    return torch.where(pairs > 0, per_band, 0.0).sum() / bands


@torch.no_grad()
def loss_by_time_band(model: IFPreconditioner, u: Tensor, t_edges: list[float],
                      per_band: int = 4096, seed: int = 0) -> list[dict[str, float]]:
    """Loss of ``model`` relative to the Gaussian (linear) denoiser, per band of t.

    Both are evaluated on the same points, times and noise; the F = 0 loss is the linear
    denoiser's, so a ratio of 1 means nothing was learned in that band. Bands where the noise
    dwarfs the data have ratio near 1 for any denoiser; the gain sits where they are similar.

    ``variance_drift``: over the kept directions, the least and largest first-order change
    that the band makes to the flow's latent variance ratio (1 when calibrated), from the
    denoiser's slope error: -(t_hi - t_lo) E[q dC/dt / C]. The loss ratio can be below 1 in
    a band whose drift is far from 0.
    """
    gen = torch.Generator().manual_seed(seed)
    sched = model.schedule
    dev = sched.eigenvalues.device
    kept = sched.kept  # g = 0 directions have C = 0: left out before dividing
    rows = []
    for lo, hi in zip(t_edges[:-1], t_edges[1:], strict=True):
        idx = torch.randint(0, u.shape[0], (per_band,), generator=gen)
        t = lo + (hi - lo) * torch.rand(per_band, generator=gen, dtype=torch.float64)
        noise = torch.randn(per_band, u.shape[1], generator=gen, dtype=torch.float64)
        u0, t, noise = u[idx.to(u.device)].to(dev, torch.float64), t.to(dev), noise.to(dev)
        F, target = model.loss_terms(u0, t, noise)
        loss, linear = ((F - target) ** 2).mean().item(), (target**2).mean().item()
        q = model.response_terms(u0, t, noise, F, target)
        drift = -(hi - lo) * (q[:, kept] * sched.dC_dt(t)[:, kept] / sched.C(t)[:, kept]).mean(0)
        rows.append({"t_lo": lo, "t_hi": hi, "loss": loss, "linear_loss": linear,
                     "ratio": loss / linear,
                     "variance_drift": [drift.min().item(), drift.max().item()]})
    return rows
