"""Hourly output of contracted wind farms at a site: a seeded wind-speed process through a
windpowerlib power curve.

Wind speed at hub height, hour by hour:

    x_t   latent standard normal, AR(1) with phi = exp(-1 / synoptic_memory_h)
          (weather systems: 1-2 days of memory)
    u_t   = Phi(x_t)                                   uniform
    v_t   = scale_t * (-ln(1 - u_t)) ** (1 / k)        Weibull(k, scale_t) given the hour
    scale_t = scale0 * (1 + a_d cos(2 pi (solar hour - peak_h) / 24))
                     * (1 + a_s cos(2 pi (doy - peak_doy) / 365.25))

with scale0 = mean / Gamma(1 + 1/k), so the annual mean is the climate file's `mean_ms`; the
province's daily and seasonal cycles come from the same file (Inner Mongolia: strongest at
night and in spring). A wind farm's array losses are windpowerlib's `dena_mean` wind-farm
efficiency curve (reduce_wind_speed), and the turbine's power curve is corrected to the site's
air density (windpowerlib's density correction; the density from the barometric altitude and the
annual mean temperature at hub height). The result is kW per kW of contracted capacity.
"""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

from suanwang.energy.ar1 import stationary_ar1
from suanwang.energy.climate import Climate, WindClimate

STANDARD_PRESSURE_PA = 101325.0
GAS_CONSTANT_DRY_AIR = 287.058  # J/(kg K)
SPEED_GRID_MS = np.linspace(0.0, 40.0, 801)


def wind_speed_ms(wind: WindClimate, lon: float, start_utc: datetime, hours: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Hub-height wind speed at each hour (mid-hour), m/s."""
    phi = math.exp(-1.0 / wind.synoptic_memory_h)
    x = stationary_ar1(rng.standard_normal(hours), phi)
    u = ndtr(x).clip(1e-12, 1 - 1e-12)
    s = start_utc.astimezone(UTC)
    epoch = datetime(s.year, 1, 1, tzinfo=UTC)
    t_h = (s - epoch).total_seconds() / 3600.0 + np.arange(hours) + 0.5
    solar_h = (t_h + lon / 15.0) % 24.0
    doy = t_h / 24.0
    diurnal = 1.0 + wind.diurnal_amplitude * np.cos(
        2 * np.pi * (solar_h - wind.diurnal_peak_h) / 24.0)
    seasonal = 1.0 + wind.seasonal_amplitude * np.cos(
        2 * np.pi * (doy - wind.seasonal_peak_doy) / 365.25)
    scale0 = wind.mean_ms / math.gamma(1.0 + 1.0 / wind.weibull_k)
    return scale0 * diurnal * seasonal * (-np.log1p(-u)) ** (1.0 / wind.weibull_k)


def air_density_kg_m3(altitude_m: float, hub_height_m: float, temperature_c: float) -> float:
    """Air density at hub height: barometric pressure at the site's altitude (pvlib's alt2pres,
    the standard atmosphere), then windpowerlib's ideal-gas density at the hub."""
    import pvlib
    from windpowerlib import density

    pressure = float(pvlib.atmosphere.alt2pres(altitude_m))
    return float(density.ideal_gas(pressure, 2.0, hub_height_m, temperature_c + 273.15))


@lru_cache(maxsize=16)
def turbine_power_curve(turbine_type: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(wind speeds m/s, power W, nominal power W) of a turbine in windpowerlib's library."""
    from windpowerlib import WindTurbine

    with warnings.catch_warnings():  # windpowerlib still calls pandas APIs pandas deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        turbine = WindTurbine(turbine_type=turbine_type, hub_height=100.0)
    curve = turbine.power_curve
    return (curve["wind_speed"].to_numpy(dtype=float), curve["value"].to_numpy(dtype=float),
            float(turbine.nominal_power))


@lru_cache(maxsize=64)
def site_power_curve(turbine_type: str, density_kg_m3: float) -> np.ndarray:
    """kW per kW of nameplate on `SPEED_GRID_MS`: the turbine's windpowerlib power curve,
    density-corrected, after the wind-farm efficiency curve (dena_mean). Cached."""
    from windpowerlib import power_output, wake_losses

    speeds, power_w, nominal_w = turbine_power_curve(turbine_type)
    farm_speed = np.asarray(wake_losses.reduce_wind_speed(SPEED_GRID_MS, "dena_mean"))
    power = power_output.power_curve_density_correction(
        farm_speed, speeds, power_w, np.full(len(farm_speed), density_kg_m3))
    out = (np.asarray(power, dtype=float) / nominal_w).clip(0.0, 1.0)
    out.setflags(write=False)
    return out


def wind_output_per_kw(climate: Climate, lon: float, altitude_m: float, start_utc: datetime,
                       hours: int, rng: np.random.Generator) -> np.ndarray:
    """kW per kW of contracted wind capacity, hour by hour."""
    w = climate.wind
    mean_c = 0.5 * (climate.temperature_jan_c + climate.temperature_jul_c)
    hub_c = mean_c - 0.0065 * w.hub_height_m  # standard lapse rate from 2 m
    rho = round(air_density_kg_m3(altitude_m, w.hub_height_m, hub_c), 3)
    curve = site_power_curve(w.turbine_type, rho)
    v = wind_speed_ms(w, lon, start_utc, hours, rng)
    return np.interp(v, SPEED_GRID_MS, curve)
