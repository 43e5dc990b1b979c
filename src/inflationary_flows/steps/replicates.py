"""A model's metrics over its training seeds: the further seeds '<model>-r<k>' of each model
read and checked, and the mean and sd columns of the tables that aggregate them (summary.csv
for the toys, table1.csv for the images)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..io import read_json

# a column -> (its path of keys into a metrics JSON, the scale to the column's unit)
Fields = Mapping[str, tuple[tuple[str, ...], float]]


def seed_metrics(models: Sequence[str], paths: Sequence[str], kind: str) -> list[list[dict]]:
    """The metrics JSON of each model's further training seeds: ``paths`` hold the same number
    per model, in the models' order, each named '<model>-r<k>' (checked)."""
    if not models:
        return []
    per_model, extra = divmod(len(paths), len(models))
    if extra:
        raise ValueError(f"--replicates: {len(paths)} files do not split evenly over "
                         f"{len(models)} models")
    found = []
    for i, model in enumerate(models):
        chunk = paths[i * per_model:(i + 1) * per_model]
        runs = [read_json(path, kind) for path in chunk]
        for path, metrics in zip(chunk, runs, strict=True):
            if not metrics["model"].startswith(f"{model}-r"):
                raise ValueError(f"{path}: model {metrics['model']}, not a seed of {model}")
        found.append(runs)
    return found


def _value(metrics: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(metrics, Mapping) or key not in metrics:
            return None
        metrics = metrics[key]
    return float(metrics)


def seed_columns(runs: Sequence[Mapping[str, Any]], fields: Fields,
                 fmt: str = ".3f") -> dict[str, str]:
    """Mean and sample sd (ddof 1) of each field over ``runs`` (one metrics dict per training
    seed of a model); a field some run lacks (PRP: kept dims) stays empty."""
    columns = {"replicates": str(len(runs))}
    for column, (path, scale) in fields.items():
        values = [v * scale for v in (_value(run, path) for run in runs) if v is not None]
        ok = len(values) == len(runs) > 1
        columns[f"{column}_mean"] = format(np.mean(values), fmt) if ok else ""
        columns[f"{column}_sd"] = format(np.std(values, ddof=1), fmt) if ok else ""
    return columns
