"""`rolling` with its real-time reserve (issue 18 item 2): real-time demand expected as the
same as a day earlier, planned with the waiting work; still online, still within every
bound and deadline."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from plan_support import H, random_jobs, random_series
from test_rolling import Recording, before

from suanwang.core.state import SchedulerState
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.policies.rolling import RollingPolicy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]


def reserve_sim(net: Network, jobs: list[Job], series: EnergySeries, error: float = 0.0
                ) -> tuple[SimResult, Recording]:
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                            error_scale=error)
    policy = Recording(RollingPolicy(realtime_reserve=True, realtime_own_cost=True))
    return simulate(net, jobs, policy, series, forecaster), policy


def test_expected_real_time_work_is_the_last_days_a_day_later(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker,
        make_state: Callable[..., SchedulerState]) -> None:
    state = make_state(tiny_net, make_series(tiny_net, 96))
    policy = RollingPolicy(realtime_reserve=True)
    rt = make_job("r", rtt_bound_ms=30.0, submit_s=1 * H, units=2)
    batch = make_job("b", deadline_s=30 * H, submit_s=1 * H)
    policy.decide(state, [rt, batch], 1 * H)
    policy.decide(state, [rt], 1 * H + 60)  # a retry is not seen twice
    (phantom,) = policy._expected_realtime(2 * H, 96 * H)
    assert (phantom.job_id, phantom.submit_s, phantom.units) == ("~r", 25 * H, 2)
    assert phantom.rtt_bound_ms == 30.0 and phantom.origin == rt.origin
    assert policy._expected_realtime(2 * H, 20 * H) == []  # past the plan's end
    assert policy._expected_realtime(25 * H, 96 * H) == []  # its day is over: forgotten
    off = RollingPolicy()
    off.decide(make_state(tiny_net, make_series(tiny_net, 96)), [rt], 1 * H)
    assert off._expected_realtime(2 * H, 96 * H) == []


@pytest.mark.parametrize("seed", range(3))
def test_with_the_reserve_decisions_do_not_depend_on_later_jobs(
        seed: int, tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=60, span_h=30)
    series = random_series(make_series, tiny_net, seed)
    # after a day: yesterday's real-time work is planned for, and some of it forgotten
    cut = next(j.submit_s for j in jobs if j.submit_s > 25 * H)
    _, full = reserve_sim(tiny_net, jobs, series)
    _, prefix = reserve_sim(tiny_net, [j for j in jobs if j.submit_s < cut], series)
    assert before(full.log, cut) == before(prefix.log, cut)
    assert len(before(full.log, cut)) >= 45


@pytest.mark.parametrize("error", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_with_the_reserve_bounds_deadlines_and_capacity_hold(
        seed: int, error: float, tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=50, span_h=36)
    r, _ = reserve_sim(tiny_net, jobs, random_series(make_series, tiny_net, seed), error)
    assert r.latency_violations() == 0
    assert all(s == "done" for s in r.status)
    topo = r.topology
    for pool in range(len(topo.pools)):  # never more units busy than the pool has
        runs = [(r.start_s[i], r.end_s[i], jobs[i].units) for i in range(len(jobs))
                if r.pool[i] == pool]
        for t, _, _ in runs:
            busy = sum(u for a, b, u in runs if a <= t < b)
            assert busy <= topo.pool_capacity[pool]
