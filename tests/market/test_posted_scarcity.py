"""Posted prices from the planner's capacity duals (`market.scarcity`, source lp_dual), on the
tiny market of tests/market/conftest.py with a flat series: every intelligent card lists at 10
yuan/card-hour; one busy card-hour costs (electricity + carbon at 100 yuan/t) local 0.9 +
0.108 = 1.008, mid 0.585 + 0.0325 = 0.6175, west 0.36 + 0.0084 = 0.3684 yuan. West (10 cards)
is the cheap green site; local has 8 cards, mid 6."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.market import posted
from suanwang.market.scarcity import Demand, capacity_duals
from suanwang.model import Job, Kind, Network
from suanwang.sim.market_run import PostedTable

H = 3600.0


def _demand(net: Network, series: EnergySeries, jobs: list[Job],
            running: list[tuple[int, float, int]] | None = None) -> Demand:
    topo = Topology(net)
    fc = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites], seed=0,
                    error_scale=0.0)
    return Demand(topo, 0.0, jobs, running or [], frozenset(), fc.view(0.0))


def _jobs(n: int, hours: float = 2.0) -> list[Job]:
    """n one-card jobs that must run over hours 0 .. `hours` (deadline = duration)."""
    return [Job(f"j{i}", "t", "east", Kind.INTELLIGENT, 1, hours * H, 0.0,
                deadline_s=hours * H) for i in range(n)]


def _slices(topo: Topology, site: str) -> list[int]:
    return [s for s in range(len(topo.slices))
            if topo.site_ids[topo.slice_site[s]] == site
            and topo.slices[s][1] == Kind.INTELLIGENT]


def test_the_oversubscribed_green_site_has_a_positive_dual_and_the_slack_one_none(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=120)
    # 20 cards for two hours: west (10) and mid (6) fill, local (8) takes the last 4
    d = capacity_duals(_demand(market_net, series, _jobs(20)), posted.YUAN_PER_T_CO2)
    assert d.status == "optimal" and not d.relaxed and d.n_jobs == 20
    topo = Topology(market_net)
    west, mid, local = (_slices(topo, s) for s in ("west", "mid", "local"))
    for h in (0, 1):
        # one more west card-hour saves a local one: 1.008 - 0.3684
        assert [d.at(s, h) for s in west] == pytest.approx([1.008 - 0.3684] * len(west),
                                                          abs=1e-3)
        assert [d.at(s, h) for s in mid] == pytest.approx([1.008 - 0.6175] * len(mid),
                                                         abs=1e-3)
        assert all(d.at(s, h) == pytest.approx(0.0, abs=1e-9) for s in local)
    for h in range(2, 25):  # after the deadlines nobody competes
        assert all(d.at(s, h) == pytest.approx(0.0, abs=1e-9) for s in west + mid + local)

    table = PostedTable(topo.slices, series.start_utc, series.hours)
    table.revise(0.0, table.dual_targets(0.0, d))
    price = table.yuan_per_unit_h
    for s in west:
        assert price[s, 0] == pytest.approx(10.0 + 1.008 - 0.3684, abs=1e-3)  # floor + dual
        assert price[s, 5] == pytest.approx(10.0)
    for s in local:
        assert price[s, 0] == pytest.approx(10.0)  # slack: at the floor


def test_no_waiting_work_means_no_scarcity_and_running_work_is_taken_out_of_capacity(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=120)
    topo = Topology(market_net)
    none = capacity_duals(_demand(market_net, series, []), posted.YUAN_PER_T_CO2)
    assert not none.yuan_per_unit_h.any()
    # 8 cards of work: west alone would take it, unless running jobs hold 6 of its 10 cards
    free = capacity_duals(_demand(market_net, series, _jobs(8)), posted.YUAN_PER_T_CO2)
    west = _slices(topo, "west")
    assert all(free.at(s, 0) == pytest.approx(0.0, abs=1e-9) for s in west)
    held = [(s, 2 * H, units) for s, units in zip(west, (4, 2), strict=False)]
    busy = capacity_duals(_demand(market_net, series, _jobs(8), held), posted.YUAN_PER_T_CO2)
    assert all(busy.at(s, 0) > 0.2 for s in west)


def test_the_carbon_price_enters_the_dual(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=120)
    topo = Topology(market_net)
    w = _slices(topo, "west")[0]
    cheap = capacity_duals(_demand(market_net, series, _jobs(20)), 0.0).at(w, 0)
    dear = capacity_duals(_demand(market_net, series, _jobs(20)), 1000.0).at(w, 0)
    assert cheap == pytest.approx(0.9 - 0.36, abs=1e-3)  # electricity alone
    assert dear == pytest.approx(0.9 + 1.08 - 0.36 - 0.084, abs=1e-3)  # + carbon at 1 yuan/kg


def test_a_dual_above_alpha_times_the_floor_is_capped_and_each_revision_moves_a_bounded_step(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    series = make_series(market_net, hours=48)
    topo = Topology(market_net)
    table = PostedTable(topo.slices, series.start_utc, series.hours)
    n = len(topo.slices)
    big = np.full((n, series.hours), 1e6)  # a huge dual: the target is (1 + ALPHA) x floor
    floor = table.floor.copy()
    assert np.array_equal(posted.dual_targets(floor, big), posted.ALPHA * floor)
    seen = [table.yuan_per_unit_h.copy()]
    table.revise(0.0, np.zeros((n, series.hours)))  # first posting: the floor
    seen.append(table.yuan_per_unit_h.copy())
    for k in range(1, 16):
        t = k * posted.REVISION_S
        h0 = table.first_hour(t)
        target = posted.dual_targets(floor[:, h0:], big[:, h0:] if k < 12 else 0 * big[:, h0:])
        table.revise(t, target)
        seen.append(table.yuan_per_unit_h.copy())
    for a, b in itertools.pairwise(seen[1:]):
        assert np.all(np.abs(b - a) <= posted.STEP * floor + 1e-9)  # the step bound
        assert np.all(b >= floor - 1e-9) and np.all(b <= (1 + posted.ALPHA) * floor + 1e-9)
    h = 10  # an hour revised every time: up 10 steps to 2x the floor, then down 4 steps
    assert seen[11][:, h] == pytest.approx(2 * floor[:, h])
    assert seen[-1][:, h] == pytest.approx(1.6 * floor[:, h])


@pytest.mark.parametrize(("kw", "field"), [
    ({"scarcity_source": "bids"}, "scarcity_source"),
    ({"yuan_per_t_co2": -5.0}, "yuan_per_t_co2"),
    ({"yuan_per_t_co2": float("nan")}, "yuan_per_t_co2"),
])
def test_a_bad_rule_is_refused_naming_the_field(kw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        posted.PostedRule(**kw)


def test_in_the_simulator_work_queued_for_the_full_network_is_billed_above_the_floor(
        market_net: Network, make_series: Callable[..., EnergySeries]) -> None:
    """40 one-card jobs of 4 hours at once (24 cards): 16 queue and must end within 8 hours
    (hours 4-8: west's 10 cards and mid's 6); one small job every 15 minutes keeps the
    revisions coming. The planner's dual at west over the queued work (what a west card-hour
    saves against mid) raises west's posted prices of hours 4-8 (lp_dual), and the queued jobs
    placed there when cards free are billed at floor + dual; none above (1 + ALPHA) x floor."""
    series = make_series(market_net, hours=72)
    jobs = [Job(f"q{i}", "t", "east", Kind.INTELLIGENT, 1, 4 * H, 0.0, deadline_s=8 * H)
            for i in range(40)]
    jobs += [Job(f"s{k}", "t", "south", Kind.GENERAL, 1, 600.0, k * 900.0 + 1.0,
                 deadline_s=k * 900.0 + 2 * H) for k in range(1, 40)]
    values = np.full(len(jobs), 50.0)
    fc = Forecaster(series, [s.grid_intensity_g_per_kwh for s in market_net.sites], seed=0,
                    error_scale=0.0)
    from suanwang.policies.registry import make_policy
    from suanwang.sim.market_run import run_posted

    run = run_posted(market_net, jobs, make_policy("greenest"), series, fc, values)
    res = run.result
    q = np.array([j.job_id.startswith("q") for j in jobs])
    unit_h = np.array([j.units * j.duration_s / H for j in jobs])
    ran = res.ran & q
    assert ran.sum() == 40
    floor_bill = 10.0 * unit_h
    assert np.all(run.compute_bill_yuan[ran] >= floor_bill[ran] - 1e-9)
    late = np.flatnonzero(ran & (res.placed_s >= 4 * H - 1))  # the queued ones
    assert len(late) == 16
    topo = Topology(market_net)
    assert res.slice is not None
    site = {i: topo.site_ids[topo.slice_site[int(res.slice[i])]] for i in late.tolist()}
    west = [i for i in late.tolist() if site[i] == "west"]
    assert len(west) == 10  # west's cards, at floor + the dual (mid's cost saved) each hour
    assert run.compute_bill_yuan[west] == pytest.approx([4 * (10.0 + 0.6175 - 0.3684)] * 10,
                                                       abs=1e-2)
    assert np.all(run.compute_bill_yuan[ran] <= (1 + posted.ALPHA) * floor_bill[ran] + 1e-9)
