"""Step ``summary-table``: one CSV row per toy model, its metrics beside its exact-score
reference (results/tables/summary.csv). The trained model's energy-distance ratio is also
measured again at the reference's n (its first n generated samples), since the ratio grows
with n."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..analyses.metrics import generation_quality
from ..analyses.reference import summary_row
from ..datasets import read_dataset
from ..io import read_h5, read_json, write_csv
from ..provenance import step_provenance
from ..smoothing import held_out_rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trained", nargs="+", required=True, help="toy metrics JSON")
    parser.add_argument("--exact", nargs="+", required=True,
                        help="exact-score metrics JSON, one per trained, in the same order")
    parser.add_argument("--flows", nargs="+", required=True,
                        help="the trained models' flow HDF5, in the same order")
    parser.add_argument("--data", nargs="+", required=True, help="their dataset HDF5")
    parser.add_argument("--replicates", nargs="*", default=[],
                        help="metrics JSON of further training seeds ('<model>-r<k>'): adds "
                             "mean and sd columns over each model's seeds")
    parser.add_argument("--output", required=True)


# the trained metrics summary.csv aggregates over training seeds:
# column -> (metrics section, key, scale to the column's unit)
REPLICATED = {"calibration_max_gap_pp_trained": ("latent_calibration", "max_abs_error", 100),
              "kept_dims_max_gap_pp_trained": ("latent_calibration_kept", "max_abs_error", 100),
              "ratio_trained": ("generation", "ratio", 1),
              "ratio_trained_training_latents": ("generation_training_latents", "ratio", 1)}


def replicate_columns(runs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Mean and sample sd (ddof 1) of the trained metrics over ``runs`` (one metrics dict
    per training seed of a model); a metric some run lacks (PRP: kept dims) stays empty."""
    columns = {"replicates": str(len(runs))}
    for column, (section, key, scale) in REPLICATED.items():
        values = [run[section][key] * scale for run in runs if section in run]
        ok = len(values) == len(runs) and len(runs) > 1
        columns[f"{column}_mean"] = f"{np.mean(values):.3f}" if ok else ""
        columns[f"{column}_sd"] = f"{np.std(values, ddof=1):.3f}" if ok else ""
    return columns


def seeds_of(model: str, paths: list[str]) -> list[dict]:
    """The metrics of ``model``'s further training seeds ('<model>-r<k>'), checked."""
    runs = [read_json(path, "toy_metrics") for path in paths]
    for path, metrics in zip(paths, runs, strict=True):
        if not metrics["model"].startswith(f"{model}-r"):
            raise ValueError(f"{path}: model {metrics['model']}, not a seed of {model}")
    return runs


def run(args: argparse.Namespace) -> None:
    if not len(args.trained) == len(args.exact) == len(args.flows) == len(args.data):
        raise ValueError("--trained, --exact, --flows and --data need one entry each per model")
    per_model, extra = divmod(len(args.replicates), len(args.trained))
    if extra:
        raise ValueError(f"--replicates: {len(args.replicates)} files do not split evenly over "
                         f"{len(args.trained)} models")
    rows = []
    for trained_path, exact_path, flow_path, data_path in zip(
            args.trained, args.exact, args.flows, args.data, strict=True):
        trained = read_json(trained_path, "toy_metrics")
        exact = read_json(exact_path, "toy_metrics_exact")
        if trained["model"] != exact["model"]:
            raise ValueError(f"{exact_path}: model {exact['model']}, not {trained['model']}")
        flow, _ = read_h5(flow_path, "flow", required=["generation/x"])
        test = torch.as_tensor(held_out_rows(flow, read_dataset(data_path, ["test"])[0]["test"]))
        n = exact["generation"]["n"]
        generated = torch.as_tensor(flow["generation/x"])
        # fewer generated points than the reference's n (toys.n_generate < n): no equal-n value
        again = generation_quality(generated[:n], test)["ratio"] \
            if generated.shape[0] >= n else None
        row = summary_row(trained["model"], trained, exact, again)
        if per_model:
            row |= replicate_columns([trained, *seeds_of(trained["model"], args.replicates[
                len(rows) * per_model:(len(rows) + 1) * per_model])])
        rows.append(row)
    write_csv(args.output, rows, step_provenance("summary-table", args))
    print(f"{len(rows)} models -> {args.output}")
