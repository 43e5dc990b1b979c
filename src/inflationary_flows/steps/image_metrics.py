"""Step ``image-metrics``: round-trip MSE in 8-bit pixel units, held-out latent calibration
(the dimension-free coverage check) and, with a classifier, the digits Frechet distance of
generated images beside the train-vs-test floor (kind ``image_metrics``)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..analyses.classifier import load_classifier
from ..analyses.metrics import (
    batch_frechet_distance,
    chi2_radii,
    feature_frechet_distance,
    frechet_batch_size,
    latent_calibration,
    pixel_mse,
    resampled_frechet_distance,
)
from ..analyses.reference import kept_calibration, reference_flow
from ..datasets import read_dataset
from ..flow import flow_for
from ..io import read_h5, write_json
from ..provenance import step_provenance
from ..smoothing import AUTO, add_noise, noise_at_t_min, resolve_t_min
from .common import load_flow

FLOOR_DRAWS = 200  # resampled floors: the sd to about 5 %


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", required=True, help="flow HDF5 of an image model")
    parser.add_argument("--data", required=True, help="its dataset HDF5")
    parser.add_argument("--name", required=True)
    parser.add_argument("--classifier", help="classifier weights: adds the Frechet distance")
    parser.add_argument("--classifier-spec")
    parser.add_argument("--floor-seed", type=int, default=0,
                        help="draws of the resampled Frechet floor")
    parser.add_argument("--model", help="the model's weights: adds calibration checks with "
                        "fresh noise of t_min and of the data's neighbour scale, beside the "
                        "exact score of the training images")
    parser.add_argument("--model-spec")
    parser.add_argument("--pca", help="the dataset's PCA (the exact score's basis)")
    parser.add_argument("--solver", help="SolverConfig fields as JSON, for the checks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)


def frechet_report(args: argparse.Namespace, generated: np.ndarray,
                   data: dict[str, np.ndarray]) -> dict:
    """Frechet distance of generated images to the test split in the classifier's features.
    The distance grows as n falls, so it is taken at one n: the generated images are dealt
    into the fewest equal batches of at most the training split's size (mean and sd over
    them), and the floor is n training images against the same test split. One batch's
    distance is noisy (digits: sd about 2.7 at n = 1400, floor 9.25); ``floor_resampled``
    gives that spread for a sampler that returns training images (n drawn with
    replacement)."""
    model = load_classifier(args.classifier, args.classifier_spec)
    with torch.no_grad():
        def feats(x): return model.features(torch.as_tensor(x, dtype=torch.float32)).numpy()
        test, train = feats(data["test"]), feats(data["train"])
        n = frechet_batch_size(len(generated), len(train))
        batches = batch_frechet_distance(feats(generated), test, n)
        labels = model(torch.as_tensor(generated, dtype=torch.float32)).argmax(-1).numpy()
    return {"frechet_distance": batches["mean"], "frechet_sd": batches["sd"],
            "frechet_batches": batches["batches"],
            "floor_train_vs_test": feature_frechet_distance(train[:n], test),
            "floor_resampled": resampled_frechet_distance(train, test, n, FLOOR_DRAWS,
                                                          args.floor_seed),
            "n_generated": n, "n_test": len(test),
            "class_shares": (np.bincount(labels, minlength=10) / len(labels)).tolist()}


def calibration_checks(args: argparse.Namespace, data: dict[str, np.ndarray], n: int,
                       keep: int) -> dict:
    """``n`` held-out and ``n`` training images with fresh noise through the trained model's
    flow and through the exact empirical score of the training images (a perfect denoiser of
    them): generalisation, fit, and the method's own limit on this data. Two starting times:
    the flow's t_min (``<rows>_noised``), and the data's own scale (``<rows>_smoothed``), where
    the noise reaches the training images' median neighbour distance (the tables' ``t_min:
    auto``): a model of a few thousand images is a density of them at that scale, not below
    it. Generation still ends at t_min; only the check starts later."""
    model, meta, _ = load_flow(args)
    spec, solver = meta["spec"], json.loads(args.solver)
    sched = spec["schedule"]
    pca, _ = read_h5(args.pca, "pca", required=["mean", "eigenvalues", "eigenvectors"])
    train = torch.as_tensor(data["train"], dtype=torch.float64)
    test = torch.as_tensor(data["test"], dtype=torch.float64)
    scale = resolve_t_min({"schedule": {**sched, "t_min": AUTO}}, model.schedule,
                          data["train"], args.data)["schedule"]["t_min"]
    gen = torch.Generator().manual_seed(args.seed)
    radii = chi2_radii(keep)  # the balls of the held-out check above
    checks = {}
    for suffix, t_start in (("noised", sched["t_min"]), ("smoothed", scale)):
        if suffix == "smoothed" and t_start <= sched["t_min"]:
            continue  # the flow already starts at the data's scale
        start = {**sched, "t_min": t_start}
        trained = flow_for(model, {**spec, "schedule": start}, solver)
        exact = reference_flow(train, pca, start, solver)
        # a flow started at t_start models the images smoothed by its noise: both flows get
        # the same noised rows
        std = noise_at_t_min(trained)
        for name, rows in {"held_out": test[:n], "training": train[:n]}.items():
            x = add_noise(rows, std, model.basis.eigenvectors, gen)
            checks[f"{name}_{suffix}"] = {"n": int(x.shape[0]), "t_start": float(t_start),
                                          "trained": kept_calibration(trained, x, keep, radii),
                                          "exact": kept_calibration(exact, x, keep, radii)}
    return checks


def run(args: argparse.Namespace) -> None:
    if args.model and not (args.model_spec and args.pca and args.solver):
        raise ValueError("--model needs --model-spec, --pca and --solver")
    flow, attrs = read_h5(args.flow, "flow", required=[
        "inflation/x", "inflation/z", "roundtrip/x_back", "generation/x", "latent_variance"])
    x, z, var = flow["inflation/x"], torch.as_tensor(flow["inflation/z"]), \
        torch.as_tensor(flow["latent_variance"])
    keep = int(attrs["dims_to_keep"])
    result = {"kind": "image_metrics", "model": args.name, "schedule": attrs["schedule"],
              "dims_to_keep": keep, "dim": int(x.shape[1]), "nfe": attrs["nfe"],
              "n_roundtrip": int(x.shape[0]),
              "roundtrip_mse_8bit": pixel_mse(x, flow["roundtrip/x_back"]),
              "latent_calibration": latent_calibration(z[:, :keep], var[:keep],
                                                       chi2_radii(keep))}
    generated = flow["generation/x"].astype(np.float64)
    result["generated_range"] = [float(generated.min()), float(generated.max())]
    data = read_dataset(args.data)[0] if args.classifier or args.model else {}
    if args.classifier:
        result["frechet"] = frechet_report(args, generated, data)
    if args.model:
        # as many rows as the held-out check above
        result["calibration_checks"] = calibration_checks(args, data, x.shape[0], keep)
    result["provenance"] = step_provenance("image-metrics", args)
    write_json(args.output, result)
    mse = result["roundtrip_mse_8bit"]
    print(f"{args.name}: round-trip MSE {mse['float']:.3g} (8-bit units; uint8 convention "
          f"{mse['uint8']:.3g})")
    if args.classifier:
        fr = result["frechet"]
        spread = f" +- {fr['frechet_sd']:.3g} (sd)" if fr["frechet_sd"] is not None else ""
        print(f"Frechet {fr['frechet_distance']:.3g}{spread} over {len(fr['frechet_batches'])} "
              f"batches of {fr['n_generated']}; floor {fr['floor_train_vs_test']:.3g}, resampled "
              f"training images {fr['floor_resampled']['mean']:.3g} +- "
              f"{fr['floor_resampled']['sd']:.3g}")
    for name, check in result.get("calibration_checks", {}).items():
        print(f"{name} (n = {check['n']}, from t = {check['t_start']:.3g}): calibration max gap "
              f"{100 * check['trained']['max_abs_error']:.1f} pp, exact score "
              f"{100 * check['exact']['max_abs_error']:.1f} pp")
