"""Step ``provenance-table``: one CSV row per output, saying what produced it (for the report)."""

from __future__ import annotations

import argparse

from ..io import read_provenance, write_csv
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outputs", nargs="+", required=True,
                        help="outputs of the workflow (HDF5, JSON, CSV, PDF, GIF)")
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    rows = []
    for path in args.outputs:
        record = read_provenance(path)
        params = record["params"]
        rows.append({
            "output": path,
            "step": record["step"],
            "params_hash": record["params_hash"],
            "seed": params.get("seed", ""),
            "package_version": record["package_version"],
            "git_commit": record["git_commit"],
            "torch": record["libraries"].get("torch", ""),
            "snakemake": record["libraries"].get("snakemake", ""),
            "created_utc": record["created_utc"],
        })
    write_csv(args.output, rows, step_provenance("provenance-table", args))
    print(f"{len(rows)} outputs -> {args.output}")
