"""Step ``coverage-report``: supp_coverage.pdf from the coverage runs and the models'
latent calibration (held-out data pushed to latent space)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..figures.analyses import coverage_figure
from ..io import read_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--coverage", nargs="+", required=True, help="coverage JSON files")
    parser.add_argument("--metrics", nargs="+", required=True,
                        help="toy metrics JSON files (latent calibration of held-out data)")
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    runs = {}
    for path in args.coverage:
        run_ = read_json(path, "coverage")
        runs[Path(run_["provenance"]["params"]["model"]).stem] = run_
    held_out = {m["model"]: m for m in (read_json(p, "toy_metrics") for p in args.metrics)}
    meta = step_provenance("coverage-report", args)
    coverage_figure(runs, held_out, args.output, meta)
