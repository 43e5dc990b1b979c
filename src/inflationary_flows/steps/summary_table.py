"""Step ``summary-table``: one CSV row per toy model, its metrics beside its exact-score
reference (results/tables/summary.csv). The trained model's energy-distance ratio is also
measured again at the reference's n (its first n generated samples), since the ratio grows
with n."""

from __future__ import annotations

import argparse

import torch

from ..analyses.metrics import generation_quality
from ..analyses.reference import summary_row
from ..datasets import read_dataset
from ..io import read_h5, read_json, write_csv
from ..provenance import step_provenance
from ..smoothing import held_out_rows
from .replicates import seed_columns, seed_metrics


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


# the trained metrics summary.csv aggregates over training seeds
REPLICATED = {"calibration_max_gap_pp_trained": (("latent_calibration", "max_abs_error"), 100),
              "kept_dims_max_gap_pp_trained": (("latent_calibration_kept", "max_abs_error"), 100),
              "ratio_trained": (("generation", "ratio"), 1),
              "ratio_trained_training_latents": (("generation_training_latents", "ratio"), 1)}


def run(args: argparse.Namespace) -> None:
    if not len(args.trained) == len(args.exact) == len(args.flows) == len(args.data):
        raise ValueError("--trained, --exact, --flows and --data need one entry each per model")
    trained_runs = [read_json(path, "toy_metrics") for path in args.trained]
    seeds = seed_metrics([t["model"] for t in trained_runs], args.replicates, "toy_metrics")
    rows = []
    for i, (trained, exact_path, flow_path, data_path) in enumerate(zip(
            trained_runs, args.exact, args.flows, args.data, strict=True)):
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
        if args.replicates:
            row |= seed_columns([trained, *seeds[i]], REPLICATED)
        rows.append(row)
    write_csv(args.output, rows, step_provenance("summary-table", args))
    print(f"{len(rows)} models -> {args.output}")
