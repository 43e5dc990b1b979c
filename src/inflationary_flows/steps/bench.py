"""Step ``bench``: the benchmark suite (exact score, solvers, training, workflow times)."""

from __future__ import annotations

import argparse
import json

from ..bench import run_all


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", default="results/benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--model", help="trained toy model stem, e.g. results/models/toys/"
                        "moons_prp (with its dataset --data) for the trained-score solver sweep")
    parser.add_argument("--data", help="dataset HDF5 of --model")
    parser.add_argument("--threads", type=int, default=1)


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    model = None
    if args.model:
        model = {"weights": args.model + ".pt", "spec": args.model + ".json",
                 "data_path": args.data}
    results = run_all(args.output_dir, args.quick, model)
    print(json.dumps(results, indent=1, default=str))
