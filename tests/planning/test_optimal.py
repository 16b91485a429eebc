"""`optimal` on hand-built cases whose optimum is worked out by hand, through the simulator.

West is fully green (0 g/kWh) in hours 6 and 7 only; otherwise the tiny network's file values
hold: per busy intelligent unit-hour local 1080 g, west 84 g, mid 325 g. West holds 10
intelligent units, mid 6, local 8.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from plan_support import H, random_jobs, random_series, run_policy

from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.bound import lower_bound
from suanwang.planning.choose import PriceBook
from suanwang.planning.context import PolicyContext
from suanwang.planning.milp import solve_milp
from suanwang.planning.objective import Objective
from suanwang.policies.optimal import OptimalPolicy
from suanwang.policies.registry import make_policy
from suanwang.sim.engine import simulate
from suanwang.sim.result import SimResult
from suanwang.sim.runner import run

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
ForecasterMaker = Callable[[Network, EnergySeries], Forecaster]


@pytest.fixture
def west_green_6_7(tiny_net: Network, make_series: SeriesMaker) -> EnergySeries:
    return make_series(tiny_net, 48, green={"west": [0.9] * 6 + [1.0] * 2 + [0.9] * 40})


def starts(r: SimResult, jobs: list[Job]) -> dict[str, tuple[str, float]]:
    ids = r.topology.site_ids
    return {j.job_id: (ids[r.site[i]], float(r.start_s[i])) for i, j in enumerate(jobs)}


Where = dict[str, tuple[str, float, float]]  # job id -> site, earliest and latest start


# (case, jobs, known optimum kg CO2, where and when each job runs)
def cases(job: JobMaker) -> list[tuple[str, list[Job], float, Where]]:
    return [
        ("waits for the green hours", [job("a", deadline_s=24 * H)], 0.0,
         {"a": ("west", 6 * H, 7 * H)}),
        ("two 8-unit jobs share the two green hours",
         [job("a", units=8, deadline_s=24 * H), job("b", units=8, deadline_s=24 * H)], 0.0,
         {"a": ("west", 6 * H, 7 * H), "b": ("west", 6 * H, 7 * H)}),
        # the third 8-unit job finds west's green hours full: 8 x 84 g elsewhere in west
        ("a third runs at 84 g",
         [job(f"j{i}", units=8, deadline_s=24 * H) for i in range(3)], 8 * 0.084, {}),
        # b's deadline only allows hour 6; a, flexible, must leave it and take hour 7
        ("the tighter deadline gets the green hour first",
         [job("a", units=8, deadline_s=24 * H), job("b", units=8, deadline_s=7 * H)], 0.0,
         {"a": ("west", 7 * H, 7 * H), "b": ("west", 6 * H, 6 * H)}),
        # real-time jobs cannot wait: mid (325 g) is the best within 15 ms, 3 x 2 h x 325 g
        ("real-time runs on arrival", [job("rt", units=3, duration_s=2 * H,
                                           rtt_bound_ms=15.0)], 3 * 2 * 0.325,
         {"rt": ("mid", 0.0, 0.0)}),
        # a 6-unit real-time job holds mid 0-1 h; a 1-unit real-time job then goes local
        ("real-time jobs share capacity",
         [job("big", units=6, rtt_bound_ms=15.0), job("small", rtt_bound_ms=15.0)],
         6 * 0.325 + 1.08, {"big": ("mid", 0.0, 0.0), "small": ("local", 0.0, 0.0)}),
    ]


CASE_NAMES = ["waits for the green hours", "two 8-unit jobs share the two green hours",
              "a third runs at 84 g", "the tighter deadline gets the green hour first",
              "real-time runs on arrival", "real-time jobs share capacity"]


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("milp", [True, False], ids=["milp", "priced-greedy"])
def test_optimal_finds_the_known_optimum(name: str, milp: bool, tiny_net: Network,
                                         west_green_6_7: EnergySeries, make_job: JobMaker,
                                         make_forecaster: ForecasterMaker) -> None:
    (jobs, optimum, where), = [c[1:] for c in cases(make_job) if c[0] == name]
    policy = OptimalPolicy(PolicyContext(tiny_net, jobs, west_green_6_7),
                           milp_max_options=10_000 if milp else 0)
    r = simulate(tiny_net, jobs, policy, west_green_6_7,
                 make_forecaster(tiny_net, west_green_6_7))
    assert policy.method == ("milp" if milp else "priced greedy")
    assert r.carbon_kg.sum() == pytest.approx(optimum, abs=1e-9)
    assert all(s == "done" for s in r.status)
    got = starts(r, jobs)
    for job_id, (site, lo, hi) in where.items():
        assert got[job_id][0] == site
        assert lo - 1e-6 <= got[job_id][1] <= hi + 1e-6
    # the bound is never above the optimum, and the MILP agrees with it
    assert lower_bound(tiny_net, jobs, west_green_6_7).value <= optimum + 1e-9
    book = PriceBook.of_trace(Topology(tiny_net), Objective.carbon(), west_green_6_7, 48)
    exact = solve_milp(Topology(tiny_net), jobs, book)
    assert exact.status == "optimal"
    assert exact.objective == pytest.approx(optimum, abs=1e-9)


def test_optimal_minimises_cost_when_asked(tiny_net: Network, make_series: SeriesMaker,
                                           make_job: JobMaker,
                                           make_forecaster: ForecasterMaker) -> None:
    # west is cheapest all day except hours 3-4, when local's tariff drops to 0.1:
    # 1.5 kW x 0.1 = 0.15 yuan < west's 0.36
    series = make_series(tiny_net, 48, price={"local": [0.6] * 3 + [0.1] + [0.6] * 44})
    jobs = [make_job("a", deadline_s=24 * H)]
    policy = OptimalPolicy(PolicyContext(tiny_net, jobs, series), Objective.cost())
    r = simulate(tiny_net, jobs, policy, series, make_forecaster(tiny_net, series))
    assert starts(r, jobs)["a"] == ("local", 3 * H)
    assert r.cost_yuan.sum() == pytest.approx(0.15)


@pytest.mark.parametrize("seed", range(3))
def test_optimal_keeps_every_constraint_on_random_cases(seed: int, tiny_net: Network,
                                                        make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=40)
    series = random_series(make_series, tiny_net, seed)
    r = run_policy(tiny_net, jobs, "optimal", series)
    assert r.latency_violations() == 0
    assert all(s == "done" for s in r.status)
    rt = np.array([j.rtt_bound_ms is not None for j in jobs])
    submit = np.array([j.submit_s for j in jobs])
    assert np.array_equal(r.placed_s[rt], submit[rt])  # real-time jobs never wait
    # and it is at least as green as the greedy policies on the same trace
    for other in ("greenest", "green-window"):
        assert r.carbon_kg.sum() <= run_policy(tiny_net, jobs, other, series).carbon_kg.sum()


def test_optimal_needs_the_whole_trace() -> None:
    with pytest.raises(ValueError, match="whole trace"):
        make_policy("optimal")


def test_the_runner_hands_optimal_its_context(tiny_net: Network, make_series: SeriesMaker,
                                              make_job: JobMaker) -> None:
    jobs = [make_job("a", deadline_s=24 * H), make_job("b", submit_s=60.0, rtt_bound_ms=30.0)]
    r = run(tiny_net, jobs, "optimal", series=make_series(tiny_net), forecast_error=0.0)
    assert r.policy_name == "optimal"
    assert list(r.status) == ["done", "done"]
