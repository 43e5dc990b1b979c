"""Step ``bench``: the benchmark suite (exact score, solvers, training, workflow times), or
with ``--gpu`` the paper-scale image measurement of :mod:`..gpu_check` (JSON on stdout)."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", default="results/benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--model", help="trained toy model stem, e.g. results/models/toys/"
                        "moons_prp (with its dataset --data) for the trained-score solver sweep")
    parser.add_argument("--data", help="dataset HDF5 of --model")
    parser.add_argument("--threads", type=int, default=1)
    gpu = parser.add_argument_group("--gpu: the DDPM++ measurement (a 30 s smoke run on CPUs)")
    gpu.add_argument("--gpu", action="store_true",
                     help="measure the paper's UNet (training fp32/bf16, Heun at 510 NFE, DDP)")
    gpu.add_argument("--budget-s", type=float, default=480.0, help="time for all phases")
    gpu.add_argument("--batch-size", type=int, default=512, help="halved until it fits")
    gpu.add_argument("--loss-steps", type=int, default=100,
                     help="training steps per precision (the loss after them is reported)")
    gpu.add_argument("--full-size", action="store_true",
                     help="the paper's UNet even without CUDA (slow: for CPU images/s)")
    gpu.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    gpu.add_argument("--channels-last", action="store_true", help="NHWC convolutions")


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    if args.gpu:
        from ..analyses.gpu_check import gpu_check
        from ..io import write_json

        def report(result: dict) -> None:  # after every phase: a killed run keeps its numbers
            write_json(f"{args.output_dir}/gpu_check.json", {"kind": "benchmark",
                                                             "result": result})

        result = gpu_check(args.budget_s, args.batch_size, args.loss_steps,
                           smoke=False if args.full_size else None, compile=args.compile,
                           channels_last=args.channels_last, report=report)
        print(json.dumps(result, indent=1))
        return
    from ..analyses.bench import run_all

    model = None
    if args.model:
        model = {"weights": args.model + ".pt", "spec": args.model + ".json",
                 "data_path": args.data}
    results = run_all(args.output_dir, args.quick, model)
    print(json.dumps(results, indent=1, default=str))
