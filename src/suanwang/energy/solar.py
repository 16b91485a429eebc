"""Hourly output of contracted PV at a site: pvlib clear sky, reduced by seeded cloudiness.

1. Clear sky: pvlib's solar position (its ephemeris method) and Ineichen clear-sky model at
   the site's latitude, longitude and altitude (pvlib's bundled altitude map), with pvlib's
   bundled monthly Linke turbidity; evaluated at the middle of each hour. Cached per site and
   period: it is the expensive, weather-free part.
2. Cloudiness: a daily clear-sky index kc, Beta-distributed with the month's mean from the
   climate file (percent possible sunshine -> kc by Angstrom-Prescott, FAO-56 defaults) and a
   concentration of `KC_CONCENTRATION`; consecutive days are correlated through a latent AR(1)
   normal (`KC_DAY_PHI`), mapped to the Beta by its quantile function, so the marginal is
   exactly the Beta. A small hourly factor (log-normal AR(1), `KC_HOUR_SIGMA`) moves clouds
   within the day. GHI = kc x clear-sky GHI.
3. Plane of array: Erbs decomposition of GHI into DNI and DHI, isotropic transposition onto
   fixed racks facing south, tilted at latitude minus 5 degrees (`TILT_BELOW_LATITUDE_DEG`).
4. Power: PVWatts DC model (-0.35 %/C) at the SAPM open-rack cell temperature (air temperature
   from the climate file's January and July means plus a daily swing), then 14 % system losses
   (PVWatts' default) and an inverter limit of the DC nameplate.

The result is kW AC per kW of contracted DC capacity, 0 at night.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from scipy.special import betaincinv, ndtr

from suanwang.energy.ar1 import stationary_ar1
from suanwang.energy.climate import Climate

KC_CONCENTRATION = 4.0  # Beta(a, b) with a + b = 4: many clear days, a tail of overcast ones
KC_DAY_PHI = 0.5  # day-to-day correlation of the latent cloudiness (weather lasts a few days)
KC_HOUR_PHI = 0.7
KC_HOUR_SIGMA = 0.10
KC_MAX = 1.1  # brief cloud enhancement may push an hour above clear sky
TILT_BELOW_LATITUDE_DEG = 5.0
GAMMA_PDC_PER_C = -0.0035
SYSTEM_LOSSES = 0.14
DAILY_SWING_C = 10.0  # peak-to-trough daily air-temperature swing, maximum at 15:00 local
BEIJING_OFFSET_H = 8.0


@lru_cache(maxsize=64)
def clear_sky(lat: float, lon: float, start_utc: datetime, hours: int
              ) -> tuple[np.ndarray, ...]:
    """(ghi, zenith, azimuth, dni_extra, altitude_m) at mid-hour, from pvlib. Cached."""
    import pandas as pd
    import pvlib

    altitude = float(pvlib.location.lookup_altitude(lat, lon))
    loc = pvlib.location.Location(lat, lon, altitude=altitude, tz="UTC")
    t0 = pd.Timestamp(start_utc.astimezone(UTC)) + pd.Timedelta(minutes=30)
    times = pd.date_range(t0, periods=hours, freq="1h")
    with warnings.catch_warnings():  # pvlib still calls pandas APIs that pandas deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        sp = loc.get_solarposition(times, method="ephemeris")
        cs = loc.get_clearsky(times, model="ineichen", solar_position=sp)
        dni_extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
    out = (cs["ghi"].to_numpy(), sp["apparent_zenith"].to_numpy(), sp["azimuth"].to_numpy(),
           dni_extra, np.full(1, altitude))
    for a in out:
        a.setflags(write=False)
    return out


def site_altitude_m(lat: float, lon: float) -> float:
    """The site's altitude from pvlib's bundled map (SRTM-based), metres."""
    import pvlib

    return float(pvlib.location.lookup_altitude(lat, lon))


def _beijing_days(start_utc: datetime, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """For each hour: index of its Beijing calendar day (from 0), and that day's month (1..12)."""
    t = np.datetime64(start_utc.astimezone(UTC).replace(tzinfo=None), "h")
    local = t + np.arange(hours) * np.timedelta64(1, "h") + np.timedelta64(8, "h")
    day = local.astype("datetime64[D]")
    day_idx = (day - day[0]).astype(np.int64)
    months = (day.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return day_idx, months


def clear_sky_index(climate: Climate, start_utc: datetime, hours: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Hourly clear-sky index: a seeded daily Beta process with the month's climate mean,
    times a small hourly factor. Deterministic for the generator's state."""
    day_idx, months = _beijing_days(start_utc, hours)
    n_days = int(day_idx[-1]) + 1
    day_rng, hour_rng = rng.spawn(2)  # separate streams: a longer period extends a shorter
    latent = stationary_ar1(day_rng.standard_normal(n_days), KC_DAY_PHI)
    first_hour_of_day = np.searchsorted(day_idx, np.arange(n_days))
    day_month = months[first_hour_of_day]
    mean = np.asarray(climate.clear_sky_index())[day_month - 1].clip(0.05, 0.98)
    a = mean * KC_CONCENTRATION
    b = (1.0 - mean) * KC_CONCENTRATION
    kc_day = betaincinv(a, b, ndtr(latent).clip(1e-9, 1 - 1e-9))
    hourly = stationary_ar1(hour_rng.standard_normal(hours), KC_HOUR_PHI)
    factor = np.exp(KC_HOUR_SIGMA * hourly - 0.5 * KC_HOUR_SIGMA**2)
    return np.minimum(kc_day[day_idx] * factor, KC_MAX)


def air_temperature_c(climate: Climate, lon: float, start_utc: datetime,
                      hours: int) -> np.ndarray:
    """Air temperature at mid-hour: annual cosine through the January and July means (coldest
    about 15 January) plus a daily swing peaking at 15:00 local solar time."""
    t_h = _hours_since_new_year(start_utc, hours) + 0.5
    doy = t_h / 24.0
    mean = 0.5 * (climate.temperature_jan_c + climate.temperature_jul_c)
    half = 0.5 * (climate.temperature_jul_c - climate.temperature_jan_c)
    seasonal = mean - half * np.cos(2 * np.pi * (doy - 15.0) / 365.25)
    solar_h = (t_h + lon / 15.0) % 24.0
    return seasonal + 0.5 * DAILY_SWING_C * np.cos(2 * np.pi * (solar_h - 15.0) / 24.0)


def _hours_since_new_year(start_utc: datetime, hours: int) -> np.ndarray:
    s = start_utc.astimezone(UTC)
    epoch = datetime(s.year, 1, 1, tzinfo=UTC)
    return (s - epoch).total_seconds() / 3600.0 + np.arange(hours, dtype=float)


def solar_output_per_kw(lat: float, lon: float, climate: Climate, start_utc: datetime,
                        kc: np.ndarray) -> np.ndarray:
    """kW AC per kW DC of a fixed south-facing PV plant at (lat, lon), for the hours from
    `start_utc` under the clear-sky index `kc` (one value per hour)."""
    import pvlib

    hours = len(kc)
    ghi_clear, zenith, azimuth, dni_extra, _ = clear_sky(lat, lon, start_utc, hours)
    ghi = ghi_clear * kc
    doy = (_hours_since_new_year(start_utc, hours) // 24.0 % 365.0) + 1.0
    parts = pvlib.irradiance.erbs(ghi, zenith, doy)
    tilt = max(0.0, abs(lat) - TILT_BELOW_LATITUDE_DEG)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, 180.0 if lat >= 0 else 0.0, zenith, azimuth, parts["dni"], ghi, parts["dhi"],
        dni_extra=dni_extra, model="isotropic")["poa_global"]
    poa = np.nan_to_num(np.asarray(poa, dtype=float), nan=0.0).clip(min=0.0)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    cell = pvlib.temperature.sapm_cell(poa, air_temperature_c(climate, lon, start_utc, hours),
                                       1.0, **params)
    dc = pvlib.pvsystem.pvwatts_dc(poa, cell, 1.0, GAMMA_PDC_PER_C)
    out = np.asarray(dc, dtype=float) * (1.0 - SYSTEM_LOSSES)
    out[zenith >= 90.0] = 0.0
    return out.clip(0.0, 1.0)
