"""Step ``train``: fit a preconditioned denoiser to one dataset under one schedule.

Runs as one process, or as several under torchrun (data parallel; the workflow launches one
process per GPU the job holds). Only the main process logs and writes the model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TextIO

import numpy as np
import torch

from .. import distributed
from ..datasets import read_dataset
from ..fitting import prepare_training
from ..io import read_h5
from ..models import save_model
from ..preconditioning import IFPreconditioner, LowTimeNetwork
from ..provenance import array_hash, config_hash, step_provenance
from ..training import TrainConfig, Trainer, loss_by_time_band
from .device import add_device_argument, pick_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset HDF5")
    parser.add_argument("--pca", required=True, help="PCA HDF5 of the same dataset")
    parser.add_argument("--spec", required=True,
                        help="model spec JSON: {schedule: {...}, backbone: {...}, space}")
    parser.add_argument("--training", required=True, help="TrainConfig fields as JSON")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser, "cpu, cuda, or auto (CUDA if present); under torchrun each "
                                "process takes the GPU of its LOCAL_RANK")
    parser.add_argument("--output", required=True, help="weights (.pt); spec JSON beside it")
    parser.add_argument("--output-spec", required=True)


def run(args: argparse.Namespace) -> None:
    procs, where = distributed.start(pick_device(args.device).type)
    try:
        train(args, procs, where)
    finally:
        distributed.stop()


def train(args: argparse.Namespace, procs: distributed.Processes, device: torch.device) -> None:
    torch.set_num_threads(max(1, args.threads // procs.world_size))
    data, data_attrs = read_dataset(args.data)
    pca, _ = read_h5(args.pca, "pca", required=["mean", "eigenvalues", "eigenvectors"])
    spec = json.loads(args.spec)
    sched = spec["schedule"]

    def complete(backbone: dict) -> dict:
        backbone = {**backbone, "dim": int(pca["mean"].shape[0]), "t_max": sched["t_max"]}
        if backbone["kind"] == "unet":
            if not data_attrs.get("image_shape"):
                raise ValueError(f"{args.data}: the unet backbone needs an image dataset")
            backbone["image_shape"] = data_attrs["image_shape"]
        return backbone

    spec["backbone"] = complete(spec["backbone"])
    if "low_t" in spec:
        spec["low_t"] = {**spec["low_t"], "backbone": complete(spec["low_t"]["backbone"])}
    model, spec, cfg, u_train = prepare_training(spec, json.loads(args.training), pca,
                                                 data["train"], args.seed, args.data)
    low_t, model.low_t = model.low_t, None  # the main network trains alone
    sched = spec["schedule"]
    # a checkpoint resumes only if everything the weights depend on is identical (the main
    # network's do not depend on the low-t network's settings)
    inputs = {"data": array_hash(data["train"]),
              "pca": array_hash(pca["mean"], pca["eigenvalues"], pca["eigenvectors"]),
              "spec": config_hash({k: v for k, v in spec.items() if k != "low_t"})}
    trainer = Trainer(model, u_train, cfg, args.checkpoint_dir, device, procs, inputs)
    log = sys.stderr if procs.is_main else None
    if log:
        held = (f" ({u_train.shape[0] - trainer.u.shape[0]} more held out for model "
                f"selection)" if trainer.validation is not None else "")
        print(f"training on {device} in {procs.world_size} process(es): {trainer.u.shape[0]} "
              f"points{held}, D = {u_train.shape[1]}, "
              f"{sum(p.numel() for p in model.backbone.parameters())} parameters",
              file=log, flush=True)
    trainer.fit(log=log)
    low_trainer = None
    if low_t is not None:
        low_trainer = train_low_t(low_t, model, spec["low_t"]["steps"], cfg, u_train,
                                  args.checkpoint_dir, device, procs,
                                  {**inputs, "spec": config_hash(spec)}, log)
        trainer.ema.low_t = LowTimeNetwork(low_trainer.ema.backbone, low_t.space, low_t.ramp)
    if not procs.is_main:
        return
    low_training = {} if low_trainer is None else {"low_t": {
        "config": low_trainer.cfg.__dict__, "history": low_trainer.history,
        **selected(low_trainer)}}
    # the diagnostic runs where training ran: 6 x 4096 DDPM++ evaluations take hours on a CPU
    ema = trainer.ema
    u_test = ema.basis.to_eigen(torch.as_tensor(data["test"], dtype=torch.float64,
                                                device=device))
    edges = np.linspace(sched["t_min"], sched["t_max"], 7).tolist()
    bands = loss_by_time_band(ema, u_test, edges, per_band=cfg.band_points, seed=args.seed)
    ema = ema.cpu()
    for row in bands:
        low, high = row["variance_drift"]
        print(f"t in [{row['t_lo']:.2f}, {row['t_hi']:.2f}]: loss / Gaussian-denoiser loss = "
              f"{row['ratio']:.4f}, latent variance drift of the kept directions "
              f"{low:+.3f} to {high:+.3f}", flush=True)
    extra = {"training": {"config": cfg.__dict__, "history": trainer.history,
                          **selected(trainer),
                          "loss_by_time_band": bands, "device": str(device),
                          "processes": procs.world_size, **low_training},
             "provenance": step_provenance("train", args)}
    save_model(args.output, args.output_spec, ema, spec, extra)


def selected(trainer: Trainer) -> dict:
    """The model selection of a run with a validation split (logged), for its JSON."""
    if trainer.best is None:
        return {}
    print(f"kept the EMA weights of step {trainer.best['step']} (lowest validation loss "
          f"{trainer.best['loss']:.4f})", flush=True)
    return {"selection": {"step": trainer.best["step"], "loss": trainer.best["loss"],
                          "curve": trainer.validation_curve}}


def train_low_t(low_t: LowTimeNetwork, model: IFPreconditioner, steps: int, cfg: TrainConfig,
                u_train: torch.Tensor, checkpoint_dir: str, device: torch.device,
                procs: distributed.Processes, inputs: dict, log: TextIO | None) -> Trainer:
    """Train a low-t network on its own, on t in [t_min, ramp end] (where its share is not 0),
    with the main network's recipe otherwise; its checkpoints resume only into the same."""
    if low_t.ramp[1] <= cfg.t_min:
        raise ValueError(f"low_t ramp end {low_t.ramp[1]:g} must exceed the schedule's t_min "
                         f"{cfg.t_min:g}")
    # the trajectory penalty is of the blended model's flow, which this network alone does
    # not make
    low_cfg = dataclasses.replace(cfg, t_max=low_t.ramp[1], steps=steps,
                                  trajectory_penalty_weight=0.0)
    low = IFPreconditioner(low_t.backbone, model.schedule, model.basis, low_t.space)
    trainer = Trainer(low, u_train, low_cfg, os.path.join(checkpoint_dir, "low_t"), device,
                      procs, {**inputs, "network": "low_t"})
    if log:
        print(f"training the low-t network (t in [{low_cfg.t_min:g}, {low_cfg.t_max:g}], "
              f"{steps} steps): {sum(p.numel() for p in low_t.backbone.parameters())} "
              f"parameters", file=log, flush=True)
    trainer.fit(log=log)
    return trainer
