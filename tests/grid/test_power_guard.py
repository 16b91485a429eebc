"""The scheduler holds facility power under grid ceilings for every policy (tiny network)."""

from __future__ import annotations

from typing import Any

import pytest
from grid_support import ONLINE, H, realtime, sim, steady

from suanwang.core.power_ceiling import Ceiling, PowerCalendar
from suanwang.grid.power import peak_kw
from suanwang.model import Network
from suanwang.sim.result import REJECTED

LOCAL, WEST, MID = 0, 1, 2


# ---- caps are never exceeded -------------------------------------------------------------

@pytest.mark.parametrize("policy", ONLINE)
def test_hard_cap_never_exceeded(tiny_net: Network, policy: str) -> None:
    # without the cap, nearest-first demand piles up at local well above 3 kW (2 units)
    jobs = sorted(steady(48, every_s=300.0) + realtime(6, 2.5 * H), key=lambda j: j.submit_s)
    cap = PowerCalendar([Ceiling(LOCAL, 2 * H, 4 * H, 3.0, True, "cap-local")])
    free_run = sim(tiny_net, jobs, policy)
    capped = sim(tiny_net, jobs, policy, cap)
    assert peak_kw(free_run, LOCAL, 2 * H, 4 * H) > 3.0
    assert peak_kw(capped, LOCAL, 2 * H, 4 * H) <= 3.0 + 1e-9
    assert capped.latency_violations() == 0


@pytest.mark.parametrize("policy", ONLINE)
def test_job_placed_before_a_cap_does_not_run_into_it(tiny_net: Network, policy: str) -> None:
    # a cap of 0 kW at local from hour 1 to 3: hour-long jobs arriving at 0:30 must not start
    # there (they would still run at 1:00), whatever the policy
    jobs = steady(6, every_s=300.0, slack_h=10.0)
    cap = PowerCalendar([Ceiling(LOCAL, 1 * H, 3 * H, 0.0, True, "cap0")])
    r = sim(tiny_net, jobs, policy, cap)
    assert peak_kw(r, LOCAL, 1 * H, 3 * H) == 0.0
    assert r.summary()["deadline_misses"] == 0


# ---- sheds: deferrable work moves or waits; real time is never refused -------------------

def test_shed_moves_deferrable_work_elsewhere(tiny_net: Network) -> None:
    jobs = steady(24, every_s=300.0)
    shed = PowerCalendar([Ceiling(LOCAL, 0.5 * H, 2.5 * H, 1.5, False, "shed")])
    base = sim(tiny_net, jobs, "nearest")
    r = sim(tiny_net, jobs, "nearest", shed)
    assert peak_kw(base, LOCAL, 0.5 * H, 2.5 * H) > 1.5
    assert peak_kw(r, LOCAL, 0.5 * H, 2.5 * H) <= 1.5 + 1e-9
    assert (r.site == MID).sum() > (base.site == MID).sum()  # moved within no bound: mid
    assert r.summary()["deadline_misses"] == 0


def test_shed_defers_work_that_has_nowhere_else_within_its_deadline(
        tiny_net: Network, make_job: Any) -> None:
    # HPC runs only at west (2 nodes, 3.6 kW each): a 0 kW shed there makes HPC work wait
    from suanwang.model import Kind
    jobs = [make_job(f"h{i}", kind=Kind.HPC, duration_s=H, submit_s=i * 900.0,
                deadline_s=i * 900.0 + 12 * H) for i in range(6)]
    shed = PowerCalendar([Ceiling(WEST, 0.0, 3 * H, 0.0, False, "shed-west")])
    r = sim(tiny_net, jobs, "nearest", shed)
    assert peak_kw(r, WEST, 0.0, 3 * H) == 0.0
    assert (r.start_s >= 3 * H - 1e-9).all()
    assert r.summary()["deadline_misses"] == 0 and r.summary()["rejected"] == 0
    assert (r.deferrals > 0).all()


def test_shed_yields_to_a_deadline_that_cannot_wait(tiny_net: Network, make_job: Any) -> None:
    from suanwang.model import Kind
    tight = [make_job("h0", kind=Kind.HPC, duration_s=H, submit_s=0.0, deadline_s=1.5 * H)]
    shed = PowerCalendar([Ceiling(WEST, 0.0, 3 * H, 0.0, False, "shed-west")])
    r = sim(tiny_net, tight, "nearest", shed)
    assert r.start_s[0] == 0.0 and "deadline cannot wait" in r.reasons[0]


@pytest.mark.parametrize("policy", ONLINE)
def test_realtime_never_refused_for_a_shed(tiny_net: Network, policy: str) -> None:
    jobs = realtime(8, 0.25 * H)  # only local is within 5 ms
    shed = PowerCalendar([Ceiling(LOCAL, 0.0, 4 * H, 0.0, False, "shed-local")])
    r = sim(tiny_net, jobs, policy, shed)
    assert r.status.count(REJECTED) == 0
    assert (r.site == LOCAL).all()
    assert all("never refused for a shed" in r.reasons[i] for i in range(len(jobs)))


@pytest.mark.parametrize("policy", ONLINE)
def test_hard_cap_refusal_names_the_cap(tiny_net: Network, policy: str) -> None:
    jobs = realtime(4, 0.25 * H)
    cap = PowerCalendar([Ceiling(LOCAL, 0.0, 4 * H, 0.0, True, "cap-guian")])
    r = sim(tiny_net, jobs, policy, cap)
    assert r.status.count(REJECTED) == 4
    for i in range(4):
        why = r.reasons[i]
        assert "cap-guian" in why and "hard cap" in why and "0.0 kW" in why
        assert "within 5 ms of east" in why


def test_no_calendar_no_change(tiny_net: Network) -> None:
    jobs = steady(24, every_s=300.0)
    a, b = sim(tiny_net, jobs, "green-window"), sim(tiny_net, jobs, "green-window",
                                                    PowerCalendar())
    assert (a.site == b.site).all() and (a.start_s == b.start_s).all()
