"""Step ``classifier``: train the digits classifier whose features the digits Frechet
distance uses (kind ``classifier``); its held-out accuracy is recorded beside it."""

from __future__ import annotations

import argparse

import torch

from ..analyses.classifier import accuracy, train_classifier
from ..datasets import read_dataset
from ..io import atomic_path, read_h5, write_json
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset HDF5 with train/test labels")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", required=True, help="weights (.pt)")
    parser.add_argument("--output-spec", required=True, help="config and accuracy (JSON)")


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    data, _ = read_dataset(args.data)
    labels, _ = read_h5(args.data, "dataset", required=["train/label", "test/label"])
    x = {s: torch.as_tensor(data[s]) for s in ("train", "test")}
    y = {s: torch.as_tensor(labels[f"{s}/label"]).long() for s in ("train", "test")}
    model = train_classifier(x["train"], y["train"], steps=args.steps, seed=args.seed)
    acc = {s: accuracy(model, x[s], y[s]) for s in ("train", "test")}
    with atomic_path(args.output) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(args.output_spec, {"kind": "classifier", "config": model.config,
                                  "accuracy": acc, "provenance": step_provenance("classifier",
                                                                                 args)})
    print(f"classifier accuracy: train {acc['train']:.4f}, test {acc['test']:.4f}")
