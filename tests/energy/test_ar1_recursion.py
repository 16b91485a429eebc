"""The AR(1) recursion of the weather models: bit for bit scipy's lfilter, which it replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from suanwang.energy.ar1 import stationary_ar1


def lfilter_ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    e = np.array(eps, dtype=float)
    scale = math.sqrt(1.0 - phi**2)
    e[0] = e[0] / scale
    return lfilter([scale], [1.0, -phi], e)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.7, 0.97, 0.999, -0.4])
@pytest.mark.parametrize("n", [1, 2, 7, 5000])
def test_same_bits_as_lfilter(phi: float, n: int) -> None:
    eps = np.random.default_rng(n).standard_normal(n) * 3.0
    got = stationary_ar1(eps, phi)
    assert got.dtype == np.float64 and got.shape == (n,)
    assert np.array_equal(got.view(np.int64), lfilter_ar1(eps, phi).view(np.int64))


def test_empty_and_prefixes() -> None:
    assert len(stationary_ar1(np.zeros(0), 0.5)) == 0
    eps = np.random.default_rng(3).standard_normal(100)
    assert np.array_equal(stationary_ar1(eps[:40], 0.7), stationary_ar1(eps, 0.7)[:40])
    assert stationary_ar1(eps, 0.0).tolist() == eps.tolist()  # no memory: the noise itself
