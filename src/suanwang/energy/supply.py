"""The physical energy model: each site's hourly supply mix, green share, intensity and price.

A site draws a constant load: its facility power at full use (the sum over its pools of units x
kW per unit, times PUE) times the network's `contract_load_utilisation` (0.6 in the bundled
file, the default offered load). Its contracted green supply (绿电直供, `Site.contracts`) is

    green_kw(h) = wind_mw x 1000 x wind(h) + solar_mw x 1000 x solar(h) + firm_mw x 1000

with wind(h) from `suanwang.energy.wind` (windpowerlib) and solar(h) from
`suanwang.energy.solar` (pvlib), both kW per kW of capacity and seeded per site. Then

    green_share(h)  = min(1, green_kw(h) / load_kw)          (surplus is sold to the grid)
    intensity(h)    = (1 - green_share(h)) x provincial grid factor  (location-based: the
                      contracted farms emit nothing; the grid's own renewables are already in
                      its average factor, so they are not counted again as green)
    price(h)        = annual price x the province's time-of-use multiplier (`tariffs`)

A site without `contracts` in the network file gets contracts sized here
(`size_contracts`): wind, solar and firm capacities in the proportions of the file's
`wind_fraction` and `solar_fraction` by energy, scaled so that the first year of the run meets
the file's annual `green_share`.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from suanwang.energy.calibrate import scale_to_mean
from suanwang.energy.climate import climate_for
from suanwang.energy.series import EnergySeries, SupplyMix
from suanwang.energy.solar import clear_sky_index, site_altitude_m, solar_output_per_kw
from suanwang.energy.tariffs import tariff_for
from suanwang.energy.wind import wind_output_per_kw
from suanwang.model import Contracts, Network, Site

REFERENCE_HOURS = 24 * 365
BEIJING_OFFSET_H = 8.0


def facility_power_kw(site: Site) -> float:
    """The site's facility power with every unit busy: sum(units x kW per unit) x PUE."""
    return sum(p.units * p.kw_per_unit for p in site.pools) * site.pue


def contract_load_kw(site: Site, utilisation: float) -> float:
    """The load the site's green share is computed against."""
    return facility_power_kw(site) * utilisation


@lru_cache(maxsize=128)
def site_weather(site: Site, start_utc: datetime, hours: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(wind, solar) output per kW of capacity at the site, hour by hour. Cached.

    Seeded per (seed, site id): adding a site to a network does not change the others'
    weather. The weather is drawn hour by hour from 1 January (UTC) of the start's year, so
    the same seed gives the same weather on the same dates whatever the start and length
    (a plot of a week shows the week a longer run had).
    """
    climate = climate_for(site.province_en)
    wind_seed, solar_seed = np.random.SeedSequence(
        [seed, zlib.crc32(site.id.encode())]).spawn(2)
    altitude = site_altitude_m(site.lat, site.lon)
    s = start_utc.astimezone(UTC)
    epoch = datetime(s.year, 1, 1, tzinfo=UTC)
    offset = int((s - epoch).total_seconds() // 3600)
    wind = wind_output_per_kw(climate, site.lon, altitude, epoch, offset + hours,
                              np.random.default_rng(wind_seed))[offset:]
    kc = clear_sky_index(climate, epoch, offset + hours,
                         np.random.default_rng(solar_seed))[offset:]
    solar = solar_output_per_kw(site.lat, site.lon, climate, start_utc, kc)
    wind.setflags(write=False)
    solar.setflags(write=False)
    return wind, solar


def size_contracts(site: Site, wind: np.ndarray, solar: np.ndarray, load_kw: float,
                   target_share: float) -> Contracts:
    """Contracts whose green output, split by energy as the file's wind and solar fractions
    (the rest firm), meets `target_share` of `load_kw` on average over the given hours."""
    wf, sf = site.wind_fraction, site.solar_fraction
    firm_f = max(0.0, 1.0 - wf - sf)
    w_mean, s_mean = max(float(wind.mean()), 1e-9), max(float(solar.mean()), 1e-9)
    shape = wf * wind / w_mean + sf * solar / s_mean + firm_f
    c = scale_to_mean(shape, target_share)
    if not np.isfinite(c):  # a target of 100%: enough for the worst hour
        c = 1.0 / max(float(shape.min()), 1e-3)
    mw = load_kw * c / 1000.0
    return Contracts(wind_mw=mw * wf / w_mean, solar_mw=mw * sf / s_mean, firm_mw=mw * firm_f)


def site_contracts(site: Site, network: Network, start_utc: datetime, seed: int = 0
                   ) -> tuple[Contracts, bool]:
    """The site's contracts and whether they come from the file (False: sized here)."""
    if site.contracts is not None:
        return site.contracts, True
    wind, solar = site_weather(site, start_utc, REFERENCE_HOURS, seed)
    load = contract_load_kw(site, network.contract_load_utilisation)
    return size_contracts(site, wind, solar, load, site.green_share), False


def physical_energy_series(network: Network, start_utc: datetime, hours: int,
                           seed: int = 0) -> EnergySeries:
    """Hourly series for every site of `network` for `hours` hours from `start_utc`.

    Deterministic for (network, start_utc, seed); a longer run extends a shorter one (the first
    hours are the same). Carries the supply mix behind it (`EnergySeries.supply`).
    """
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be an aware datetime")
    if hours < 1:
        raise ValueError(f"hours must be >= 1, got {hours}")
    n = max(hours, REFERENCE_HOURS)
    shape = (len(network.sites), hours)
    green, intensity, price = np.empty(shape), np.empty(shape), np.empty(shape)
    wind_kw, solar_kw, firm_kw = np.empty(shape), np.empty(shape), np.empty(shape)
    load = np.empty(len(network.sites))
    s = start_utc.astimezone(UTC)
    utc_h = s.hour + s.minute / 60.0 + s.second / 3600.0
    beijing_h = (utc_h + BEIJING_OFFSET_H + np.arange(hours)) % 24.0
    for i, site in enumerate(network.sites):
        wind, solar = site_weather(site, start_utc, n, seed)
        contracts, _ = site_contracts(site, network, start_utc, seed)
        load[i] = contract_load_kw(site, network.contract_load_utilisation)
        wind_kw[i] = contracts.wind_mw * 1000.0 * wind[:hours]
        solar_kw[i] = contracts.solar_mw * 1000.0 * solar[:hours]
        firm_kw[i] = contracts.firm_mw * 1000.0
        g = np.minimum(1.0, (wind_kw[i] + solar_kw[i] + firm_kw[i]) / load[i])
        green[i] = g
        intensity[i] = (1.0 - g) * site.grid_intensity_g_per_kwh
        price[i] = site.price_yuan_per_kwh * tariff_for(site.province_en).multiplier(beijing_h)
    return EnergySeries(
        site_ids=tuple(site.id for site in network.sites),
        start_utc=start_utc,
        green_share=green,
        intensity_g_per_kwh=intensity,
        price_yuan_per_kwh=price,
        supply=SupplyMix(load_kw=load, wind_kw=wind_kw, solar_kw=solar_kw, firm_kw=firm_kw),
    )
