"""Where a toy model's training gap is (issue 14): its flow with the exact empirical denoiser
of its training set in one band of t at a time and the network elsewhere.

    python scripts/hybrid_bands.py results/models/toys/swirl_prp.pt results/data/swirl.h5 \
        --atoms 2000 --n-eval 2000 --n-generate 2000 --edges 0 1 2.5 5 7.5 10 15

Prints a markdown table (band -> calibration max gap, energy-distance ratio) and writes the
rows as JSON with --output.
"""

from __future__ import annotations

import argparse
import json

import torch

from inflationary_flows.analyses.exact import exact_flow
from inflationary_flows.analyses.hybrid import band_diagnosis
from inflationary_flows.datasets import read_dataset
from inflationary_flows.flow import flow_for
from inflationary_flows.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="weights (.pt); spec JSON beside it")
    parser.add_argument("data", help="the model's dataset HDF5")
    parser.add_argument("--atoms", type=int, default=2000)
    parser.add_argument("--n-eval", type=int, default=2000)
    parser.add_argument("--n-generate", type=int, default=2000)
    parser.add_argument("--edges", type=float, nargs="+", default=[0, 1, 2.5, 5, 7.5, 10, 15])
    parser.add_argument("--solver", default='{"method": "dopri5", "rtol": 1e-6, "atol": 1e-6}')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.model.removesuffix(".pt") + ".json")
    data, _ = read_dataset(args.data)
    flow = flow_for(model, meta["spec"], json.loads(args.solver))
    exact = exact_flow(torch.as_tensor(data["train"][: args.atoms]), model.schedule,
                       model.basis).denoiser
    test = torch.as_tensor(data["test"])
    bands = list(zip(args.edges[:-1], args.edges[1:], strict=True))
    rows = band_diagnosis(model, exact, flow, bands, test[: args.n_eval], test,
                          args.n_generate, args.seed)
    print(f"| exact denoiser in t | calibration max gap (pp, n = {rows[0]['n_eval']}) | "
          f"energy-distance ratio (n = {rows[0]['n_ratio']}) |\n|---|---|---|")
    for row in rows:
        print(f"| {row['exact_in']} | {row['calibration_max_gap_pp']:.1f} | {row['ratio']:.2f} |")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump({"model": args.model, "atoms": args.atoms, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
