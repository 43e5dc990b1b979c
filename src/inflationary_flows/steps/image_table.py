"""Step ``image-table``: Table 1 (quality and round-trip MSE against kept dimensions) or the
inflation-gap sweep, one row per image model, the paper's numbers in adjacent columns."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io import read_json, write_csv
from ..provenance import step_provenance
from ..workflow.published import published
from .replicates import seed_columns, seed_metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics", nargs="+", required=True, help="image-metrics JSON files")
    parser.add_argument("--datasets", nargs="+", required=True, help="dataset of each model")
    parser.add_argument("--fid", nargs="*", default=[],
                        help="fid JSON files, <model>_fid.json beside <model>.json (optional)")
    parser.add_argument("--replicates", nargs="*", default=[],
                        help="image-metrics JSON of further training seeds ('<model>-r<k>', "
                             "the same number per model, in the models' order): adds mean and "
                             "sd columns over each model's seeds")
    parser.add_argument("--output", required=True)


# the columns table1.csv aggregates over training seeds (units as in the row)
REPLICATED = {
    "classifier_frechet": (("frechet", "frechet_distance"), 1),
    "classifier_frechet_exact": (("frechet", "exact", "frechet_distance"), 1),
    "classifier_frechet_minus_exact": (("frechet", "minus_exact", "mean"), 1),
    "mse_8bit": (("roundtrip_mse_8bit", "float"), 1),
    "latent_calibration_max_error": (("latent_calibration", "max_abs_error"), 1),
    **{f"{check}_max_error": (("calibration_checks", check, "trained", "max_abs_error"), 1)
       for check in ("held_out_noised", "training_noised", "held_out_smoothed",
                     "training_smoothed")},
}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def row(metrics: dict, dataset: str, fid: dict | None) -> dict[str, str]:
    sched = metrics["schedule"]
    gap = sched.get("inflation_gap") if sched["kind"] == "prr" else None
    paper = published(dataset, metrics["dims_to_keep"], gap)
    frechet, nearest = metrics.get("frechet", {}), metrics.get("nearest_training_distance", {})
    excess = frechet.get("minus_exact", {})
    # held-out and training images with fresh noise of t_min and of the data's scale,
    # trained flow and exact score
    checks = {f"{name}_max_error{suffix}": _fmt(check[flow]["max_abs_error"], 3)
              for name, check in metrics.get("calibration_checks", {}).items()
              for flow, suffix in (("trained", ""), ("exact", "_exact"))}
    return {
        "dataset": dataset, "model": metrics["model"], "schedule": sched["kind"],
        "dims_kept": str(metrics["dims_to_keep"]), "D": str(metrics["dim"]),
        "inflation_gap": "" if gap is None else f"{gap:g}",
        "fid": _fmt(fid["fid"] if fid else None),
        "classifier_frechet": _fmt(frechet.get("frechet_distance")),
        # the sd of one batch of n generated images over the batches, and of n training
        # images drawn with replacement: the distance's sampling noise at that n
        "classifier_frechet_batches": str(len(frechet.get("frechet_batches", []))),
        "classifier_frechet_batch_sd": _fmt(frechet.get("frechet_sd"), 3),
        "classifier_frechet_floor": _fmt(frechet.get("floor_train_vs_test")),
        "classifier_frechet_floor_resampled": _fmt(frechet.get("floor_resampled", {}).get("mean")),
        "classifier_frechet_floor_resampled_sd": _fmt(
            frechet.get("floor_resampled", {}).get("sd"), 3),
        "classifier_frechet_n": str(frechet.get("n_generated", "")),
        # the exact score of the training images from the same prior draws (the method's
        # perfect fit of them), and the model's excess over it paired by batch (sd over batches)
        "classifier_frechet_exact": _fmt(frechet.get("exact", {}).get("frechet_distance")),
        "classifier_frechet_minus_exact": _fmt(excess.get("mean")),
        "classifier_frechet_minus_exact_batch_sd": _fmt(excess.get("sd"), 3),
        # median distance to the nearest training image: generated, exact score's, held-out
        **{f"nearest_training_{rows}": _fmt(nearest.get(rows), 3)
           for rows in ("generated", "exact", "held_out")},
        "mse_8bit": _fmt(metrics["roundtrip_mse_8bit"]["float"], 3),
        "mse_8bit_uint8_convention": _fmt(metrics["roundtrip_mse_8bit"]["uint8"], 3),
        "latent_calibration_max_error": _fmt(metrics["latent_calibration"]["max_abs_error"], 3),
        **checks,
        "nfe_generation": str(metrics["nfe"]["generation"]),
        "paper_fid": _fmt(paper[0] if paper else None),
        "paper_mse_8bit": _fmt(paper[1] if paper else None),
    }


def run(args: argparse.Namespace) -> None:
    if len(args.datasets) != len(args.metrics):
        raise ValueError("--metrics and --datasets need one entry per model")
    fids = {Path(p).name.removesuffix("_fid.json"): read_json(p, "fid") for p in args.fid}
    runs = [read_json(m, "image_metrics") for m in args.metrics]
    rows = [row(metrics, d, fids.get(Path(m).stem))
            for metrics, m, d in zip(runs, args.metrics, args.datasets, strict=True)]
    if args.replicates:
        seeds = seed_metrics([r["model"] for r in runs], args.replicates, "image_metrics")
        rows = [r | seed_columns([metrics, *more], REPLICATED, ".4g")
                for r, metrics, more in zip(rows, runs, seeds, strict=True)]
    write_csv(args.output, rows, step_provenance("image-table", args))
    print(f"{len(rows)} models -> {args.output}")
