"""A power calendar adopted while the scheduler runs (`Scheduler.set_power`: a grid event
notified in the live service) holds like one given from the start, and the projection of the
known work (`core.projection`) leaves the scheduler as it was. Tiny network: from `east`,
`local` is 1 ms away; an intelligent unit there draws 1.5 kW facility power."""

from __future__ import annotations

from typing import Any

import pytest

from suanwang.core.power_ceiling import Ceiling, PowerCalendar
from suanwang.core.projection import project
from suanwang.core.scheduler import NullListener, Scheduler
from suanwang.core.state import Topology
from suanwang.model import Job, Network, Placement
from suanwang.policies.registry import make_policy

LOCAL = 0
H = 3600.0
ONLINE = ["nearest", "greenest", "cheapest", "green-window", "rolling"]


def steady(make_job: Any, n: int, every_s: float) -> list[Job]:
    """Deferrable one-hour intelligent jobs from `east`, one every `every_s`, 8 h slack."""
    return [make_job(f"d{i}", duration_s=H, submit_s=i * every_s,
                     deadline_s=i * every_s + 8 * H) for i in range(n)]


def realtime(make_job: Any, n: int, start_s: float) -> list[Job]:
    """Real-time half-hour jobs from `east` that only `local` (1 ms) can serve."""
    return [make_job(f"r{i}", duration_s=H / 2, submit_s=start_s + i * 300.0,
                     rtt_bound_ms=5.0) for i in range(n)]


class Runs(NullListener):
    def __init__(self) -> None:
        self.runs: dict[str, tuple[int, float, float, float]] = {}  # site, kW, start, end

    def placed(self, placement: Placement, pool: int) -> None:
        self.sched: Scheduler
        topo = self.sched.topology
        j = placement.job
        self.runs[j.job_id] = (topo.pool_site[pool], j.units * topo.pool_kw_facility[pool],
                               placement.start_s, placement.end_s)

    def peak_kw(self, site: int, t0: float, t1: float) -> float:
        runs = [r for r in self.runs.values() if r[0] == site]
        times = [t0] + [r[2] for r in runs if t0 < r[2] < t1]
        return max(sum(kw for _, kw, a, b in runs if a <= t < b) for t in times)


def drive(net: Network, jobs: list[Job], policy: str,
          at: list[tuple[float, PowerCalendar | None]], forecaster: Any) -> Runs:
    rec = Runs()
    sched = Scheduler(Topology(net), forecaster, make_policy(policy), rec)
    rec.sched = sched
    todo = sorted(at, key=lambda x: x[0])
    for j in jobs:
        while todo and todo[0][0] <= j.submit_s:
            t, cal = todo.pop(0)
            sched.advance(t)
            sched.set_power(cal, t)
        sched.advance(j.submit_s)
        sched.submit(j, j.submit_s)
    sched.advance(20 * H)
    return rec


CAP = PowerCalendar([Ceiling(LOCAL, 2 * H, 4 * H, 3.0, True, "cap-local")])


@pytest.mark.parametrize("policy", ONLINE)
def test_a_cap_notified_at_run_time_is_never_exceeded(
        tiny_net: Network, policy: str, make_job: Any, make_series: Any,
        make_forecaster: Any) -> None:
    jobs = sorted(steady(make_job, 48, 300.0) + realtime(make_job, 6, 2.5 * H),
                  key=lambda j: j.submit_s)
    fc = make_forecaster(tiny_net, make_series(tiny_net, 72))
    free = drive(tiny_net, jobs, policy, [], fc)
    notified = drive(tiny_net, jobs, policy, [(1 * H, CAP)], fc)  # an hour before the window
    assert free.peak_kw(LOCAL, 2 * H, 4 * H) > 3.0
    assert notified.peak_kw(LOCAL, 2 * H, 4 * H) <= 3.0 + 1e-9


@pytest.mark.parametrize("policy", ["nearest", "green-window"])
def test_a_cap_cancelled_before_its_window_changes_nothing_after(
        tiny_net: Network, policy: str, make_job: Any, make_series: Any,
        make_forecaster: Any) -> None:
    jobs = steady(make_job, 48, 300.0)
    fc = make_forecaster(tiny_net, make_series(tiny_net, 72))
    free = drive(tiny_net, jobs, policy, [], fc)
    lifted = drive(tiny_net, jobs, policy, [(0.5 * H, CAP), (1.0 * H, None)], fc)
    assert lifted.peak_kw(LOCAL, 2 * H, 4 * H) == free.peak_kw(LOCAL, 2 * H, 4 * H)
    if policy == "nearest":
        assert lifted.peak_kw(LOCAL, 2 * H, 4 * H) > 3.0


def test_the_projection_leaves_the_scheduler_as_it_was(
        tiny_net: Network, make_job: Any, make_series: Any, make_forecaster: Any) -> None:
    fc = make_forecaster(tiny_net, make_series(tiny_net, 72))
    sched = Scheduler(Topology(tiny_net), fc, make_policy("greenest"))
    sched.set_power(CAP, 0.0)
    for k in range(12):
        sched.submit(make_job(f"j{k}", units=4, duration_s=H, deadline_s=20 * H), 0.0)
    before = (list(sched.state.free_units), sorted(sched.running), sorted(sched.deferred),
              [j.job_id for j in sched.waiting()], sched.now_s)
    proj = project(sched, 10 * H, [make_job("new", units=2, deadline_s=20 * H)])
    after = (list(sched.state.free_units), sorted(sched.running), sorted(sched.deferred),
             [j.job_id for j in sched.waiting()], sched.now_s)
    assert before == after
    assert {p.job.job_id for p in proj} == {f"j{k}" for k in range(12)} | {"new"}
    assert all(p.site >= 0 for p in proj)  # within 10 h everything has run
    # the projection honours the calendar it copied: nothing above 3 kW at local in [2 h, 4 h)
    runs = Runs()
    runs.runs = {p.job.job_id: (p.site, p.job.units * sched.topology.pool_kw_facility[p.pool],
                                p.start_s, p.end_s) for p in proj}
    assert runs.peak_kw(LOCAL, 2 * H, 4 * H) <= 3.0 + 1e-9
