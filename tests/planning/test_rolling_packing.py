"""`rolling`'s packing options (issue 18 item 2): a deferrable start now must fit the bookings
over its whole run (`whole_job_now`), a start now takes the slice it fits most tightly
(`best_fit`, of its pool or of any pool priced alike: `best_fit_pools`), with the real-time
reserve; still online, within every bound, deadline and capacity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from plan_support import H, random_jobs, random_series
from test_rolling import Recording, before

from suanwang.core.state import SchedulerState
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.network.loader import parse_network
from suanwang.planning.choose import Choice, price_options
from suanwang.policies.rolling import RollingPolicy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
ALL: dict[str, Any] = {"realtime_reserve": True, "whole_job_now": True, "best_fit": True,
                       "best_fit_pools": True}


def packed_sim(net: Network, jobs: list[Job], series: EnergySeries, error: float = 0.0,
               **options: Any) -> tuple[SimResult, Recording]:
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                            error_scale=error)
    policy = Recording(RollingPolicy(**(options or ALL)))
    return simulate(net, jobs, policy, series, forecaster), policy


@pytest.mark.parametrize("seed", range(3))
def test_packing_decisions_do_not_depend_on_later_jobs(
        seed: int, tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=60, span_h=30)
    series = random_series(make_series, tiny_net, seed)
    cut = next(j.submit_s for j in jobs if j.submit_s > 25 * H)
    _, full = packed_sim(tiny_net, jobs, series)
    _, prefix = packed_sim(tiny_net, [j for j in jobs if j.submit_s < cut], series)
    assert before(full.log, cut) == before(prefix.log, cut)
    assert len(before(full.log, cut)) >= 45


@pytest.mark.parametrize("error", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_packing_keeps_bounds_deadlines_and_capacity(
        seed: int, error: float, tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=50, span_h=36)
    r, _ = packed_sim(tiny_net, jobs, random_series(make_series, tiny_net, seed), error)
    assert r.latency_violations() == 0
    assert all(s == "done" for s in r.status)
    topo = r.topology
    for pool in range(len(topo.pools)):
        runs = [(r.start_s[i], r.end_s[i], jobs[i].units) for i in range(len(jobs))
                if r.pool[i] == pool]
        for t, _, _ in runs:
            assert sum(u for a, b, u in runs if a <= t < b) <= topo.pool_capacity[pool]


def _ready(net: Network, make_state: Callable[..., SchedulerState], make_series: SeriesMaker,
           job: Job, **options: Any) -> tuple[RollingPolicy, SchedulerState, Any]:
    state = make_state(net, make_series(net, 96))
    policy = RollingPolicy(**options)
    policy.decide(state, [], 0.0)  # plans: the price book and the bookings
    assert policy._book is not None
    (opt,) = price_options([job], [state.topology.offers(job)], 0.0, policy._book,
                           state.drained, latest_end_s=policy._book.end_s)
    return policy, state, opt


def test_a_start_now_must_fit_the_bookings_over_its_whole_run(
        tiny_net: Network, make_state: Callable[..., SchedulerState],
        make_series: SeriesMaker, make_job: JobMaker) -> None:
    batch = make_job("b", units=2, duration_s=4 * H, deadline_s=40 * H)
    policy, state, opt = _ready(tiny_net, make_state, make_series, batch, whole_job_now=True)
    free = list(state.free_slice)
    booked = int(opt.pools[0])
    assert policy._bookings is not None
    # another job planned to take the whole slice from the run's third hour
    policy._bookings.add("later", booked, 2 * H, 6 * H, float(opt.caps[0]))
    out = policy._free_over_run(batch, opt, 0.0, free)
    assert out[booked] == 0 and free[booked] > 0
    assert all(out[p] == free[p] for p in range(len(free)) if p != booked)
    short = make_job("s", units=2, duration_s=1 * H, deadline_s=40 * H)  # ends before it
    (opt_short,) = price_options([short], [state.topology.offers(short)], 0.0, policy._book,
                                 state.drained, latest_end_s=policy._book.end_s)
    assert policy._free_over_run(short, opt_short, 0.0, free) == free


def test_best_fit_takes_the_twin_slice_it_fills_most(
        tiny_doc: dict[str, Any], provider_doc: Callable[..., dict[str, Any]],
        make_state: Callable[..., SchedulerState], make_series: SeriesMaker,
        make_job: JobMaker) -> None:
    net = parse_network(provider_doc(tiny_doc), "<two providers per pool>")
    batch = make_job("b", units=2, deadline_s=40 * H)
    policy, state, opt = _ready(net, make_state, make_series, batch, best_fit=True)
    topo = state.topology
    first = opt.cands[int(opt.order[0]) // opt.start_s.shape[1]]
    twin = next(c for c in opt.cands if c.pool == first.pool and c.slice != first.slice)
    free = list(state.free_slice)
    free[twin.slice] = 2  # room for the job and no more
    free[first.slice] = max(free[first.slice], 10)
    row = opt.cands.index(first)
    ch = Choice(first, float(opt.start_s[row, 0]), 0.0, float(opt.cost[row, 0]), True, False)
    got = policy._best_fit_now(batch, opt, ch, free)
    assert got.cand.slice == twin.slice and got.now
    free[twin.slice] = 1  # too small: the first choice stands
    assert policy._best_fit_now(batch, opt, ch, free) is ch
    assert topo.slice_pool[twin.slice] == topo.slice_pool[first.slice]
