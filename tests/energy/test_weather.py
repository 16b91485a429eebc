"""The weather models: pvlib solar output, the cloudiness process, windpowerlib wind output."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from suanwang.energy.climate import bundled_climate_path, climate_for, load_climates
from suanwang.energy.solar import clear_sky, clear_sky_index, solar_output_per_kw
from suanwang.energy.wind import (
    SPEED_GRID_MS,
    site_power_curve,
    wind_output_per_kw,
    wind_speed_ms,
)
from suanwang.errors import InputError
from suanwang.model import Network, Site
from suanwang.network.loader import load_network

BEIJING = timezone(timedelta(hours=8))
START = datetime(2024, 6, 1, tzinfo=BEIJING)
YEAR_H = 365 * 24


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


def solar_noon_utc_h(site: Site, day: datetime) -> float:
    """Solar noon (UTC hour of day) from the equation of time (Spencer 1971), to a minute."""
    doy = day.timetuple().tm_yday
    b = 2 * np.pi * (doy - 1) / 365.0
    eot_min = 229.18 * (0.000075 + 0.001868 * np.cos(b) - 0.032077 * np.sin(b)
                        - 0.014615 * np.cos(2 * b) - 0.040849 * np.sin(2 * b))
    return 12.0 - site.lon / 15.0 - eot_min / 60.0


# ---- solar --------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [datetime(2024, 3, 20, tzinfo=UTC),
                                 datetime(2024, 6, 21, tzinfo=UTC),
                                 datetime(2024, 12, 21, tzinfo=UTC)])
def test_clear_sky_pv_peaks_near_solar_noon_at_every_site(day: datetime,
                                                          national: Network) -> None:
    for site in national.sites:
        start = day - timedelta(hours=12)  # the whole UTC day and the hours around it
        out = solar_output_per_kw(site.lat, site.lon, climate_for(site.province_en), start,
                                  np.ones(48))
        mid_h = np.arange(48) + 0.5 - 12.0  # mid-hour, UTC hours of `day`
        peak = mid_h[int(np.argmax(out))]
        miss_h = (peak - solar_noon_utc_h(site, day) + 12.0) % 24.0 - 12.0
        assert abs(miss_h) <= 1.0, site.id
        assert out.max() > 0.5, site.id  # a clear noon gives more than half the nameplate


def test_pv_is_zero_at_night_at_every_site(national: Network) -> None:
    rng = np.random.default_rng(0)
    for site in national.sites:
        climate = climate_for(site.province_en)
        kc = clear_sky_index(climate, START, YEAR_H, rng)
        out = solar_output_per_kw(site.lat, site.lon, climate, START, kc)
        _, zenith, *_ = clear_sky(site.lat, site.lon, START, YEAR_H)
        assert np.all(out[zenith >= 90.0] == 0.0), site.id
        # and four hours either side of local solar midnight, whatever the season
        t_utc = START.astimezone(UTC).hour + np.arange(YEAR_H) + 0.5
        solar_h = (t_utc + site.lon / 15.0) % 24.0
        assert np.all(out[np.minimum(solar_h, 24 - solar_h) < 4.0] == 0.0), site.id
        assert np.all((out >= 0.0) & (out <= 1.0)), site.id
        # full-load hours a year: between the Sichuan Basin's and the north-west's
        assert 800 < out.sum() < 1900, site.id


@pytest.mark.parametrize("province", ["Inner Mongolia", "Sichuan", "Guangdong"])
def test_cloudiness_follows_the_months_of_the_climate_file(province: str) -> None:
    climate = climate_for(province)
    start = datetime(2024, 1, 1, tzinfo=BEIJING)
    years = 60  # the monthly means of 60 years are within about 0.01 of the climate's
    kc = clear_sky_index(climate, start, years * YEAR_H, np.random.default_rng(7))
    months = ((np.datetime64("2024-01-01T08", "h") + np.arange(years * YEAR_H)
               ).astype("datetime64[M]").astype(int) % 12)  # Beijing months
    target = np.asarray(climate.clear_sky_index())
    for m in range(12):
        assert kc[months == m].mean() == pytest.approx(target[m], abs=0.03), m
    assert np.all((kc >= 0.0) & (kc <= 1.1))


def test_clear_sky_index_from_sunshine_is_angstrom_prescott() -> None:
    c = dataclasses.replace(climate_for("Sichuan"), sunshine_pct=(0.0, 100.0) + (50.0,) * 10)
    kc = c.clear_sky_index()
    assert kc[0] == pytest.approx(0.25 / 0.75)
    assert kc[1] == pytest.approx(1.0)
    assert kc[2] == pytest.approx(0.5 / 0.75)


# ---- wind ---------------------------------------------------------------------------------


def test_inner_mongolia_wind_is_stronger_at_night_and_in_spring(national: Network) -> None:
    site = national.site("horinger")
    wind = climate_for("Inner Mongolia").wind
    start = datetime(2024, 1, 1, tzinfo=UTC)
    v = wind_speed_ms(wind, site.lon, start, 20 * YEAR_H, np.random.default_rng(3))
    t = np.arange(len(v)) + 0.5
    solar_h = (t + site.lon / 15.0) % 24.0
    night = (solar_h >= 0) & (solar_h < 5)
    afternoon = (solar_h >= 12) & (solar_h < 17)
    assert v[night].mean() > 1.15 * v[afternoon].mean()  # the cycle alone gives 1.33
    doy = (t / 24.0) % 365.0
    april = (doy >= 91) & (doy < 121)
    august = (doy >= 213) & (doy < 244)
    assert v[april].mean() > 1.15 * v[august].mean()  # the cycles alone give 1.24
    assert v.mean() == pytest.approx(wind.mean_ms, rel=0.03)


def test_wind_speed_is_weibull_with_synoptic_memory(national: Network) -> None:
    wind = dataclasses.replace(climate_for("Inner Mongolia").wind, diurnal_amplitude=0.0,
                               seasonal_amplitude=0.0)
    v = wind_speed_ms(wind, 111.8, START, 20 * YEAR_H, np.random.default_rng(1))
    k = wind.weibull_k
    scale = wind.mean_ms / math.gamma(1 + 1 / k)
    for q in (0.1, 0.5, 0.9):  # the Weibull quantiles
        expected = scale * (-np.log(1 - q)) ** (1 / k)
        assert np.quantile(v, q) == pytest.approx(expected, rel=0.03), q
    lag24 = np.corrcoef(v[:-24], v[24:])[0, 1]
    lag1 = np.corrcoef(v[:-1], v[1:])[0, 1]
    assert lag1 > 0.95 and 0.3 < lag24 < 0.7  # weather lasts a day or two


def test_power_curve_is_zero_below_cut_in_and_capped_at_nameplate() -> None:
    curve = site_power_curve("N131/3600", 1.1)
    assert np.all(curve[SPEED_GRID_MS < 2.5] == 0.0)
    assert curve.max() <= 1.0 and curve.max() > 0.95
    thin = site_power_curve("N131/3600", 1.0)
    below_cut_out = SPEED_GRID_MS < 20.0
    assert np.all(thin[below_cut_out] <= curve[below_cut_out] + 1e-12)  # thinner air, less
    assert thin[below_cut_out].sum() < curve[below_cut_out].sum()


def test_wind_output_full_load_hours_are_plausible(national: Network) -> None:
    for site in national.sites:
        out = wind_output_per_kw(climate_for(site.province_en), site.lon, 500.0, START, YEAR_H,
                                 np.random.default_rng(0))
        assert np.all((out >= 0.0) & (out <= 1.0)), site.id
        assert 1500 < out.sum() < 3500, site.id  # China's wind: about 2,200 h a year


# ---- the climate file ---------------------------------------------------------------------


def test_unknown_province_falls_back_to_default() -> None:
    assert climate_for("Atlantis").province == "default"


@pytest.mark.parametrize(("old", "new", "field"), [
    ("values: [66, 67, 65, 64, 65, 62, 58, 62, 68, 71, 68, 65]",
     "values: [66, 67, 65]", "provinces.Inner Mongolia.sunshine_pct.values"),
    ("weibull_k: 2.2", "weibull_k: -1", "provinces.Inner Mongolia.wind.weibull_k"),
])
def test_a_bad_climate_file_is_refused_naming_the_field(old: str, new: str, field: str,
                                                        tmp_path: Path) -> None:
    text = bundled_climate_path().read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "climate.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_climates(path)
    assert err.value.field == field
