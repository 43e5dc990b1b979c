"""Command-line layer: ``python -m inflationary_flows <step> [options]``, one step per rule.

Each step lives in ``inflationary_flows.steps.<module>`` with ``add_arguments(parser)`` and
``run(args)``; a step's module is imported only when that step runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .allocator import keep_freed_memory

# step name -> one-line description; the step's module is the name with '_' for '-', and its
# rule in workflow/rules has that same name
STEPS: dict[str, str] = {
    "dataset": "generate a toy set or read an image set; write train/test HDF5",
    "pca": "covariance eigendecomposition (float64) and participation ratio",
    "participation-ratio-table": "collect participation ratios of several datasets into a CSV",
    "train": "train a preconditioned denoiser (checkpoints, EMA, diagnostics)",
    "flow": "inflate held-out data, round trip, generate; record trajectories",
    "toy-metrics": "round-trip error, latent calibration, sample quality (JSON)",
    "toy-exact-metrics": "a toy model's metrics with the exact empirical score",
    "summary-table": "toy models beside their exact-score references (CSV)",
    "toy-figure": "toy flow figure (paper Fig. 2 / Fig. 3) as a vector PDF",
    "toy-animation": "GIF animations of a toy flow",
    "posterior": "Figure 4 posterior and SBC replicates through a trained flow",
    "posterior-report": "Figure 4 and hmc_calibration.json",
    "pr-over-time": "PR along the exact-score flow vs its closed form",
    "residuals": "temporal correlation of denoiser residuals (appendix C.3)",
    "duality": "Figure 1: SDE, Fokker-Planck and pfODE on a 1-D mixture",
    "coverage": "coverage of credible regions through a trained flow",
    "coverage-report": "supp_coverage.pdf from the coverage runs",
    "solver-accuracy": "error against NFE per solver (supp_solvers.pdf)",
    "prr-generation": "PRR against T and IG, exact score, two priors (supp_prr.pdf)",
    "embedded": "embedded toys: local structure along inflation (PDF, JSON)",
    "classifier": "train the digits classifier of the digits Frechet distance",
    "image-metrics": "image round-trip MSE (8-bit), calibration, Frechet",
    "fid": "FID of generated images with torch-fidelity (local Inception weights)",
    "table-figure": "pair plots of a table's data, latents and samples",
    "density-benchmark": "held-out log-likelihood: inflationary flow, MAF, Gaussian (CSV)",
    "cross-fit": "a table model's calibration with every row held out once (K folds)",
    "image-figure": "Figure 5: generated images and round trips",
    "image-table": "Table 1 / inflation-gap sweep of the image models (CSV)",
    "spectra-figure": "dataset eigenvalue spectra with participation ratios (PDF)",
    "provenance-table": "collect the provenance of outputs into a CSV",
    "bench": "benchmark suite: exact score, solvers, training, workflow times",
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inflationary_flows",
        description="Steps of the inflationary-flows workflow (each is one Snakemake rule).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="steps:\n" + "\n".join(f"  {n:<26}{d}" for n, d in STEPS.items()),
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
    description = STEPS[step]
    module = importlib.import_module(f"{__package__}.steps.{step.replace('-', '_')}")
    parser = argparse.ArgumentParser(prog=f"python -m inflationary_flows {step}",
                                     description=description)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    keep_freed_memory()
    try:
        module.run(args)
    except (ValueError, OSError, RuntimeError) as err:
        # One clear line for the rule's log; the traceback helps nobody with a bad input.
        print(f"error in step '{step}': {err}", file=sys.stderr)
        return 1
    return 0
