"""Step ``cross-fit``: held-out calibration of a table model's recipe with every row held out
once, over K folds (kind ``cross_fit``)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..analyses.cross_fit import cross_fitted_calibration
from ..datasets import read_dataset
from ..io import write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the table's dataset HDF5 (both splits "
                        "are pooled and dealt into folds)")
    parser.add_argument("--name", required=True, help="the model's name")
    parser.add_argument("--spec", required=True, help="model spec JSON, as the train step gets")
    parser.add_argument("--training", required=True, help="TrainConfig fields as JSON")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    data, _ = read_dataset(args.data)
    rows = np.concatenate([data["train"], data["test"]])
    spec = json.loads(args.spec)
    spec["backbone"] = {**spec["backbone"], "dim": int(rows.shape[1]),
                        "t_max": spec["schedule"]["t_max"]}
    result = cross_fitted_calibration(spec, json.loads(args.training), json.loads(args.solver),
                                      rows, args.folds, args.seed, args.data)
    write_json(args.output, {"kind": "cross_fit", "model": args.name, **result,
                             "provenance": step_provenance("cross-fit", args)})
    cal, floor = result["calibration"], result["perfect_model_gap"]
    print(f"{args.name}: cross-fitted calibration max gap {100 * cal['max_abs_error']:.1f} pp "
          f"over {result['n']} rows in {args.folds} folds (a perfect model: "
          f"{100 * floor['median']:.1f} pp median, {100 * floor['p95']:.1f} pp 95th "
          f"percentile); per fold " + ", ".join(
              f"{100 * f['calibration']['max_abs_error']:.1f}" for f in result["per_fold"]))
