"""`rolling`: online, on forecasts, never looking ahead at jobs or hours it cannot know yet."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
from plan_support import H, random_jobs, random_series, run_policy

from suanwang.core.policy import Decision, Policy
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.forecast import Forecaster, ForecastView
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.policies.rolling import RollingPolicy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
Entry = tuple[float, tuple[tuple[str, ...], ...]]


class Recording:
    """Wraps a policy and logs every decision: (now, sorted outcomes)."""

    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.name = inner.name
        self.log: list[Entry] = []

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        d = self.inner.decide(state, pending, now_s)
        self.log.append((now_s, tuple(sorted(
            [("place", p.job.job_id, p.site_id, repr(p.placed_s)) for p in d.placed]
            + [("defer", x.job.job_id, repr(x.until_s)) for x in d.deferred]
            + [("wait" if u.retry else "reject", u.job.job_id) for u in d.unplaced]))))
        return d


class SpyForecaster(Forecaster):
    """Records the time of every forecast asked for."""

    asked: list[float]

    def view(self, now_s: float) -> ForecastView:
        self.asked.append(now_s)
        return super().view(now_s)


def sim(net: Network, jobs: list[Job], series: EnergySeries, horizon_h: int = 96,
        error: float = 0.0) -> tuple[SimResult, list[Entry], list[float]]:
    forecaster = SpyForecaster(series, [s.grid_intensity_g_per_kwh for s in net.sites],
                               error_scale=error, horizon_h=horizon_h)
    forecaster.asked = []
    policy = Recording(RollingPolicy())
    return simulate(net, jobs, policy, series, forecaster), policy.log, forecaster.asked


def before(log: list[Entry], t_s: float) -> list[Entry]:
    return [e for e in log if e[0] < t_s]


# ---- what it does on a known forecast ---------------------------------------------------------


def test_waits_for_a_known_green_hour_and_runs_then(tiny_net: Network,
                                                    make_series: SeriesMaker,
                                                    make_job: JobMaker) -> None:
    # west turns fully green (0 g/kWh) at hour 6
    series = make_series(tiny_net, 48, green={"west": [0.9] * 6 + [1.0] * 42})
    r, log, _ = sim(tiny_net, [make_job("a", deadline_s=24 * H)], series)
    assert r.topology.site_ids[r.site[0]] == "west"
    assert r.start_s[0] == 6 * H
    assert r.carbon_kg[0] == 0.0
    assert log[0][1][0][0] == "defer"  # decided at once: wait


def test_real_time_jobs_run_on_arrival_where_cheapest(tiny_net: Network,
                                                      make_series: SeriesMaker,
                                                      make_job: JobMaker) -> None:
    jobs = [make_job("far", rtt_bound_ms=30.0, submit_s=100.0),
            make_job("near", rtt_bound_ms=15.0, submit_s=200.0)]
    r, _, _ = sim(tiny_net, jobs, make_series(tiny_net))
    assert [r.topology.site_ids[s] for s in r.site] == ["west", "mid"]
    assert r.placed_s.tolist() == [100.0, 200.0]


@pytest.mark.parametrize("error", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_keeps_bounds_and_deadlines_on_forecasts(seed: int, error: float, tiny_net: Network,
                                                 make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=40)
    r = run_policy(tiny_net, jobs, "rolling", random_series(make_series, tiny_net, seed),
                   forecast_error=error)
    assert r.latency_violations() == 0
    assert all(s == "done" for s in r.status)


# ---- no information from the future -----------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_decisions_do_not_depend_on_later_jobs(seed: int, tiny_net: Network,
                                               make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=60, span_h=16)
    series = random_series(make_series, tiny_net, seed)
    cut = jobs[30].submit_s
    _, full, _ = sim(tiny_net, jobs, series)
    _, prefix, _ = sim(tiny_net, [j for j in jobs if j.submit_s < cut], series)
    assert before(full, cut) == before(prefix, cut)
    assert len(before(full, cut)) >= 30


def test_decisions_do_not_depend_on_hours_past_the_forecast_horizon(
        tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(5, n=50, span_h=20)
    base = random_series(make_series, tiny_net, 5)
    # from hour 20 on, every site is fully green in one series and fully grey in the other
    late = 20

    def from_late(green: float) -> EnergySeries:
        return make_series(tiny_net, base.hours, green={
            s: np.concatenate([base.green_share[i, :late], np.full(base.hours - late, green)])
            for i, s in enumerate(base.site_ids)})

    other, grey = from_late(1.0), from_late(0.0)
    horizon = 6  # a decision at hour t sees hours t .. t+5
    _, log_a, asked = sim(tiny_net, jobs, other, horizon_h=horizon)
    _, log_b, _ = sim(tiny_net, jobs, grey, horizon_h=horizon)
    safe = (late - horizon + 1) * H  # decisions before hour 15 cannot see hour 20
    assert before(log_a, safe) == before(log_b, safe)
    assert len(before(log_a, safe)) >= 20
    assert log_a != log_b  # later decisions do see it
    # and it only ever asks for the forecast of the moment it decides at
    decided = {t for t, _ in log_a}
    assert set(asked) <= decided


def test_works_in_the_live_scheduler_after_a_restart(tiny_net: Network,
                                                     make_series: SeriesMaker,
                                                     make_job: JobMaker) -> None:
    """The service's path: a scheduler that re-adopts running work it did not place."""
    series = make_series(tiny_net, 48, green={"west": [0.9] * 6 + [1.0] * 42})
    forecaster = Forecaster(series, [s.grid_intensity_g_per_kwh for s in tiny_net.sites],
                            error_scale=0.0)
    sched = Scheduler(Topology(tiny_net), forecaster, RollingPolicy())
    sched.resume_running(make_job("old", units=9), "west", end_s=7 * H)  # west: 1 unit free
    sched.advance(0.0)
    sched.submit(make_job("a", units=2, deadline_s=24 * H), 0.0)
    sched.advance(6 * H)
    assert "a" in sched.deferred or "a" in sched.running
    sched.advance(48 * H)
    assert not sched.deferred and not sched.waiting()
