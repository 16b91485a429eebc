"""A simple, seeded energy model: each site's green share, carbon intensity and price by hour.

The shape of a site's green supply is a mix of three parts, weighted by the network file's
`wind_fraction`, `solar_fraction` and the rest (hydro and other firm supply):

- wind: a log-normal AR(1) process (hour-to-hour correlation 0.97, about 1.4 days of memory:
  the synoptic weather scale), stronger at night (peak 02:00 local) and, north of 35°N, in
  spring (peak mid-April) — as in Inner Mongolia;
- solar: clear-sky shape from the sun's elevation at the site's latitude and longitude, times
  a daily cloudiness factor (Beta(4, 1.5), mean 0.73);
- hydro/firm: flat.

The green share of hour h is min(1, c * shape(h)), with c calibrated per site and seed so that
its mean over a reference year from the run's start equals the network file's annual
`green_share`. Intensity is the non-green part at the provincial grid factor:
(1 - green) * grid_intensity. Price follows a time-of-use tariff (valley 23-07 x0.45, peak
08-11 and 18-22 x1.6, flat x1.0 — the shape of NDRC's 2021 notice on ToU tariffs, 发改价格〔2021〕
1093号, which asks for a peak-valley ratio of at least 3:1) scaled so that its daily mean equals
the file's price.

The physical model (`suanwang.energy.supply`: pvlib, windpowerlib, contracted capacities)
replaces this by default; this one stays available as `--energy simple`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from suanwang.energy.calibrate import scale_to_mean as _calibrate
from suanwang.energy.series import EnergySeries
from suanwang.model import Network, Site

REFERENCE_HOURS = 24 * 365
WIND_AR_PHI = 0.97
WIND_LOG_SIGMA = 0.6
VALLEY, FLAT, PEAK = 0.45, 1.0, 1.6
CHINA_UTC_OFFSET_H = 8.0


def tou_multiplier(local_hour: np.ndarray) -> np.ndarray:
    """Time-of-use price multiplier by local hour, mean 1 over a day."""
    h = np.asarray(local_hour) % 24
    m = np.full(h.shape, FLAT)
    m[(h >= 23) | (h < 7)] = VALLEY
    m[((h >= 8) & (h < 11)) | ((h >= 18) & (h < 22))] = PEAK
    day = np.full(24, FLAT)
    hrs = np.arange(24)
    day[(hrs >= 23) | (hrs < 7)] = VALLEY
    day[((hrs >= 8) & (hrs < 11)) | ((hrs >= 18) & (hrs < 22))] = PEAK
    return m / day.mean()


def _solar_shape(site: Site, utc_hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sun elevation (sin, floored at 0) at mid-hour, times a daily cloudiness factor."""
    t = utc_hours + 0.5
    doy = (t / 24.0) % 365.25
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    solar_time_h = (t + site.lon / 15.0) % 24.0
    hour_angle = np.radians(15.0 * (solar_time_h - 12.0))
    lat = np.radians(site.lat)
    sin_elev = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    n_days = int(np.ceil(len(t) / 24)) + 2
    clouds = rng.beta(4.0, 1.5, size=n_days)
    day_idx = ((t + site.lon / 15.0) // 24).astype(np.int64)
    day_idx -= day_idx.min()
    return np.maximum(sin_elev, 0.0) * clouds[day_idx]


def _wind_shape(site: Site, utc_hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(utc_hours)
    eps = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = eps[0]
    scale = np.sqrt(1 - WIND_AR_PHI**2)
    for i in range(1, n):  # 8,760 steps a year: fast enough without scipy
        x[i] = WIND_AR_PHI * x[i - 1] + scale * eps[i]
    local_h = (utc_hours + site.lon / 15.0) % 24.0
    north = site.lat >= 35.0
    diurnal = 1.0 + (0.25 if north else 0.08) * np.cos(2 * np.pi * (local_h - 2.0) / 24.0)
    doy = (utc_hours / 24.0) % 365.25
    seasonal = 1.0 + (0.2 if north else 0.05) * np.cos(2 * np.pi * (doy - 105.0) / 365.25)
    return np.exp(WIND_LOG_SIGMA * x) * diurnal * seasonal


def simple_energy_series(network: Network, start_utc: datetime, hours: int,
                         seed: int = 0) -> EnergySeries:
    """Hourly series for every site of `network` for `hours` hours from `start_utc`.

    Deterministic for (network, start_utc, seed); a longer run extends a shorter one (the
    first hours are the same) up to the reference year.
    """
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be an aware datetime")
    if hours < 1:
        raise ValueError(f"hours must be >= 1, got {hours}")
    n = max(hours, REFERENCE_HOURS)
    epoch = datetime(start_utc.astimezone(UTC).year, 1, 1, tzinfo=UTC)
    offset_h = (start_utc - epoch).total_seconds() / 3600.0
    utc_hours = offset_h + np.arange(n, dtype=float)  # hours since 1 Jan 00:00 UTC
    clock_h = (utc_hours[:hours] + CHINA_UTC_OFFSET_H) % 24.0  # tariffs follow Beijing time
    seeds = np.random.SeedSequence(seed).spawn(len(network.sites))
    green = np.empty((len(network.sites), hours))
    intensity = np.empty_like(green)
    price = np.empty_like(green)
    for i, site in enumerate(network.sites):
        wind_rng, solar_rng = (np.random.default_rng(s) for s in seeds[i].spawn(2))
        wind = _wind_shape(site, utc_hours, wind_rng)
        solar = _solar_shape(site, utc_hours, solar_rng)
        firm = 1.0 - site.wind_fraction - site.solar_fraction
        ref = slice(0, REFERENCE_HOURS)
        shape = (site.wind_fraction * wind / wind[ref].mean()
                 + site.solar_fraction * solar / max(solar[ref].mean(), 1e-9)
                 + firm)
        c = _calibrate(shape[ref], site.green_share)
        g = np.minimum(1.0, c * shape[:hours]) if np.isfinite(c) else np.ones(hours)
        green[i] = g
        intensity[i] = (1.0 - g) * site.grid_intensity_g_per_kwh
        price[i] = site.price_yuan_per_kwh * tou_multiplier(np.floor(clock_h))
    return EnergySeries(
        site_ids=tuple(s.id for s in network.sites),
        start_utc=start_utc,
        green_share=green,
        intensity_g_per_kwh=intensity,
        price_yuan_per_kwh=price,
    )
