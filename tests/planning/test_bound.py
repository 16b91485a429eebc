"""The LP lower bound: the known optimum on hand-built cases, never above a feasible plan,
valid under aggregation, and infeasible inputs reported by job id with the reason.

Per busy intelligent unit-hour on the tiny network's file values (tests/planning/conftest.py):
local 1080 g / 0.9 yuan, west 84 g / 0.36 yuan, mid 325 g / 0.585 yuan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from plan_support import (
    H,
    feasible_plan,
    random_jobs,
    random_series,
    run_policy,
)

from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Kind, Network
from suanwang.planning.bound import lower_bound
from suanwang.planning.objective import Objective

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
ALL = ["nearest", "cheapest", "greenest", "green-window", "rolling", "optimal"]


# ---- one job: the bound is its best placement ------------------------------------------------

# (job fields, objective, expected bound in objective units)
ONE_JOB: list[tuple[str, dict[str, Any], Objective, float]] = [
    ("starts on arrival: west", {}, Objective.carbon(), 0.084),
    ("real-time, west out of reach: mid", {"rtt_bound_ms": 15.0}, Objective.carbon(), 0.325),
    ("only local within 5 ms", {"rtt_bound_ms": 5.0}, Objective.carbon(), 1.08),
    ("5 units for 2 h at mid", {"units": 5, "duration_s": 2 * H, "rtt_bound_ms": 15.0},
     Objective.carbon(), 5 * 2 * 0.325),
    ("cost: west", {}, Objective.cost(), 0.36),
    ("cost, 15 ms: mid", {"rtt_bound_ms": 15.0}, Objective.cost(), 0.585),
    # 200 yuan/t = 0.2 yuan/kg: west 0.36 + 0.2 x 0.084
    ("weighted: west", {}, Objective.weighted(200.0), 0.36 + 0.2 * 0.084),
    ("general units: 0.01 kW each", {"kind": Kind.GENERAL, "units": 30}, Objective.carbon(),
     30 * 0.01 * 1.2 * 70 / 1000),
]


@pytest.mark.parametrize(("fields", "objective", "expected"), [c[1:] for c in ONE_JOB],
                         ids=[c[0] for c in ONE_JOB])
def test_one_job_bound_is_its_best_placement(fields: dict[str, Any], objective: Objective,
                                             expected: float, tiny_net: Network,
                                             make_series: SeriesMaker,
                                             make_job: JobMaker) -> None:
    b = lower_bound(tiny_net, [make_job(**fields)], make_series(tiny_net), objective)
    assert b.value == pytest.approx(expected, rel=1e-9)
    assert not b.infeasible and not b.deadlines_relaxed


@pytest.fixture
def west_green_6_7(tiny_net: Network, make_series: SeriesMaker) -> EnergySeries:
    """West fully green (0 g/kWh) in hours 6 and 7 only; file values otherwise."""
    return make_series(tiny_net, 48, green={"west": [0.9] * 6 + [1.0] * 2 + [0.9] * 40})


def test_a_job_that_may_wait_is_bounded_by_its_greenest_window(
        tiny_net: Network, west_green_6_7: EnergySeries, make_job: JobMaker) -> None:
    assert lower_bound(tiny_net, [make_job(deadline_s=24 * H)], west_green_6_7).value == 0.0
    # deadline 6 h: hour 6 is out of reach, the job runs at west's 84 g
    assert lower_bound(tiny_net, [make_job(deadline_s=6 * H)],
                       west_green_6_7).value == pytest.approx(0.084)
    # half an hour inside the green window: half the carbon
    assert lower_bound(tiny_net, [make_job(deadline_s=5.5 * H + H)],
                       west_green_6_7).value == pytest.approx(0.042)


def test_capacity_is_shared(tiny_net: Network, west_green_6_7: EnergySeries,
                            make_job: JobMaker) -> None:
    # west holds 10 units: two 8-unit hour-long jobs fill hours 6 and 7; a third can use the
    # 2 + 2 units left there only in pieces (the relaxation allows it), the rest at 84 g
    jobs = [make_job(f"j{i}", units=8, deadline_s=24 * H) for i in range(3)]
    b = lower_bound(tiny_net, jobs, west_green_6_7)
    assert b.value == pytest.approx(4 * 0.084)
    assert b.n_jobs == 3


# ---- never above a feasible plan -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_bound_is_never_above_any_feasible_plan(seed: int, tiny_net: Network,
                                                make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed)
    series = random_series(make_series, tiny_net, seed)
    carbon = lower_bound(tiny_net, jobs, series, Objective.carbon())
    cost = lower_bound(tiny_net, jobs, series, Objective.cost())
    checked = 0
    for name in ALL:
        r = run_policy(tiny_net, jobs, name, series)
        if not feasible_plan(r):
            continue
        checked += 1
        assert carbon.value <= r.carbon_kg.sum() * (1 + 1e-9) + 1e-9, name
        assert cost.value <= r.cost_yuan.sum() * (1 + 1e-9) + 1e-9, name
    assert checked >= 4  # these traces are light: most policies serve every job in time


def test_coarser_classes_only_lower_the_bound(tiny_net: Network,
                                              make_series: SeriesMaker) -> None:
    jobs = random_jobs(7, n=40, span_h=20)
    series = random_series(make_series, tiny_net, 7)
    fine = lower_bound(tiny_net, jobs, series)
    coarse = lower_bound(tiny_net, jobs, series, bucket_h=6)
    assert coarse.n_classes < fine.n_classes
    assert coarse.value <= fine.value * (1 + 1e-9)


# ---- infeasible inputs ------------------------------------------------------------------------


def test_infeasible_jobs_are_reported_by_id_with_the_reason(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    jobs = [make_job("ok"), make_job("too-big", units=11),
            make_job("too-far", rtt_bound_ms=0.5),
            make_job("too-late", deadline_s=1800.0),  # an hour of work due in 30 min
            make_job("data-too-slow", data_gb=100_000.0, deadline_s=2 * H)]
    b = lower_bound(tiny_net, jobs, make_series(tiny_net))
    why = {i.job_id: i for i in b.infeasible}
    assert set(why) == {"too-big", "too-far", "too-late", "data-too-slow"}
    assert "needs 11 intelligent units" in why["too-big"].reason
    assert "round-trip bound 0.5 ms" in why["too-far"].reason
    assert "deadline 1800 s" in why["too-late"].reason
    assert why["too-late"].late_only and not why["too-big"].late_only
    # jobs that can run, late, still count (with their deadline dropped); the others cannot
    assert b.n_jobs == 3
    assert b.value >= 3 * 0.084 - 1e-9


def test_demand_beyond_capacity_relaxes_deadlines_instead_of_failing(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # 5 jobs of 6 or 8 units for 10 h, all due in 10 h: 34 units at once, 24 installed
    jobs = [make_job(f"j{i}", units=8 if i % 2 else 6, duration_s=10 * H, deadline_s=10 * H)
            for i in range(5)]
    jobs.append(make_job("hopeless", deadline_s=60.0))
    b = lower_bound(tiny_net, jobs, make_series(tiny_net, 96))
    assert b.deadlines_relaxed
    assert b.value > 0
    assert [i.job_id for i in b.infeasible] == ["hopeless"]  # still reported
