"""Forecasts of the energy series, as policies see them.

Policies decide on forecasts; the simulator charges the actuals. A forecast issued at hour `i`
for hour `h >= i` misses the actual green share of site `s` by `sigma_s(h - i) * z[s, h]`, where
`z` is one seeded standard-normal draw per site and hour (so the error of a given target hour
shrinks as it nears), clipped to 0..1.

Calibration. The reference is China's rule for wind-power forecasts, the NEA's interim measures
on wind-farm power forecasting (风电场功率预测预报管理暂行办法, 国能新能〔2011〕177号): the
real-time forecast (up to 4 h ahead) may miss by at most 15% of installed capacity, and the
day-ahead forecast's root-mean-square error must stay under 20% of capacity. The error of a
renewable plant's output per unit of capacity, as a function of lead time, is taken to meet that
rule exactly:

    sigma_cap(lead_h) = error_scale * S * sqrt(lead_h / (lead_h + K))

with K = 4.42 h and S = 0.2176, so that sigma_cap(4 h) = 0.15 and sigma_cap(24 h) = 0.20 (0 for
the hour in progress, 0.09 an hour ahead, 0.21 four days ahead). A site's green share moves
less or more than one wind farm's output per unit of capacity (firm contracts, a solar cycle
that is known in advance, hours capped at 100%), so the forecaster scales sigma_cap by each
site's `gain`: the day-to-day variability of its green share, D(g) = sd(g_t - g_(t-24)) / sqrt 2
over the series, divided by that of a single wind farm's output per unit of capacity
(`WIND_FARM_DAY_TO_DAY_SD` = 0.23, the physical model's figure at every bundled site). Hence
sigma_s(lead) = sigma_cap(lead) * gain_s: about 0.13 a day ahead at Horinger, 0.02 at Tianfu,
whose supply is mostly flat hydro. It uses only the green share, so it works alike on modelled
and measured series.

The forecast intensity moves with the forecast green share at the site's grid factor; prices
are tariffs, known in advance, and are forecast exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suanwang.energy.series import HOUR_S, EnergySeries

DEFAULT_HORIZON_H = 96


SIGMA_CAP_LIMIT = 0.2176  # S: error per unit of capacity far ahead
SIGMA_CAP_HALF_H = 4.42  # K: lead at which the error reaches S / sqrt 2
WIND_FARM_DAY_TO_DAY_SD = 0.23  # D of one wind farm's output per unit of capacity


def forecast_sigma(lead_h: np.ndarray | float, error_scale: float) -> np.ndarray:
    """Forecast error (1 sd) of a renewable plant's output per unit of capacity at `lead_h`
    hours ahead: 0.15 at 4 h and 0.20 at 24 h for error_scale 1 (NEA 2011, see above)."""
    lead = np.maximum(np.asarray(lead_h, dtype=float), 0.0)
    return error_scale * SIGMA_CAP_LIMIT * np.sqrt(lead / (lead + SIGMA_CAP_HALF_H))


def forecast_gain(green_share: np.ndarray) -> np.ndarray:
    """Per site: day-to-day variability of the green share over that of one wind farm's
    output per unit of capacity (see the module docstring). Series shorter than two days use
    the plain standard deviation."""
    g = np.asarray(green_share, dtype=float)
    if g.shape[1] <= 24:
        return g.std(axis=1) / WIND_FARM_DAY_TO_DAY_SD
    return (g[:, 24:] - g[:, :-24]).std(axis=1) / np.sqrt(2.0) / WIND_FARM_DAY_TO_DAY_SD


@dataclass(frozen=True)
class ForecastView:
    """The forecast issued at `issued_hour`, for hours issued_hour .. issued_hour + horizon - 1.

    Plain Python lists, because policies read a handful of values per decision and list indexing
    is faster than numpy scalar access. `cum_*[s][k]` is the sum of the first k forecast hours.
    """

    issued_hour: int
    horizon_h: int
    green_share: list[list[float]]
    intensity_g_per_kwh: list[list[float]]
    price_yuan_per_kwh: list[list[float]]
    cum_intensity: list[list[float]]
    cum_price: list[list[float]]
    intensity_sd_g_per_kwh: list[list[float]]  # expected error (1 sd) of each forecast hour

    def _window(self, t0_s: float, t1_s: float) -> tuple[int, int]:
        k0 = int(t0_s // HOUR_S) - self.issued_hour
        k1 = math.ceil(t1_s / HOUR_S) - self.issued_hour
        k0 = min(max(k0, 0), self.horizon_h - 1)
        k1 = min(max(k1, k0 + 1), self.horizon_h)
        return k0, k1

    def mean_intensity(self, site: int, t0_s: float, t1_s: float) -> float:
        """Mean forecast intensity over the hours that [t0, t1) touches (within the horizon)."""
        k0, k1 = self._window(t0_s, t1_s)
        c = self.cum_intensity[site]
        return (c[k1] - c[k0]) / (k1 - k0)

    def mean_price(self, site: int, t0_s: float, t1_s: float) -> float:
        k0, k1 = self._window(t0_s, t1_s)
        c = self.cum_price[site]
        return (c[k1] - c[k0]) / (k1 - k0)


class Forecaster:
    """Issues `ForecastView`s of an `EnergySeries`, with error that grows with lead time."""

    def __init__(self, series: EnergySeries, grid_intensity_g_per_kwh: list[float],
                 seed: int = 0, error_scale: float = 1.0,
                 horizon_h: int = DEFAULT_HORIZON_H) -> None:
        if error_scale < 0:
            raise ValueError(f"error_scale must be >= 0, got {error_scale}")
        self.series = series
        self.error_scale = error_scale
        self.horizon_h = horizon_h
        self._grid = np.asarray(grid_intensity_g_per_kwh, dtype=float)[:, None]
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF0CA57]))
        self._z = rng.standard_normal(series.green_share.shape)
        self.gain = forecast_gain(series.green_share)  # (sites,)
        self._cache: dict[int, ForecastView] = {}

    def view(self, now_s: float) -> ForecastView:
        hour = max(0, int(now_s // HOUR_S))
        v = self._cache.get(hour)
        if v is None:
            if len(self._cache) > 4:
                self._cache.clear()
            v = self._issue(hour)
            self._cache[hour] = v
        return v

    def _issue(self, hour: int) -> ForecastView:
        s = self.series
        last = s.hours - 1
        idx = np.minimum(np.arange(hour, hour + self.horizon_h), last)
        actual_g = s.green_share[:, idx]
        lead = np.arange(self.horizon_h, dtype=float)
        sigma = forecast_sigma(lead, self.error_scale)[None, :] * self.gain[:, None]
        green = np.clip(actual_g + sigma * self._z[:, idx], 0.0, 1.0)
        intensity = np.maximum(
            s.intensity_g_per_kwh[:, idx] + (actual_g - green) * self._grid, 0.0)
        price = s.price_yuan_per_kwh[:, idx]
        zeros = np.zeros((len(s.site_ids), 1))
        cum_i = np.concatenate([zeros, np.cumsum(intensity, axis=1)], axis=1)
        cum_p = np.concatenate([zeros, np.cumsum(price, axis=1)], axis=1)
        return ForecastView(
            issued_hour=hour,
            horizon_h=self.horizon_h,
            green_share=green.tolist(),
            intensity_g_per_kwh=intensity.tolist(),
            price_yuan_per_kwh=price.tolist(),
            cum_intensity=cum_i.tolist(),
            cum_price=cum_p.tolist(),
            intensity_sd_g_per_kwh=(sigma * self._grid).tolist(),
        )
