"""The physical model: contracts, the supply mix, green shares against the file, tariffs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from suanwang.energy.models import ENERGY_MODELS, UnknownEnergyModelError, energy_series
from suanwang.energy.series import EnergySeries
from suanwang.energy.supply import (
    contract_load_kw,
    facility_power_kw,
    physical_energy_series,
    site_contracts,
)
from suanwang.energy.tariffs import load_tariffs, tariff_for
from suanwang.errors import InputError
from suanwang.model import Network
from suanwang.network.loader import load_network, parse_network

BEIJING = timezone(timedelta(hours=8))
START = datetime(2024, 6, 1, tzinfo=BEIJING)
YEAR_H = 365 * 24
# A year of weather moves a site's green share by a few points (wind years differ); the
# bundled contracts are sized to the file's figure on seed 0, Horinger's zones to above it.
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def year(national: Network) -> Callable[[int], EnergySeries]:
    cache: dict[int, EnergySeries] = {}

    def get(seed: int) -> EnergySeries:
        if seed not in cache:
            cache[seed] = physical_energy_series(national, START, YEAR_H, seed=seed)
        return cache[seed]

    return get


# ---- green shares against the network file ------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_annual_green_shares_are_the_files_within_tolerance(
        seed: int, national: Network, year: Callable[[int], EnergySeries]) -> None:
    g = year(seed).green_share
    for i, site in enumerate(national.sites):
        assert g[i].mean() == pytest.approx(site.green_share, abs=TOLERANCE), site.id


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("site_id", ["horinger", "jining"])
def test_horinger_contracts_deliver_the_guaranteed_80_percent(
        site_id: str, seed: int, national: Network, year: Callable[[int], EnergySeries]
) -> None:
    series = year(seed)
    assert series.green_share[series.site_index(site_id)].mean() >= 0.80  # seed 000


def test_green_share_recomputes_from_the_supply_mix(national: Network,
                                                    year: Callable[[int], EnergySeries]) -> None:
    series = year(0)
    mix = series.supply
    assert mix is not None
    for i, site in enumerate(national.sites):
        contracts, from_file = site_contracts(site, national, START)
        assert from_file, site.id
        assert mix.load_kw[i] == pytest.approx(facility_power_kw(site) * 0.6)
        green_kw = mix.wind_kw[i] + mix.solar_kw[i] + mix.firm_kw[i]
        np.testing.assert_allclose(series.green_share[i],
                                   np.minimum(1.0, green_kw / mix.load_kw[i]))
        np.testing.assert_allclose(series.intensity_g_per_kwh[i],
                                   (1.0 - series.green_share[i]) * site.grid_intensity_g_per_kwh)
        assert mix.wind_kw[i].max() <= contracts.wind_mw * 1000.0 + 1e-6
        assert mix.solar_kw[i].max() <= contracts.solar_mw * 1000.0 + 1e-6
        np.testing.assert_allclose(mix.firm_kw[i], contracts.firm_mw * 1000.0)


def test_horinger_load_is_the_stated_facility_power_by_hand(national: Network) -> None:
    site = national.site("horinger")
    # 1,850 P / 0.00008 P per core x 6 W + 21,800 P x 0.9 kW + 350 P / 0.05 P per node x 3 kW
    it_kw = 1850 / 0.00008 * 0.006 + 21800 * 0.9 + 350 / 0.05 * 3.0
    assert facility_power_kw(site) == pytest.approx(it_kw * 1.2)
    assert contract_load_kw(site, national.contract_load_utilisation) == pytest.approx(
        it_kw * 1.2 * 0.6)
    assert national.contract_load_utilisation == 0.6


def test_western_sites_are_greener_at_night_in_spring_than_on_summer_afternoons(
        national: Network, year: Callable[[int], EnergySeries]) -> None:
    series = year(0)
    mix = series.supply
    assert mix is not None
    i = series.site_index("horinger")
    t = series.start_utc + np.arange(series.hours) * timedelta(hours=1)
    beijing = np.array([(x.astimezone(BEIJING).month, x.astimezone(BEIJING).hour) for x in t])
    spring_nights = np.isin(beijing[:, 0], [3, 4, 5]) & (beijing[:, 1] < 5)
    summer_afternoons = np.isin(beijing[:, 0], [7, 8]) & (beijing[:, 1] >= 13) & (
        beijing[:, 1] < 18)
    assert mix.wind_kw[i][spring_nights].mean() > 1.3 * mix.wind_kw[i][summer_afternoons].mean()


# ---- determinism ---------------------------------------------------------------------------


def test_physical_model_is_deterministic_for_a_seed_and_differs_across_seeds(
        national: Network, year: Callable[[int], EnergySeries]) -> None:
    again = physical_energy_series(national, START, YEAR_H, seed=0)
    for name in ("green_share", "intensity_g_per_kwh", "price_yuan_per_kwh"):
        np.testing.assert_array_equal(getattr(again, name), getattr(year(0), name))
    for i, site in enumerate(national.sites):
        if site.contracts is not None and site.contracts.wind_mw + site.contracts.solar_mw > 0:
            assert not np.array_equal(year(0).green_share[i], year(1).green_share[i]), site.id


def test_a_window_shows_the_same_weather_as_a_longer_run(
        national: Network, year: Callable[[int], EnergySeries]) -> None:
    week = physical_energy_series(national, START + timedelta(days=28), 7 * 24, seed=0)
    np.testing.assert_allclose(week.green_share, year(0).green_share[:, 28 * 24:35 * 24])
    longer = physical_energy_series(national, START, YEAR_H + 240, seed=0)
    np.testing.assert_allclose(longer.green_share[:, :YEAR_H], year(0).green_share)


@pytest.mark.parametrize(("start", "hours", "match"), [
    (datetime(2024, 6, 1), 24, "aware"),  # naive, on purpose
    (START, 0, "hours must be >= 1"),
])
def test_physical_model_refuses_bad_arguments(start: datetime, hours: int, match: str,
                                              national: Network) -> None:
    with pytest.raises(ValueError, match=match):
        physical_energy_series(national, start, hours)


# ---- sites without contracts: sized to the file's green share -----------------------------


def test_sites_without_contracts_are_sized_to_the_files_green_share(tiny_net: Network) -> None:
    assert all(s.contracts is None for s in tiny_net.sites)
    series = physical_energy_series(tiny_net, START, YEAR_H, seed=0)
    for i, site in enumerate(tiny_net.sites):
        assert series.green_share[i].mean() == pytest.approx(site.green_share, abs=0.005)
        contracts, from_file = site_contracts(site, tiny_net, START)
        assert not from_file
        assert contracts.firm_mw > 0 or site.wind_fraction + site.solar_fraction == 1.0


# ---- prices --------------------------------------------------------------------------------


def test_prices_keep_the_files_price_as_the_daily_mean(national: Network,
                                                       year: Callable[[int], EnergySeries]
                                                       ) -> None:
    p = year(0).price_yuan_per_kwh
    for i, site in enumerate(national.sites):
        window_means = np.convolve(p[i], np.ones(24) / 24, mode="valid")
        np.testing.assert_allclose(window_means, site.price_yuan_per_kwh, rtol=1e-12)


def test_guangdong_prices_follow_its_time_of_use_schedule(national: Network,
                                                          year: Callable[[int], EnergySeries]
                                                          ) -> None:
    series = year(0)
    p = series.price_yuan_per_kwh[series.site_index("shaoguan")][:24]  # hour 0 = 00:00 Beijing
    assert tariff_for("Guangdong").hours == "VVVVVVVVFFPPFFPPPPPFFFFF"
    assert p[3] == pytest.approx(p[7])  # valley until 08:00
    assert p[10] / p[3] == pytest.approx(1.7 / 0.38)  # peak : valley of the notice
    assert p[9] / p[3] == pytest.approx(1.0 / 0.38)
    midday_valley = series.price_yuan_per_kwh[series.site_index("zhongwei")][:24]
    assert midday_valley[12] < midday_valley[0]  # the north-west prices midday low


def test_a_bad_tariff_file_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "tou.yaml"
    path.write_text("default: {hours: VVV, ratios: {valley: 1, flat: 1, peak: 1}, source: x}\n"
                    "provinces: {}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_tariffs(path)
    assert err.value.field == "default.hours"


# ---- the models by name --------------------------------------------------------------------


def test_models_are_chosen_by_name(national: Network) -> None:
    assert set(ENERGY_MODELS) == {"physical", "simple"}
    simple = energy_series("simple", national, START, 48, seed=0)
    physical = energy_series("physical", national, START, 48, seed=0)
    assert simple.supply is None and physical.supply is not None
    with pytest.raises(UnknownEnergyModelError, match="physical, simple"):
        energy_series("sine", national, START, 48)


# ---- the network file's contracts ----------------------------------------------------------


def _with_contracts(tiny_doc: dict[str, Any], contracts: Any) -> dict[str, Any]:
    tiny_doc["sites"][1]["contracts"] = contracts
    return tiny_doc


def test_contracts_in_the_network_file_are_read(tiny_doc: dict[str, Any]) -> None:
    doc = _with_contracts(tiny_doc, {"wind_mw": {"value": 10, "source": "t"},
                                     "solar_mw": {"value": 5, "source": "t"}})
    doc["contract_load_utilisation"] = {"value": 0.5, "source": "t"}
    net = parse_network(doc, "<t>")
    c = net.site("west").contracts
    assert c is not None and (c.wind_mw, c.solar_mw, c.firm_mw) == (10.0, 5.0, 0.0)
    assert net.contract_load_utilisation == 0.5


@pytest.mark.parametrize(("contracts", "field"), [
    ({"wind_mw": {"value": -1, "source": "t"}, "solar_mw": {"value": 5, "source": "t"}},
     "sites[1].contracts.wind_mw.value"),
    ({"wind_mw": {"value": 1}, "solar_mw": {"value": 5, "source": "t"}},
     "sites[1].contracts.wind_mw.source"),
    ({"solar_mw": {"value": 5, "source": "t"}}, "sites[1].contracts.wind_mw"),
    ({"wind_mw": {"value": 1, "source": "t"}, "solar_mw": {"value": 5, "source": "t"},
      "storage_mwh": {"value": 5, "source": "t"}}, "sites[1].contracts.storage_mwh"),
    ([1, 2], "sites[1].contracts"),
])
def test_bad_contracts_are_refused_naming_the_field(contracts: Any, field: str,
                                                    tiny_doc: dict[str, Any]) -> None:
    with pytest.raises(InputError) as err:
        parse_network(_with_contracts(tiny_doc, contracts), "<t>")
    assert err.value.field == field


def test_series_start_is_kept_in_utc_terms(national: Network) -> None:
    series = physical_energy_series(national, START, 24)
    assert series.start_utc == datetime(2024, 5, 31, 16, tzinfo=UTC)
