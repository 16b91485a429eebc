"""A first-order autoregressive normal process, the memory of the weather models."""

from __future__ import annotations

import math

import numpy as np


def stationary_ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    """x_t = phi x_(t-1) + sqrt(1 - phi^2) eps_t, started in the stationary state (x_0 = eps_0):
    a standard normal at every t. Prefixes agree: the first n values do not depend on len(eps).

    The recursion runs in Python floats (hourly series of a site: a few thousand steps), in the
    order `scipy.signal.lfilter([scale], [1, -phi], e)` computes it (scale * e_t + phi * x_(t-1),
    each product rounded once), so the values are bit for bit those of lfilter, without the
    0.4 s import of scipy.signal."""
    e = np.array(eps, dtype=float)
    if len(e) == 0:
        return e
    scale = math.sqrt(1.0 - phi**2)
    out = [0.0] * len(e)
    x = 0.0
    for t, v in enumerate(e.tolist()):
        if t == 0:
            v = v / scale
        x = scale * v + phi * x
        out[t] = x
    return np.array(out, dtype=float)
