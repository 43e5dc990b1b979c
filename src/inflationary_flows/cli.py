"""Command-line layer: ``python -m inflationary_flows <step> [options]``, one step per rule.

Each step lives in ``inflationary_flows.steps.<module>`` with ``add_arguments(parser)`` and
``run(args)``; a step's module is imported only when that step runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# step name -> (module under inflationary_flows.steps, one-line description)
STEPS: dict[str, tuple[str, str]] = {
    "dataset": ("dataset", "generate a toy set or read an image set; write train/test HDF5"),
    "pca": ("pca", "covariance eigendecomposition (float64) and participation ratio"),
    "pr-table": ("pr_table", "collect participation ratios of several datasets into a CSV"),
    "train": ("train", "train a preconditioned denoiser (checkpoints, EMA, diagnostics)"),
    "flow": ("flow", "inflate held-out data, round trip, generate; record trajectories"),
    "metrics": ("metrics", "round-trip error, latent calibration, sample quality (JSON)"),
    "exact-metrics": ("exact_metrics", "a toy model's metrics with the exact empirical score"),
    "summary-table": ("summary_table", "toy models beside their exact-score references (CSV)"),
    "figure": ("figure", "toy flow figure (paper Fig. 2 / Fig. 3) as a vector PDF"),
    "animate": ("animate", "GIF animations of a toy flow"),
    "posterior": ("posterior", "Figure 4 posterior and SBC replicates through a trained flow"),
    "posterior-report": ("posterior_report", "Figure 4 and hmc_calibration.json"),
    "pr-over-time": ("pr_over_time", "PR along the exact-score flow vs its closed form"),
    "residuals": ("residuals", "temporal correlation of denoiser residuals (appendix C.3)"),
    "duality": ("duality", "Figure 1: SDE, Fokker-Planck and pfODE on a 1-D mixture"),
    "coverage": ("coverage", "coverage of credible regions through a trained flow"),
    "coverage-report": ("coverage_report", "supp_coverage.pdf from the coverage runs"),
    "solver-accuracy": ("solver_accuracy", "error against NFE per solver (supp_solvers.pdf)"),
    "embedded": ("embedded", "embedded toys: local structure along inflation (PDF, JSON)"),
    "classifier": ("classifier", "train the digits classifier of the digits Frechet distance"),
    "image-metrics": ("image_metrics", "image round-trip MSE (8-bit), calibration, Frechet"),
    "fid": ("fid", "FID of generated images with torch-fidelity (local Inception weights)"),
    "table-figure": ("table_figure", "pair plots of a table's data, latents and samples"),
    "density-benchmark": ("density_benchmark",
                          "held-out log-likelihood: inflationary flow, MAF, Gaussian (CSV)"),
    "image-figure": ("image_figure", "Figure 5: generated images and round trips"),
    "image-table": ("image_table", "Table 1 / inflation-gap sweep of the image models (CSV)"),
    "spectra": ("spectra", "dataset eigenvalue spectra with participation ratios (PDF)"),
    "provenance-table": ("provenance_table", "collect the provenance of outputs into a CSV"),
    "bench": ("bench", "benchmark suite: exact score, solvers, training, workflow times"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inflationary_flows",
        description="Steps of the inflationary-flows workflow (each is one Snakemake rule).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="steps:\n" + "\n".join(f"  {n:<14}{d}" for n, (_, d) in STEPS.items()),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("step", choices=list(STEPS), metavar="step", help="the step to run")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    top = _top_parser()
    if not argv or argv[0].startswith("-"):
        top.parse_args(argv or ["--help"])
        return 0
    step = top.parse_args(argv[:1]).step
    module_name, description = STEPS[step]
    module = importlib.import_module(f"{__package__}.steps.{module_name}")
    parser = argparse.ArgumentParser(prog=f"python -m inflationary_flows {step}",
                                     description=description)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        module.run(args)
    except (ValueError, OSError, RuntimeError) as err:
        # One clear line for the rule's log; the traceback helps nobody with a bad input.
        print(f"error in step '{step}': {err}", file=sys.stderr)
        return 1
    return 0
