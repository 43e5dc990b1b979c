"""Plain-data helpers on specs, shared by config validation and the science.

Kept apart from :mod:`.config` so that editing the validation of the workflow's config does
not change the source of the steps that train and integrate (which would rerun them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def require_positive(where: str, **values: float) -> None:
    """One-line error for a NaN, infinite or non-positive setting of the library's API (NaN
    passes every comparison, so a NaN tolerance or rate would hang or train to nothing)."""
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{where}.{name}: {value} is not a finite positive number")


def resolve_dims_to_keep(spec: Mapping[str, Any], dim: int) -> int | None:
    """``dims_to_keep`` of a PRR schedule spec; negative values count from D (-1: D - 1)."""
    if spec["kind"] != "prr":
        return None
    keep = int(spec["dims_to_keep"])
    return dim + keep if keep < 0 else keep
