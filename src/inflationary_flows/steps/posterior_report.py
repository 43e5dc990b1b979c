"""Step ``posterior-report``: Figure 4 and the calibration summary of the posterior runs."""

from __future__ import annotations

import argparse

from ..figures.analyses import posterior_figure
from ..io import read_h5, write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posteriors", nargs="+", required=True, help="posterior HDF5 files")
    parser.add_argument("--labels", nargs="+", required=True)
    parser.add_argument("--alpha", type=float, default=0.01, help="level of the uniformity test")
    parser.add_argument("--output-figure", required=True)
    parser.add_argument("--output-metrics", required=True)


def run(args: argparse.Namespace) -> None:
    rows, summary = [], {}
    for path, label in zip(args.posteriors, args.labels, strict=True):
        arrays, attrs = read_h5(path, "posterior", required=["figure4/draws", "sbc/ranks"])
        rows.append((label, arrays, attrs))
        p_values = [u["p_value"] for u in attrs["rank_uniformity"]]
        summary[label] = {
            "figure4": {"truth": attrs["figure4_weights"],
                        "posterior_mean": arrays["figure4/draws"].mean(0).tolist(),
                        "posterior_sd": arrays["figure4/draws"].std(0).tolist()},
            "replicates": int(arrays["sbc/truth"].shape[0]),
            "sbc_rank_uniformity": attrs["rank_uniformity"],
            "sbc_min_p_value": min(p_values),
            "sbc_uniform_at_alpha": min(p_values) > args.alpha,
            "interval_coverage": attrs["interval_coverage"],
            "latent_recovery_max_error": attrs["latent_recovery_max_error"],
        }
    meta = step_provenance("posterior-report", args)
    posterior_figure(rows, args.output_figure, meta)
    write_json(args.output_metrics, {"kind": "hmc_calibration", "alpha": args.alpha,
                                     "models": summary, "provenance": meta})
    for label, row in summary.items():
        print(f"{label}: min SBC p = {row['sbc_min_p_value']:.3f}, coverage "
              f"{row['interval_coverage']}", flush=True)
