"""Grid events in the planners' slot models (`planning.grid_rows`) on the tiny network:
ceilings price the capped site-hours, fills reward theirs, rolling and optimal keep caps,
never refuse real-time work for a shed, and rolling fills by its plan."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from grid_support import H, realtime, steady
from grid_support import sim as sim_online

from suanwang.core.power_ceiling import Ceiling, FillLevel, PowerCalendar
from suanwang.core.state import Topology
from suanwang.energy.series import EnergySeries
from suanwang.grid.power import mean_kw, peak_kw
from suanwang.model import Job, Network
from suanwang.planning.aggregate import aggregate
from suanwang.planning.bound import trace_rates
from suanwang.planning.context import PolicyContext
from suanwang.planning.demand import job_windows
from suanwang.planning.grid_rows import grid_rows
from suanwang.planning.model import OPTIMAL, solve_slot_model
from suanwang.planning.objective import Objective
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import simulate
from suanwang.sim.result import REJECTED, SimResult
from tiny_support import build_series, exact_forecaster

LOCAL, WEST, MID = 0, 1, 2
PLANNERS = ["rolling", "optimal"]


def sim(net: Network, jobs: Sequence[Job], policy: str, power: PowerCalendar | None = None,
        series: EnergySeries | None = None) -> SimResult:
    """`grid_support.sim`, and `optimal` given the whole trace and the series."""
    if policy != "optimal":
        return sim_online(net, jobs, policy, power, series)
    s = series if series is not None else build_series(net, 72)
    return simulate(net, list(jobs), make_policy(policy, PolicyContext(net, list(jobs), s)),
                    s, exact_forecaster(net, s), power=power)


def _model(net: Network, cal: PowerCalendar, n_jobs: int = 24):
    topo = Topology(net)
    g = np.full(48, 0.1)
    g[:2] = 0.95  # west is greenest in hours 0-2: the free plan crowds it then
    series = build_series(net, 48, green={"west": g})
    jobs = steady(n_jobs, every_s=300.0, slack_h=6.0)
    classes = aggregate(job_windows(topo, jobs, late_end_s=48 * H))
    n = max(classes.last_slot, 1)
    *_, per_unit_h = trace_rates(topo, series, Objective.carbon(), n)
    free = solve_slot_model(topo, classes, per_unit_h)
    rows = grid_rows(topo, cal, 0, n, per_unit_h, reserve=False)
    assert rows is not None
    held = solve_slot_model(topo, classes, per_unit_h, grid=rows)
    assert free.status == OPTIMAL and held.status == OPTIMAL
    return topo, free, held


def _site_kwh(topo: Topology, flow_unit_h: np.ndarray, site: int) -> np.ndarray:
    kw = np.asarray(topo.slice_kw_facility)
    mine = np.asarray(topo.slice_site) == site
    return (flow_unit_h[mine] * kw[mine, None]).sum(axis=0)


def test_a_ceiling_holds_the_plan_and_prices_the_capped_hours(tiny_net: Network) -> None:
    # west is the greenest site: unbounded, the plan runs there at once; a 2.4 kW cap (2
    # units) in hours 0-2 holds the plan under it and prices west's slices in those hours
    cal = PowerCalendar([Ceiling(WEST, 0.0, 2 * H, 2.4, True, "cap-west")])
    topo, free, held = _model(tiny_net, cal)
    assert _site_kwh(topo, free.flow_unit_h, WEST)[:2].max() > 2.4 + 1e-6
    assert (_site_kwh(topo, held.flow_unit_h, WEST)[:2] <= 2.4 + 1e-6).all()
    west = np.asarray(topo.slice_site) == WEST
    assert (held.price_per_unit_h[west, :2] >= free.price_per_unit_h[west, :2] - 1e-9).all()
    assert held.price_per_unit_h[west, :2].sum() > free.price_per_unit_h[west, :2].sum() + 1e-6
    assert held.objective > free.objective


def test_a_fill_draws_the_plan_into_its_window_at_a_negative_price(tiny_net: Network) -> None:
    # a fill at mid in hours 3-5 (3.9 kW: 3 units): the plan puts the level there
    cal = PowerCalendar(fills=[FillLevel(MID, 3 * H, 5 * H, 3.9, "fill-mid")])
    topo, free, held = _model(tiny_net, cal)
    assert _site_kwh(topo, free.flow_unit_h, MID)[3:5].sum() < 0.5 * 2 * 3.9
    assert _site_kwh(topo, held.flow_unit_h, MID)[3:5].sum() >= 2 * 3.9 - 1e-6
    mid = np.asarray(topo.slice_site) == MID
    assert (held.price_per_unit_h[mid, 3:5] < 0).any()


@pytest.mark.parametrize("policy", PLANNERS)
def test_planners_never_exceed_a_hard_cap(tiny_net: Network, policy: str) -> None:
    jobs = sorted(steady(48, every_s=300.0) + realtime(6, 2.5 * H), key=lambda j: j.submit_s)
    green_local = build_series(tiny_net, 72, green={"local": 0.95, "west": 0.1, "mid": 0.1})
    cap = PowerCalendar([Ceiling(LOCAL, 2 * H, 4 * H, 3.0, True, "cap-local")])
    free_run = sim(tiny_net, jobs, policy, series=green_local)
    capped = sim(tiny_net, jobs, policy, cap, series=green_local)
    assert peak_kw(free_run, LOCAL, 2 * H, 4 * H) > 3.0
    assert peak_kw(capped, LOCAL, 2 * H, 4 * H) <= 3.0 + 1e-9
    assert capped.latency_violations() == 0
    assert capped.summary()["deadline_misses"] == 0


@pytest.mark.parametrize("policy", PLANNERS)
def test_planners_never_refuse_realtime_for_a_shed(tiny_net: Network, policy: str) -> None:
    jobs = realtime(8, 0.25 * H)  # only local is within 5 ms
    shed = PowerCalendar([Ceiling(LOCAL, 0.0, 4 * H, 0.0, False, "shed-local")])
    r = sim(tiny_net, jobs, policy, shed)
    assert r.status.count(REJECTED) == 0
    assert (r.site == LOCAL).all()


def test_rolling_steers_realtime_off_a_ceilinged_site(tiny_net: Network) -> None:
    # real-time jobs within 15 ms of east may run at local (1 ms) or mid (10 ms); local is
    # the greenest here, so rolling runs them there, until a shed at local steers them to mid
    green_local = build_series(tiny_net, 72, green={"local": 0.95, "west": 0.1, "mid": 0.1})
    jobs = realtime(8, 0.25 * H, bound_ms=15.0)
    shed = PowerCalendar([Ceiling(LOCAL, 0.0, 4 * H, 1.5, False, "shed-local")])
    free_run = sim(tiny_net, jobs, "rolling", series=green_local)
    r = sim(tiny_net, jobs, "rolling", shed, series=green_local)
    assert (free_run.site == LOCAL).all()
    assert (r.site == MID).all() and r.status.count(REJECTED) == 0
    assert not any("yields" in r.reasons[i] for i in range(len(jobs)))


def test_rolling_fills_by_its_plan(tiny_net: Network) -> None:
    # rolling waits for west's green hours (10-20); a 6 kW fill at west in hours 4-6 enters
    # its plan: it plans deferred work to start there in the window, by its own reasons
    g = np.full(72, 0.1)
    g[10:20] = 0.95
    series = build_series(tiny_net, 72, green={"west": g, "mid": 0.1})
    jobs = steady(30, slack_h=20.0)
    fill = PowerCalendar(fills=[FillLevel(WEST, 4 * H, 6 * H, 6.0, "fill-west")])
    free_run = sim(tiny_net, jobs, "rolling", series=series)
    r = sim(tiny_net, jobs, "rolling", fill, series=series)
    in_window = (r.site == WEST) & (r.start_s >= 4 * H) & (r.start_s < 6 * H)
    assert not ((free_run.site == WEST) & (free_run.start_s >= 4 * H)
                & (free_run.start_s < 6 * H)).any()
    planned = [i for i in np.flatnonzero(in_window) if r.reasons[i].startswith("rolling:")]
    assert planned
    edges = np.arange(4 * H, 6 * H + 1, 900.0)
    assert mean_kw(r, WEST, edges).mean() >= 0.95 * 6.0
    assert r.summary()["deadline_misses"] == 0
