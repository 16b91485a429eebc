"""The forecast error's calibration: sigma per unit of capacity (NEA 2011) x each site's gain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from suanwang.energy.forecast import (
    WIND_FARM_DAY_TO_DAY_SD,
    Forecaster,
    forecast_gain,
    forecast_sigma,
)
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.energy.supply import physical_energy_series
from suanwang.model import Network
from suanwang.network.loader import load_network

START = datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=8)))


def test_gain_is_day_to_day_variability_over_a_wind_farms() -> None:
    hours = np.arange(24 * 21)  # 20 day-to-day steps, half up, half down
    flat = np.full(len(hours), 0.6)
    daily = 0.5 + 0.4 * np.sin(2 * np.pi * hours / 24)  # a cycle known in advance
    alternating = np.where((hours // 24) % 2 == 0, 0.2, 0.8)  # 0.6 apart day to day
    gain = forecast_gain(np.vstack([flat, daily, alternating]))
    assert gain[0] == 0.0 and gain[1] == pytest.approx(0.0, abs=1e-12)
    assert gain[2] == pytest.approx(0.6 / np.sqrt(2) / WIND_FARM_DAY_TO_DAY_SD)


def test_a_flat_site_is_forecast_exactly(tiny_net: Network,
                                         make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(tiny_net, 96)  # every site flat at the file's green share
    view = Forecaster(series, [s.grid_intensity_g_per_kwh for s in tiny_net.sites],
                      seed=1, error_scale=1.0).view(5 * HOUR_S)
    idx = np.minimum(np.arange(5, 5 + view.horizon_h), series.hours - 1)
    np.testing.assert_array_equal(np.asarray(view.green_share), series.green_share[:, idx])


def test_stated_error_is_sigma_cap_times_gain_at_the_grid_factor() -> None:
    net = load_network()
    series = physical_energy_series(net, START, 24 * 60, seed=0)
    grid = np.array([s.grid_intensity_g_per_kwh for s in net.sites])
    fc = Forecaster(series, grid.tolist(), seed=2, error_scale=1.5)
    view = fc.view(100 * HOUR_S)
    sd = np.asarray(view.intensity_sd_g_per_kwh)
    lead = np.arange(view.horizon_h)
    expected = forecast_sigma(lead, 1.5)[None, :] * fc.gain[:, None] * grid[:, None]
    np.testing.assert_allclose(sd, expected)
    i, j = series.site_index("horinger"), series.site_index("tianfu")
    assert fc.gain[i] > 0.5 > 0.15 > fc.gain[j]  # wind-heavy vs mostly flat hydro
