"""Accounting: job charges on hand-computable cases; busy unit-seconds against brute force."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from suanwang.core.accounting import busy_unit_seconds_by_hour, charge_jobs
from suanwang.energy.series import HOUR_S, EnergySeries

# ---- charge_jobs: hand cases ---------------------------------------------------------------

# Site "a" steps hour by hour; site "b" is all green at a flat price. Three hours; past the last
# hour its values hold.
SERIES = EnergySeries(
    site_ids=("a", "b"),
    start_utc=datetime(2024, 6, 1, tzinfo=UTC),
    green_share=np.array([[0.2, 0.8, 0.5], [1.0, 1.0, 1.0]]),
    intensity_g_per_kwh=np.array([[400.0, 100.0, 250.0], [0.0, 0.0, 0.0]]),
    price_yuan_per_kwh=np.array([[0.5, 1.0, 0.7], [0.3, 0.3, 0.3]]),
)
H = HOUR_S

# (name, site, power_kw, start_s, end_s, energy_kwh, green_kwh, carbon_kg, cost_yuan)
CHARGE_CASES: list[tuple[str, int, float, float, float, float, float, float, float]] = [
    # half in hour 0 (green 0.2), half in hour 1 (green 0.8): 2 kW x (0.5 x 0.2 + 0.5 x 0.8)
    ("spans the green step", 0, 2.0, 0.5 * H, 1.5 * H,
     2.0, 2 * (0.5 * 0.2 + 0.5 * 0.8), 2 * (0.5 * 400 + 0.5 * 100) / 1000,
     2 * (0.5 * 0.5 + 0.5 * 1.0)),
    ("exactly hour 0", 0, 1.0, 0.0, H, 1.0, 0.2, 0.4, 0.5),
    ("a quarter of hour 1", 0, 4.0, H, 1.25 * H, 1.0, 0.8, 0.1, 1.0),
    # 0.75 h of hour 0, all of hour 1, 0.75 h of hour 2
    ("three hours, ragged ends", 0, 2.0, 0.25 * H, 2.75 * H,
     5.0, 2 * (0.75 * 0.2 + 0.8 + 0.75 * 0.5), 2 * (0.75 * 400 + 100 + 0.75 * 250) / 1000,
     2 * (0.75 * 0.5 + 1.0 + 0.75 * 0.7)),
    # hour 3 is past the series: it takes hour 2's values
    ("runs past the series end", 0, 1.0, 0.0, 4 * H,
     4.0, 0.2 + 0.8 + 0.5 + 0.5, (400 + 100 + 250 + 250) / 1000, 0.5 + 1.0 + 0.7 + 0.7),
    ("all-green site", 1, 3.0, 100.0, 100.0 + 2 * H, 6.0, 6.0, 0.0, 6 * 0.3),
    ("zero length", 0, 5.0, 1000.0, 1000.0, 0.0, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(
    ("site", "power", "start", "end", "energy", "green", "carbon", "cost"),
    [c[1:] for c in CHARGE_CASES], ids=[c[0] for c in CHARGE_CASES])
def test_charge_jobs_hand_cases(site: int, power: float, start: float, end: float,
                                energy: float, green: float, carbon: float,
                                cost: float) -> None:
    ch = charge_jobs(SERIES, np.array([site]), np.array([power]), np.array([start]),
                     np.array([end]))
    assert ch.energy_kwh[0] == pytest.approx(energy, rel=1e-12, abs=1e-12)
    assert ch.green_kwh[0] == pytest.approx(green, rel=1e-12, abs=1e-12)
    assert ch.carbon_kg[0] == pytest.approx(carbon, rel=1e-12, abs=1e-12)
    assert ch.cost_yuan[0] == pytest.approx(cost, rel=1e-12, abs=1e-12)


def test_charge_jobs_vectorised_equals_one_by_one() -> None:
    cols = list(zip(*(c[1:5] for c in CHARGE_CASES), strict=True))
    site, power, start, end = (np.asarray(c) for c in cols)
    ch = charge_jobs(SERIES, site, power, start, end)
    np.testing.assert_allclose(ch.energy_kwh, [c[5] for c in CHARGE_CASES], atol=1e-12)
    np.testing.assert_allclose(ch.green_kwh, [c[6] for c in CHARGE_CASES], atol=1e-12)
    np.testing.assert_allclose(ch.carbon_kg, [c[7] for c in CHARGE_CASES], atol=1e-12)
    np.testing.assert_allclose(ch.cost_yuan, [c[8] for c in CHARGE_CASES], atol=1e-12)


def test_charge_jobs_green_never_exceeds_energy() -> None:
    rng = np.random.default_rng(7)
    n = 500
    start = rng.uniform(0, 5 * H, n)
    end = start + rng.uniform(0, 3 * H, n)
    ch = charge_jobs(SERIES, rng.integers(0, 2, n), rng.uniform(0.1, 50, n), start, end)
    assert np.all(ch.green_kwh <= ch.energy_kwh * (1 + 1e-12) + 1e-12)
    assert np.all(ch.green_kwh >= -1e-12)


# ---- busy_unit_seconds_by_hour: against brute force ----------------------------------------


def per_second_reference(units: np.ndarray, start: np.ndarray, end: np.ndarray,
                         n_hours: int) -> np.ndarray:
    """Add each job's units to every second it covers; sum the seconds of each hour.
    Integer times only."""
    horizon = int(n_hours * H)
    busy = np.zeros(int(max(horizon, end.max(initial=0))) + 1)
    for u, s, e in zip(units, start.astype(int), end.astype(int), strict=True):
        busy[s:e] += u
    return busy[:horizon].reshape(n_hours, int(H)).sum(axis=1)


def per_job_reference(units: np.ndarray, start: np.ndarray, end: np.ndarray,
                      n_hours: int) -> np.ndarray:
    """Each job's overlap with each hour, summed: any float times."""
    out = np.zeros(n_hours)
    for u, s, e in zip(units, start, end, strict=True):
        for h in range(n_hours):
            overlap = min(e, (h + 1) * H) - max(s, h * H)
            if overlap > 0:
                out[h] += u * overlap
    return out


Gen = Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]


def _inside_one_hour(rng: np.random.Generator, n: int, n_hours: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    hour = rng.integers(0, n_hours, n)
    a = rng.integers(0, int(H), n)
    b = rng.integers(0, int(H), n)
    return hour * H + np.minimum(a, b), hour * H + np.maximum(a, b) + 1


def _spanning_many(rng: np.random.Generator, n: int, n_hours: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    start = rng.integers(0, int(n_hours * H), n).astype(float)
    return start, start + rng.integers(int(H), int(6 * H), n)


def _mixed_and_past_the_end(rng: np.random.Generator, n: int, n_hours: int) -> tuple[
        np.ndarray, np.ndarray]:
    start = rng.integers(0, int((n_hours + 1) * H), n).astype(float)
    dur = np.where(rng.uniform(size=n) < 0.5, rng.integers(0, 600, n),
                   rng.integers(0, int(10 * H), n))
    return start, start + dur


def _on_hour_boundaries(rng: np.random.Generator, n: int, n_hours: int) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    start = rng.integers(0, n_hours, n) * H
    return start, start + rng.integers(0, 4, n) * H


GENERATORS: dict[str, Gen] = {
    "inside-one-hour": _inside_one_hour,
    "spanning-many-hours": _spanning_many,
    "mixed-and-past-the-end": _mixed_and_past_the_end,
    "on-hour-boundaries": _on_hour_boundaries,
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("gen", list(GENERATORS), ids=list(GENERATORS))
def test_busy_unit_seconds_matches_per_second_reference(gen: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_hours = int(rng.integers(1, 8))
    n = int(rng.integers(1, 40))
    start, end = GENERATORS[gen](rng, n, n_hours)
    units = rng.integers(1, 9, n).astype(float)
    got = busy_unit_seconds_by_hour(units, start, end, n_hours)
    assert got.shape == (n_hours,)
    np.testing.assert_allclose(got, per_second_reference(units, start, end, n_hours),
                               rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_busy_unit_seconds_matches_per_job_reference_float_times(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_hours = int(rng.integers(1, 10))
    n = int(rng.integers(1, 60))
    start = rng.uniform(0, n_hours * H, n)
    end = start + rng.exponential(2 * H, n)
    units = rng.integers(1, 17, n).astype(float)
    np.testing.assert_allclose(busy_unit_seconds_by_hour(units, start, end, n_hours),
                               per_job_reference(units, start, end, n_hours),
                               rtol=1e-9, atol=1e-6)


def test_busy_unit_seconds_hand_case() -> None:
    # 2 units from 0:30 to 2:15, 1 unit in the first quarter of hour 0
    got = busy_unit_seconds_by_hour(np.array([2.0, 1.0]), np.array([0.5 * H, 0.0]),
                                    np.array([2.25 * H, 0.25 * H]), 3)
    np.testing.assert_allclose(got, [2 * 0.5 * H + 0.25 * H, 2 * H, 2 * 0.25 * H])


def test_busy_unit_seconds_no_jobs() -> None:
    got = busy_unit_seconds_by_hour(np.array([]), np.array([]), np.array([]), 4)
    np.testing.assert_array_equal(got, np.zeros(4))
