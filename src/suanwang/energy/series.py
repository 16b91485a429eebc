"""Hourly energy series per site: green share, carbon intensity and price.

`EnergySeries` is what every energy model produces and what accounting and forecasts consume.
Hour `h` covers run seconds [3600 h, 3600 (h+1)). Past the last hour the last value holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

HOUR_S = 3600.0


@dataclass(frozen=True)
class SupplyMix:
    """The contracted supply behind a modelled series (informative: plots and the dashboard).

    Nothing in accounting, forecasts or policies reads it; measured series may override the
    green share it implies. Green share = min(1, (wind + solar + firm) / load) per hour; the
    grid supplies load x (1 - green share); output above the load is sold back to the grid.
    """

    load_kw: np.ndarray  # (sites,): the load the green share is computed against
    wind_kw: np.ndarray  # (sites, hours): contracted wind output
    solar_kw: np.ndarray  # (sites, hours): contracted PV output (AC)
    firm_kw: np.ndarray  # (sites, hours): contracted flat green supply (hydro and the like)


@dataclass(frozen=True)
class EnergySeries:
    site_ids: tuple[str, ...]
    start_utc: datetime  # the instant of run second 0 (aware)
    green_share: np.ndarray  # (sites, hours), 0..1: renewable fraction of the site's power
    intensity_g_per_kwh: np.ndarray  # (sites, hours): CO2 per kWh of the site's facility power
    price_yuan_per_kwh: np.ndarray  # (sites, hours)
    supply: SupplyMix | None = field(default=None, compare=False)  # physical model only
    _cum: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start_utc.tzinfo is None:
            raise ValueError("start_utc must be an aware datetime")
        shape = (len(self.site_ids), self.hours)
        for name in ("green_share", "intensity_g_per_kwh", "price_yuan_per_kwh"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def hours(self) -> int:
        return int(self.green_share.shape[1])

    def site_index(self, site_id: str) -> int:
        return self.site_ids.index(site_id)

    def hour_start_utc(self, hour: int) -> datetime:
        return self.start_utc + timedelta(hours=hour)

    def _cumulative(self, name: str) -> np.ndarray:
        """Integral of a series over time, at hour boundaries, in value x seconds."""
        c = self._cum.get(name)
        if c is None:
            values = getattr(self, name)
            c = np.zeros((values.shape[0], values.shape[1] + 1))
            np.cumsum(values * HOUR_S, axis=1, out=c[:, 1:])
            self._cum[name] = c
        return c

    def integral(self, name: str, site_idx: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Integral of series `name` from run second 0 to `t_s`, for each (site, t) pair.

        Vectorised: `site_idx` and `t_s` are arrays of the same shape. Hours past the end of
        the series take the value of its last hour.
        """
        values = getattr(self, name)
        c = self._cumulative(name)
        last = self.hours - 1
        t = np.maximum(np.asarray(t_s, dtype=float), 0.0)
        h = np.minimum((t // HOUR_S).astype(np.int64), last)
        return c[site_idx, h] + values[site_idx, h] * (t - h * HOUR_S)

    def mean_over(self, name: str, site_idx: np.ndarray, t0_s: np.ndarray,
                  t1_s: np.ndarray) -> np.ndarray:
        """Time-weighted mean of series `name` over [t0, t1) (the value at t0 where t1 == t0)."""
        t0 = np.asarray(t0_s, dtype=float)
        t1 = np.asarray(t1_s, dtype=float)
        span = t1 - t0
        area = self.integral(name, site_idx, t1) - self.integral(name, site_idx, t0)
        values = getattr(self, name)
        h0 = np.minimum((np.maximum(t0, 0) // HOUR_S).astype(np.int64), self.hours - 1)
        point = values[site_idx, h0]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(span > 0, area / np.where(span > 0, span, 1.0), point)
