"""Energy: the simple seeded model, forecasts of it, and the EnergySeries integrals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from suanwang.energy.forecast import Forecaster, forecast_sigma
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.energy.simple import VALLEY, simple_energy_series, tou_multiplier
from suanwang.model import Network
from suanwang.network.loader import load_network

H = HOUR_S
YEAR_H = 365 * 24
BEIJING = timezone(timedelta(hours=8))
START = datetime(2024, 6, 1, tzinfo=BEIJING)

SeriesMaker = Callable[..., EnergySeries]


@pytest.fixture(scope="module")
def national() -> Network:
    return load_network()


@pytest.fixture(scope="module")
def networks(national: Network, tiny_net: Network) -> dict[str, Network]:
    return {"national": national, "tiny": tiny_net}


@pytest.fixture(scope="module")
def year(networks: dict[str, Network]) -> Callable[[str, int], EnergySeries]:
    """365 days of the simple model, per (network, seed), computed once."""
    cache: dict[tuple[str, int], EnergySeries] = {}

    def get(network: str, seed: int = 0) -> EnergySeries:
        if (network, seed) not in cache:
            cache[(network, seed)] = simple_energy_series(networks[network], START, YEAR_H,
                                                          seed=seed)
        return cache[(network, seed)]

    return get


NETWORKS = ["national", "tiny"]

# ---- the simple model -------------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
def test_simple_model_is_deterministic_for_a_seed(network: str, networks: dict[str, Network],
                                                  year: Callable[[str, int], EnergySeries],
                                                  ) -> None:
    again = simple_energy_series(networks[network], START, YEAR_H, seed=0)
    first = year(network, 0)
    assert again.site_ids == first.site_ids
    for name in ("green_share", "intensity_g_per_kwh", "price_yuan_per_kwh"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))


@pytest.mark.parametrize("network", NETWORKS)
def test_simple_model_differs_across_seeds(network: str,
                                           year: Callable[[str, int], EnergySeries]) -> None:
    a, b = year(network, 0), year(network, 1)
    for i in range(len(a.site_ids)):
        assert not np.array_equal(a.green_share[i], b.green_share[i]), a.site_ids[i]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("network", NETWORKS)
def test_annual_mean_green_share_is_the_files(network: str, seed: int,
                                              networks: dict[str, Network],
                                              year: Callable[[str, int], EnergySeries]) -> None:
    series = year(network, seed)
    for i, site in enumerate(networks[network].sites):
        assert series.green_share[i].mean() == pytest.approx(site.green_share, abs=0.01), site.id


@pytest.mark.parametrize("network", NETWORKS)
def test_green_share_is_a_fraction_and_varies(network: str,
                                              year: Callable[[str, int], EnergySeries]) -> None:
    g = year(network, 0).green_share
    assert np.all((g >= 0.0) & (g <= 1.0))
    assert np.all(g.std(axis=1) > 0.01)  # wind and sun move it hour by hour


@pytest.mark.parametrize("network", NETWORKS)
def test_intensity_is_the_non_green_part_at_the_grid_factor(
        network: str, networks: dict[str, Network],
        year: Callable[[str, int], EnergySeries]) -> None:
    series = year(network, 0)
    grid = np.array([s.grid_intensity_g_per_kwh for s in networks[network].sites])[:, None]
    np.testing.assert_allclose(series.intensity_g_per_kwh, (1.0 - series.green_share) * grid,
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("start", [
    START,
    datetime(2024, 3, 10, 5, 0, tzinfo=UTC),  # not Beijing midnight
    datetime(2023, 12, 31, 23, 30, tzinfo=BEIJING),  # a half hour, across a year
])
def test_prices_average_to_the_files_price_over_whole_days(start: datetime,
                                                           national: Network) -> None:
    days = 5
    series = simple_energy_series(national, start, days * 24, seed=0)
    for i, site in enumerate(national.sites):
        p = series.price_yuan_per_kwh[i]
        assert p.mean() == pytest.approx(site.price_yuan_per_kwh, rel=1e-12)
        # any 24 consecutive hours hold each clock hour once
        window_means = np.convolve(p, np.ones(24) / 24, mode="valid")
        np.testing.assert_allclose(window_means, site.price_yuan_per_kwh, rtol=1e-12)
        assert p.min() == pytest.approx(site.price_yuan_per_kwh * tou_multiplier(
            np.array([3]))[0])


def test_prices_follow_beijing_time_of_use(national: Network) -> None:
    # run hour 0 is Beijing midnight (valley); Beijing 09:00 is peak, 14:00 flat
    series = simple_energy_series(national, START, 24, seed=0)
    p = series.price_yuan_per_kwh[0] / national.sites[0].price_yuan_per_kwh
    day_mean = np.mean(tou_multiplier(np.arange(24)))
    assert day_mean == pytest.approx(1.0)
    assert p[0] == pytest.approx(VALLEY / (VALLEY * 8 + 1.6 * 7 + 1.0 * 9) * 24)
    assert p[9] > p[14] > p[3]
    assert p[9] / p[3] >= 3.0  # the NDRC notice's peak-valley ratio


@pytest.mark.parametrize("site_id", ["wuhu", "zhongwei", "yangtze-demo"])
def test_solar_heavy_site_is_greener_at_noon_than_midnight(
        site_id: str, national: Network, year: Callable[[str, int], EnergySeries]) -> None:
    series = year("national", 0)
    i = series.site_index(site_id)
    site = national.sites[i]
    assert site.solar_fraction >= 0.5
    utc_hour0 = START.astimezone(UTC).hour  # run hour 0 starts at 16:00 UTC
    local_solar_h = (np.arange(series.hours) + 0.5 + utc_hour0 + site.lon / 15.0) % 24.0
    noon = np.abs(local_solar_h - 12.0) < 1.0
    midnight = np.minimum(local_solar_h, 24.0 - local_solar_h) < 1.0
    assert noon.sum() > 300 and midnight.sum() > 300
    g = series.green_share[i]
    assert g[noon].mean() > g[midnight].mean() + 0.1


def test_longer_series_extends_a_shorter_one(national: Network,
                                             year: Callable[[str, int], EnergySeries]) -> None:
    short = simple_energy_series(national, START, 48, seed=0)
    longer = simple_energy_series(national, START, YEAR_H + 240, seed=0)
    np.testing.assert_array_equal(short.green_share, year("national", 0).green_share[:, :48])
    np.testing.assert_array_equal(longer.green_share[:, :YEAR_H],
                                  year("national", 0).green_share)


@pytest.mark.parametrize(("start", "hours", "match"), [
    (datetime(2024, 6, 1), 24, "aware"),  # naive, on purpose
    (START, 0, "hours must be >= 1"),
])
def test_simple_model_refuses_bad_arguments(start: datetime, hours: int, match: str,
                                            national: Network) -> None:
    with pytest.raises(ValueError, match=match):
        simple_energy_series(national, start, hours)


# ---- forecasts --------------------------------------------------------------------------------


def grid_of(net: Network) -> list[float]:
    return [s.grid_intensity_g_per_kwh for s in net.sites]


@pytest.mark.parametrize("now_s", [0.0, 1800.0, 100 * H + 5.0, (YEAR_H - 10) * H])
def test_forecast_with_error_scale_zero_is_the_actuals(now_s: float, national: Network,
                                                       year: Callable[[str, int], EnergySeries]
                                                       ) -> None:
    series = year("national", 0)
    view = Forecaster(series, grid_of(national), seed=3, error_scale=0.0).view(now_s)
    hour = int(now_s // H)
    assert view.issued_hour == hour
    idx = np.minimum(np.arange(hour, hour + view.horizon_h), series.hours - 1)  # last holds
    np.testing.assert_array_equal(np.asarray(view.green_share), series.green_share[:, idx])
    np.testing.assert_allclose(np.asarray(view.intensity_g_per_kwh),
                               series.intensity_g_per_kwh[:, idx], atol=1e-9)
    np.testing.assert_array_equal(np.asarray(view.price_yuan_per_kwh),
                                  series.price_yuan_per_kwh[:, idx])
    np.testing.assert_array_equal(np.asarray(view.intensity_sd_g_per_kwh), 0.0)


def test_forecast_error_grows_with_lead_time(national: Network,
                                             year: Callable[[str, int], EnergySeries]) -> None:
    series = year("national", 0)
    fc = Forecaster(series, grid_of(national), seed=5, error_scale=1.0)
    leads = (1, 12, 48)
    errors: dict[int, list[float]] = {k: [] for k in leads}
    for hour in range(0, 24 * 40, 3):
        view = fc.view(hour * H)
        green = np.asarray(view.green_share)
        for k in leads:
            errors[k].extend(np.abs(green[:, k] - series.green_share[:, hour + k]).tolist())
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    assert mean[1] < mean[12] < mean[48]
    # and near the stated sigma, sigma_cap(lead) x the site's gain (clipping at 0 and 1 can
    # only shrink it): E|N(0, s)| = 0.8 s
    expected = {k: 0.8 * float(forecast_sigma(k, 1.0)) * float(fc.gain.mean()) for k in leads}
    assert mean[48] < expected[48] * 1.1
    assert mean[1] > expected[1] * 0.5


def test_forecast_prices_are_exact_and_intensity_follows_green(
        national: Network, year: Callable[[str, int], EnergySeries]) -> None:
    series = year("national", 0)
    view = Forecaster(series, grid_of(national), seed=1, error_scale=1.0).view(10 * H)
    idx = np.arange(10, 10 + view.horizon_h)
    np.testing.assert_array_equal(np.asarray(view.price_yuan_per_kwh),
                                  series.price_yuan_per_kwh[:, idx])
    grid = np.asarray(grid_of(national))[:, None]
    np.testing.assert_allclose(np.asarray(view.intensity_g_per_kwh),
                               (1.0 - np.asarray(view.green_share)) * grid, atol=1e-9)
    assert not np.array_equal(np.asarray(view.green_share), series.green_share[:, idx])


def test_forecast_sigma_values() -> None:
    # calibrated to the NEA 2011 rule: 15% of capacity 4 h ahead, 20% a day ahead
    assert float(forecast_sigma(0, 1.0)) == 0.0
    assert float(forecast_sigma(4, 1.0)) == pytest.approx(0.15, abs=5e-4)
    assert float(forecast_sigma(24, 1.0)) == pytest.approx(0.20, abs=5e-4)
    assert float(forecast_sigma(48, 2.0)) == pytest.approx(2 * float(forecast_sigma(48, 1.0)))
    assert float(forecast_sigma(10, 0.0)) == 0.0


def test_forecaster_refuses_negative_error_scale(national: Network,
                                                 year: Callable[[str, int], EnergySeries]
                                                 ) -> None:
    with pytest.raises(ValueError, match="error_scale"):
        Forecaster(year("national", 0), grid_of(national), error_scale=-0.1)


def test_forecast_view_window_means(tiny_net: Network, make_series: SeriesMaker) -> None:
    # local's price steps 0.2, 0.4, 0.6, then 0.6 on; mean over the hours [t0, t1) touches
    series = make_series(tiny_net, 4, price={"local": [0.2, 0.4, 0.6, 0.6]},
                         intensity={"local": [100.0, 300.0, 200.0, 200.0]})
    view = Forecaster(series, grid_of(tiny_net), error_scale=0.0).view(0.0)
    assert view.mean_price(0, 0.0, H) == pytest.approx(0.2)
    assert view.mean_price(0, 0.0, 2 * H) == pytest.approx(0.3)
    assert view.mean_price(0, 1800.0, H + 1.0) == pytest.approx(0.3)  # touches hours 0 and 1
    assert view.mean_price(0, H, 3 * H) == pytest.approx(0.5)
    assert view.mean_intensity(0, 0.0, 3 * H) == pytest.approx(200.0)
    assert view.mean_intensity(0, 2 * H, 2 * H) == pytest.approx(200.0)  # empty: one hour


# ---- EnergySeries: integrals and means by hand ------------------------------------------------


@pytest.fixture
def two_hours() -> EnergySeries:
    """Site 0 is 1 then 3; site 1 is 10 then 0 (the same for all three series)."""
    v = np.array([[1.0, 3.0], [10.0, 0.0]])
    return EnergySeries(site_ids=("a", "b"), start_utc=datetime(2024, 1, 1, tzinfo=UTC),
                        green_share=v / 10, intensity_g_per_kwh=v.copy(),
                        price_yuan_per_kwh=v.copy())


# (site, t_s, integral of site's values from 0 to t, in value x seconds)
INTEGRAL_CASES: list[tuple[int, float, float]] = [
    (0, 0.0, 0.0),
    (0, 1800.0, 1800.0),
    (0, H, H),
    (0, 1.5 * H, H + 3 * 0.5 * H),
    (0, 2 * H, H + 3 * H),
    (0, 3 * H, H + 3 * H + 3 * H),  # past the end the last hour's value holds
    (0, -100.0, 0.0),  # before the start: nothing
    (1, 0.5 * H, 10 * 0.5 * H),
    (1, 5 * H, 10 * H),
]


@pytest.mark.parametrize(("site", "t", "expected"), INTEGRAL_CASES)
def test_integral_by_hand(site: int, t: float, expected: float,
                          two_hours: EnergySeries) -> None:
    got = two_hours.integral("intensity_g_per_kwh", np.array([site]), np.array([t]))
    assert got[0] == pytest.approx(expected)


def test_integral_is_vectorised(two_hours: EnergySeries) -> None:
    site = np.array([c[0] for c in INTEGRAL_CASES])
    t = np.array([c[1] for c in INTEGRAL_CASES])
    np.testing.assert_allclose(two_hours.integral("price_yuan_per_kwh", site, t),
                               [c[2] for c in INTEGRAL_CASES])
    np.testing.assert_allclose(two_hours.integral("green_share", site, t),
                               [c[2] / 10 for c in INTEGRAL_CASES])


# (site, t0, t1, time-weighted mean over [t0, t1))
MEAN_CASES: list[tuple[int, float, float, float]] = [
    (0, 0.0, H, 1.0),
    (0, 0.0, 2 * H, 2.0),
    (0, 0.5 * H, 1.5 * H, 2.0),
    (0, 0.75 * H, 1.25 * H, 2.0),
    (0, 0.5 * H, 2 * H, (0.5 * 1 + 3) / 1.5),
    (0, H, 10 * H, 3.0),  # past the end
    (0, 1.5 * H, 1.5 * H, 3.0),  # empty interval: the value at t0
    (0, 0.0, 0.0, 1.0),
    (1, 0.0, 2 * H, 5.0),
]


@pytest.mark.parametrize(("site", "t0", "t1", "expected"), MEAN_CASES)
def test_mean_over_by_hand(site: int, t0: float, t1: float, expected: float,
                           two_hours: EnergySeries) -> None:
    got = two_hours.mean_over("intensity_g_per_kwh", np.array([site]), np.array([t0]),
                              np.array([t1]))
    assert got[0] == pytest.approx(expected)


def test_series_refuses_naive_start_and_wrong_shapes() -> None:
    v = np.zeros((2, 3))
    with pytest.raises(ValueError, match="aware"):
        EnergySeries(("a", "b"), datetime(2024, 1, 1), v, v, v)  # naive
    with pytest.raises(ValueError, match="price_yuan_per_kwh has shape"):
        EnergySeries(("a", "b"), datetime(2024, 1, 1, tzinfo=UTC), v, v, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="expected"):
        EnergySeries(("a",), datetime(2024, 1, 1, tzinfo=UTC), v, v, v)


def test_series_hours_and_site_index(two_hours: EnergySeries) -> None:
    assert two_hours.hours == 2
    assert two_hours.site_index("b") == 1
    assert two_hours.hour_start_utc(2) == datetime(2024, 1, 1, 2, tzinfo=UTC)
