"""Step ``cross-fit``: held-out calibration of a table model's recipe with every row held out
once, over K folds (kind ``cross_fit``)."""

from __future__ import annotations

import argparse
import json

import torch

from ..analyses.cross_fit import cross_fitted_calibration
from ..io import write_json
from ..provenance import step_provenance
from ..tables import add_preprocessing_arguments, preprocess, table_rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="the table: file[.h5:dataset] or "
                        "sklearn:<name> (every row is dealt into the folds)")
    add_preprocessing_arguments(parser, "each fold's training rows")
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
    rows, _ = table_rows(args.source, json.loads(args.columns))
    spec = json.loads(args.spec)
    spec["backbone"] = {**spec["backbone"], "dim": int(rows.shape[1]),
                        "t_max": spec["schedule"]["t_max"]}

    def prepare(fit, held):  # as the dataset step does for its one split
        return preprocess(fit, held, args.transform, args.standardize, args.source)[:2]

    result = cross_fitted_calibration(spec, json.loads(args.training), json.loads(args.solver),
                                      rows, args.folds, args.seed, args.source, prepare)
    write_json(args.output, {"kind": "cross_fit", "model": args.name, **result,
                             "provenance": step_provenance("cross-fit", args)})
    cal, floor = result["calibration"], result["perfect_model_gap"]
    print(f"{args.name}: cross-fitted calibration max gap {100 * cal['max_abs_error']:.1f} pp "
          f"over {result['n']} rows in {args.folds} folds (a perfect model: "
          f"{100 * floor['median']:.1f} pp median, {100 * floor['p95']:.1f} pp 95th "
          f"percentile); per fold " + ", ".join(
              f"{100 * f['calibration']['max_abs_error']:.1f}" for f in result["per_fold"]))
