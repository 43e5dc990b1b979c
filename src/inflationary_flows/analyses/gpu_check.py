"""One prepared measurement of the paper's image path on a GPU, in minutes
(``python -m inflationary_flows bench --gpu``, or ``scripts/gpu_check.sh``).

On synthetic CIFAR-shaped data (no dataset needed) it measures the paper's DDPM++ UNet:
training images/s, peak memory and the loss after N steps in fp32 and under bf16 autocast
(batch 512, halved until it fits), Heun generation images/s at 510 NFE (the paper's grid), a
2-process DDP run when two GPUs are visible, and from these the wall time of
``configs/cifar10.yaml``. Without CUDA it runs the same code on a small UNet in about 30 s
(the smoke version CI runs). Every phase is cut to fit ``budget_s``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..flow import InflationaryFlow, SolverConfig
from ..models import build_model
from ..pca import fit_pca
from ..training import BF16Autocast, TrainConfig, Trainer, peak_memory_mb

# the paper's CIFAR-10 network (configs/cifar10.yaml) and a small one of the same class
PAPER_UNET = {"kind": "unet", "channels": 128, "multipliers": [2, 2, 2], "blocks": 4,
              "attention": [16], "dropout": 0.13, "time_features": 32}
SMOKE_UNET = {"kind": "unet", "channels": 16, "multipliers": [1, 2], "blocks": 1,
              "attention": [16], "dropout": 0.0, "time_features": 4}
SCHEDULE = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.01, "t_max": 15.01}
PAPER_HEUN_STEPS = 255  # 256 grid points: 510 evaluations per direction
SHAPE = (3, 32, 32)


def synthetic_cifar(n: int, seed: int = 0) -> torch.Tensor:
    """CIFAR-shaped rows in [-1, 1] on 8-bit levels: smooth random images (a 4x4 colour grid
    upsampled) plus pixel noise, so the spectrum decays like natural images' rather than being
    flat."""
    rng = np.random.default_rng(seed)
    coarse = np.kron(rng.uniform(-0.8, 0.8, (n, 3, 4, 4)), np.ones((1, 1, 8, 8)))
    pixels = np.clip(np.round((coarse + rng.normal(0, 0.1, coarse.shape) + 1) * 127.5), 0, 255)
    return torch.as_tensor(pixels.reshape(n, -1) / 127.5 - 1.0)


def image_model(x: torch.Tensor, backbone: dict, seed: int = 0, pca=None):
    pca = pca or fit_pca(x.numpy())  # a 3072 x 3072 eigendecomposition: pass it when reused
    spec = {"schedule": SCHEDULE, "space": "data",
            "backbone": {**backbone, "dim": x.shape[1], "t_max": SCHEDULE["t_max"],
                         "image_shape": list(SHAPE)}}
    torch.manual_seed(seed)
    model = build_model(spec, pca.eigenvalues, pca.eigenvectors, pca.mean)
    model.backbone.float()
    return model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_training(x: torch.Tensor, backbone: dict, device: torch.device, batch_size: int,
                     steps: int, bf16: bool, timed_steps: int, pca=None, **options) -> dict:
    """Images/s over the last ``timed_steps`` of ``steps`` (after compilation and warm-up),
    peak memory, and the mean loss of the first and last 5 steps (read once, at the end)."""
    model = image_model(x, backbone, pca=pca)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=1e-3, lr_min_factor=1.0,
                      warmup_steps=max(1, steps // 10), ema_halflife_samples=500_000,
                      stable_target_size=0, mixed_precision=bf16, mixed_precision_cpu=bf16,
                      t_min=SCHEDULE["t_min"], t_max=SCHEDULE["t_max"], **options)
    trainer = Trainer(model, model.basis.to_eigen(x), cfg, device=device)
    losses = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = None
    for step in range(steps):
        if step == steps - timed_steps:
            sync(device)
            start = time.perf_counter()
        losses.append(trainer.train_step())
    sync(device)
    seconds = time.perf_counter() - start
    losses = torch.stack(losses).cpu().tolist()
    return {"precision": "bf16" if bf16 else "fp32", "batch_size": batch_size, "steps": steps,
            "images_per_s": timed_steps * batch_size / seconds,
            "peak_memory_mb": peak_memory_mb(device),
            "loss_first_5": float(np.mean(losses[:5])), "loss_last_5": float(np.mean(losses[-5:])),
            "finite": bool(np.isfinite(losses).all()), "model": trainer.model}


def largest_batch(fn, batch_size: int, minimum: int = 8) -> dict:
    """fn(batch_size), halving the batch after each CUDA out-of-memory error."""
    while True:
        try:
            return fn(batch_size)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if batch_size // 2 < minimum:
                raise
            batch_size //= 2


@torch.no_grad()
def measure_generation(model, device: torch.device, n: int, steps: int, bf16: bool) -> dict:
    """Heun generation of ``n`` images on a uniform grid of ``steps`` steps (2 NFE each)."""
    model = model.eval()
    net = BF16Autocast(model.backbone, device.type) if bf16 else model.backbone
    denoiser = type(model)(net, model.schedule, model.basis, model.space)
    flow = InflationaryFlow(denoiser, model.basis,
                            SolverConfig(t_min=SCHEDULE["t_min"], t_max=SCHEDULE["t_max"],
                                         method="heun", steps=steps, spacing="uniform"))
    z = flow.sample_prior(n, torch.Generator(device).manual_seed(0))
    if device.type == "cuda":  # what a batch of n needs: SolverConfig.batch_size sizes from it
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    out = flow.generate(z)
    sync(device)
    seconds = time.perf_counter() - start
    return {"precision": "bf16" if bf16 else "fp32", "n": n, "nfe": int(out.nfe),
            "images_per_s": n / seconds, "seconds": seconds,
            "peak_memory_mb": peak_memory_mb(device),
            "finite": bool(torch.isfinite(out.value).all()),
            "state_dtype": str(out.value.dtype)}


def _ddp_worker(rank: int, world: int, port: int, x: torch.Tensor, backbone: dict,
                batch_size: int, steps: int, out: str) -> None:
    from .. import distributed

    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    procs, device = distributed.start("cuda")
    try:
        model = image_model(x, backbone)
        cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=1e-3, lr_min_factor=1.0,
                          warmup_steps=1, stable_target_size=0, mixed_precision=True,
                          t_min=SCHEDULE["t_min"], t_max=SCHEDULE["t_max"])
        trainer = Trainer(model, model.basis.to_eigen(x), cfg, device=device, procs=procs)
        for _ in range(3):
            trainer.train_step()
        sync(device)
        start = time.perf_counter()
        for _ in range(steps - 3):
            loss = trainer.train_step()
        sync(device)
        rate = (steps - 3) * batch_size / (time.perf_counter() - start)
        if procs.is_main:
            Path(out).write_text(f"{rate} {float(procs.mean(loss))}")
        else:
            procs.mean(loss)
    finally:
        distributed.stop()


def measure_ddp(x: torch.Tensor, backbone: dict, batch_size: int, steps: int) -> dict:
    """Two processes, one GPU each, on the global batch (bf16): images/s of the pair."""
    import socket
    import tempfile

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rate")
        mp.spawn(_ddp_worker, (2, port, x, backbone, batch_size, steps, out), nprocs=2)
        rate, loss = map(float, Path(out).read_text().split())
    return {"processes": 2, "batch_size": batch_size, "steps": steps, "images_per_s": rate,
            "loss_last": loss}


def cifar10_estimate(train_rate: float, generation_rate: float,
                     config_path: Path | None = None) -> dict:
    """Wall time of configs/cifar10.yaml from measured per-GPU rates: each model trains on
    its job's GPUs (linear scaling assumed, an upper bound on speed) and integrates
    inflation + round trip of n_eval and generation of n_generate images on one."""
    import yaml

    config_path = config_path or Path(__file__).resolve().parents[3] / "configs/cifar10.yaml"
    images = yaml.safe_load(config_path.read_text())["images"]
    training = images["training"]
    models = 1 + len(images["dims_to_keep"])
    gpus = images["gpu"]
    train_h = training["steps"] * training["batch_size"] / (train_rate * gpus) / 3600
    flow_h = (2 * images["n_eval"] + images["n_generate"]) / generation_rate / 3600
    return {"models": models, "gpus_per_job": gpus,
            "training_images_per_model": training["steps"] * training["batch_size"],
            "train_hours_per_model": train_h, "flow_hours_per_model": flow_h,
            "gpu_hours_total": models * (train_h * gpus + flow_h),
            "wall_hours_one_job_at_a_time": models * (train_h + flow_h)}


def backends() -> dict:
    """The settings that decide fp32 speed on a GPU (TF32 tensor cores), as they stand."""
    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "environment": {k: v for k, v in os.environ.items() if "TF32" in k
                            or "PRECISION" in k or k.startswith("CUBLAS")}}
    if torch.cuda.is_available():
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        info["memory_gib"] = torch.cuda.get_device_properties(0).total_memory / 2**30
    return info


def run_phase(result: dict, name: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, or None when it fails: the failure is recorded under ``errors`` (its type and
    first line; the traceback goes to stderr) and the later phases still run, so one broken
    path does not hide the others' numbers."""
    try:
        return fn()
    except Exception as err:  # any failure is this check's finding
        traceback.print_exc()
        first = (str(err).strip().splitlines() or [""])[0]
        result["errors"].append(f"{name}: {type(err).__name__}: {first}")
        return None


def gpu_check(budget_s: float = 480.0, batch_size: int = 512, loss_steps: int = 100,
              smoke: bool | None = None, compile: bool = False, channels_last: bool = False,
              report: Callable[[dict], None] | None = None) -> dict:
    """The whole measurement; ``smoke`` (default: no CUDA) shrinks it to ~30 s on a CPU.
    ``report`` gets the result after every phase: a run killed at its time limit keeps what
    it measured."""
    from .bench import machine

    start = time.perf_counter()
    cuda = torch.cuda.is_available()
    smoke = not cuda if smoke is None else smoke
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    backbone = SMOKE_UNET if smoke else PAPER_UNET
    if smoke:
        batch_size, loss_steps, gen_n, gen_steps, n_data = 8, min(loss_steps, 4), 4, 8, 128
    else:
        gen_n, gen_steps, n_data = 256, PAPER_HEUN_STEPS, 4096
    x = synthetic_cifar(n_data)
    pca = fit_pca(x.numpy())
    result = {"machine": machine(), "device": torch.cuda.get_device_name(0) if cuda else "cpu",
              "gpus_visible": torch.cuda.device_count() if cuda else 0, "smoke": smoke,
              "backends": backends(), "unet": backbone,
              "options": {"compile": compile, "channels_last": channels_last},
              "training": [], "generation": [], "skipped": [], "errors": [], "finished": False}
    options = {"compile": compile, "channels_last": channels_last, "pca": pca}
    timed = min(20, max(2, loss_steps - 5))
    trained = None

    def over(share: float) -> bool:
        result["seconds"] = time.perf_counter() - start
        return result["seconds"] > share * budget_s

    for bf16 in (False, True):
        precision = "bf16" if bf16 else "fp32"
        if over(0.45):
            result["skipped"].append(f"training {precision}: over budget")
            continue
        row = run_phase(result, f"training {precision}", lambda bf16=bf16: largest_batch(
            lambda b: measure_training(x, backbone, device, b, loss_steps, bf16, timed,
                                       **options), batch_size))
        if row is not None:
            trained = row.pop("model")
            result["training"].append(row)
        if report:
            report(result)
    # CPUs without bf16 units take minutes for a bf16 generation; the flow step runs fp32
    for bf16 in (False, True) if cuda else (False,):
        precision = "bf16" if bf16 else "fp32"
        if trained is None or over(0.75):
            result["skipped"].append(f"generation {precision}: over budget or untrained")
            continue
        row = run_phase(result, f"generation {precision}", lambda bf16=bf16: measure_generation(
            trained, device, gen_n, gen_steps, bf16))
        if row is not None:
            result["generation"].append(row)
        if report:
            report(result)
    gpus = torch.cuda.device_count() if cuda else 0
    if gpus < 2:
        result["skipped"].append(f"ddp: {gpus} GPU(s)")
    elif not result["training"] or over(0.8):
        result["skipped"].append("ddp: no training or over budget")
    else:
        result["ddp"] = run_phase(result, "ddp", lambda: measure_ddp(
            x, backbone, result["training"][-1]["batch_size"], 23))
    result["cifar10_estimate"] = None
    # rates of the smoke UNet say nothing about the paper's: estimate only at full size
    if result["training"] and result["generation"] and not smoke:
        best = max(result["training"], key=lambda r: r["images_per_s"])
        gen = result["generation"][0]  # the flow step integrates the fp32 EMA network
        result["cifar10_estimate"] = run_phase(result, "cifar10 estimate", lambda: {
            "from": f"training {best['precision']}, generation {gen['precision']}",
            **cifar10_estimate(best["images_per_s"], gen["images_per_s"])})
    over(1.0)
    result["finished"] = True
    if report:
        report(result)
    return result
