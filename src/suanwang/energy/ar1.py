"""A first-order autoregressive normal process, the memory of the weather models."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter


def stationary_ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    """x_t = phi x_(t-1) + sqrt(1 - phi^2) eps_t, started in the stationary state (x_0 = eps_0):
    a standard normal at every t. Prefixes agree: the first n values do not depend on len(eps)."""
    e = np.array(eps, dtype=float)
    if len(e) == 0:
        return e
    scale = math.sqrt(1.0 - phi**2)
    e[0] = e[0] / scale
    return lfilter([scale], [1.0, -phi], e)
