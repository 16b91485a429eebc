"""Scaling a supply shape so that its capped mean hits a target share."""

from __future__ import annotations

import numpy as np


def scale_to_mean(shape: np.ndarray, target: float) -> float:
    """c such that mean(min(1, c * shape)) == target (bisection; monotone in c).

    0 for a target of 0 or less; infinity for a target of 1 or more (every hour fully green).
    """
    if target <= 0:
        return 0.0
    if target >= 1:
        return float("inf")
    lo, hi = 0.0, 1.0
    while np.minimum(1.0, hi * shape).mean() < target:
        hi *= 2.0
        if hi > 1e9:
            return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.minimum(1.0, mid * shape).mean() < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
