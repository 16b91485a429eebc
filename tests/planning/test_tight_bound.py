"""The tight (configuration-LP) bound: the known answer by hand, aggregated <= tight <= MILP
optimum <= every feasible plan, deterministic, and its fallback on a time limit.

Per busy intelligent unit-hour on the tiny network's file values (tests/planning/plan_support):
local 1080 g, west 84 g (green share 0.9 of a 840 g grid), mid 325 g.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_support import H, feasible_plan, random_jobs, random_series, run_policy
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.core.state import Topology
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.bound import lower_bound
from suanwang.planning.choose import PriceBook
from suanwang.planning.demand import job_windows
from suanwang.planning.milp import solve_milp
from suanwang.planning.objective import Objective
from suanwang.planning.tight_bound import (
    AGGREGATED,
    LAGRANGIAN,
    TIGHT,
    job_classes,
    tight_lower_bound,
)

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
POLICIES = ["nearest", "cheapest", "greenest", "green-window", "rolling", "optimal"]


@pytest.fixture
def west_green_6_and_9(tiny_net: Network, make_series: SeriesMaker) -> EnergySeries:
    """West fully green (0 g/kWh) in hours 6 and 9 only, 84 g otherwise."""
    green = [0.9] * 48
    green[6] = green[9] = 1.0
    return make_series(tiny_net, 48, green={"west": green})


def test_a_run_cannot_be_cut_into_pieces(tiny_net: Network, west_green_6_and_9: EnergySeries,
                                         make_job: JobMaker) -> None:
    # a 2-hour job may wait a day: the aggregated model computes hour 6 and hour 9 (0 g);
    # a whole 2-hour run covers at most one green hour, so the best is one hour at 84 g
    jobs = [make_job(duration_s=2 * H, deadline_s=24 * H)]
    agg = lower_bound(tiny_net, jobs, west_green_6_and_9)
    tight = tight_lower_bound(tiny_net, jobs, west_green_6_and_9)
    assert agg.value == pytest.approx(0.0, abs=1e-12)
    assert tight.method == TIGHT and "configuration LP" in tight.note
    assert tight.value == pytest.approx(0.084, rel=1e-9)
    assert tight.carbon_kg == pytest.approx(0.084, rel=1e-9)
    assert tight.cost_yuan == pytest.approx(2 * 0.36, rel=1e-9)  # two hours at 0.36 yuan
    assert agg.method == "aggregated"


def test_weighted_objective_counts_both(tiny_net: Network, west_green_6_and_9: EnergySeries,
                                        make_job: JobMaker) -> None:
    jobs = [make_job(duration_s=2 * H, deadline_s=24 * H)]
    b = tight_lower_bound(tiny_net, jobs, west_green_6_and_9, Objective.weighted(200.0))
    # west for two hours: 2 x 0.36 yuan + 0.2 yuan/kg x 0.084 kg
    assert b.value == pytest.approx(2 * 0.36 + 0.2 * 0.084, rel=1e-9)


def test_identical_jobs_form_one_class(tiny_net: Network, west_green_6_and_9: EnergySeries,
                                       make_job: JobMaker) -> None:
    jobs = [make_job(f"j{i}", units=4, duration_s=2 * H, deadline_s=24 * H) for i in range(5)]
    jobs.append(make_job("other", units=3, duration_s=2 * H, deadline_s=24 * H))
    classes = job_classes(job_windows(Topology(tiny_net), jobs))
    assert sorted(classes.count.tolist()) == [1.0, 5.0]
    b = tight_lower_bound(tiny_net, jobs, west_green_6_and_9)
    assert b.n_classes == 2 and b.n_jobs == 6
    # 46 unit-hours of work; west's green hours hold at most 10 + 10 unit-hours at 0 g, the
    # other 26 cost at least west's 84 g
    agg = lower_bound(tiny_net, jobs, west_green_6_and_9)
    assert b.value >= agg.value - 1e-9
    assert b.value >= 26 * 0.084 - 1e-9


def _milp_kg(net: Network, jobs: list[Job], series: EnergySeries) -> float:
    topo = Topology(net)
    book = PriceBook.of_trace(topo, Objective.carbon(), series, 240)
    plan = solve_milp(topo, jobs, book, time_limit_s=120.0)
    assert plan.status == "optimal"
    assert len(plan.plan) == len(jobs)
    return plan.objective


@pytest.mark.parametrize("seed", range(4))
def test_aggregated_tight_milp_and_plans_are_ordered(seed: int, tiny_net: Network,
                                                     make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed)
    series = random_series(make_series, tiny_net, seed)
    agg = lower_bound(tiny_net, jobs, series)
    tight = tight_lower_bound(tiny_net, jobs, series)
    assert tight.method == TIGHT
    assert agg.value <= tight.value * (1 + 1e-7) + 1e-9
    milp = _milp_kg(tiny_net, jobs, series)
    assert tight.value <= milp * (1 + 1e-7) + 1e-9
    # quarter-hour capacity rows refine the hourly ones: tighter, still below the optimum
    fine = tight_lower_bound(tiny_net, jobs, series, slot_s=900.0)
    assert fine.method == TIGHT
    assert tight.value <= fine.value * (1 + 1e-7) + 1e-9
    assert fine.value <= milp * (1 + 1e-7) + 1e-9
    checked = 0
    for name in POLICIES:
        r = run_policy(tiny_net, jobs, name, series)
        if not feasible_plan(r):
            continue
        checked += 1
        assert milp <= r.carbon_kg.sum() * (1 + 1e-7) + 1e-9, name
    assert checked >= 4


def test_deterministic(tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(5, n=30)
    series = random_series(make_series, tiny_net, 5)
    a = tight_lower_bound(tiny_net, jobs, series, Objective.cost())
    b = tight_lower_bound(tiny_net, jobs, series, Objective.cost())
    assert (a.value, a.carbon_kg, a.cost_yuan, a.n_vars, a.method) == \
        (b.value, b.carbon_kg, b.cost_yuan, b.n_vars, b.method)


def test_time_limit_falls_back_to_the_aggregated_bound_with_the_reason(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # nothing to gain over the aggregated bound: one job that starts on arrival
    jobs = [make_job()]
    series = make_series(tiny_net)
    b = tight_lower_bound(tiny_net, jobs, series, time_limit_s=1e-9)
    agg = lower_bound(tiny_net, jobs, series)
    assert b.method == AGGREGATED
    assert "time limit" in b.note and "aggregated bound is used" in b.note
    assert b.value == agg.value and b.n_classes == agg.n_classes


def test_time_limit_keeps_a_better_lagrangian_bound(
        tiny_net: Network, west_green_6_and_9: EnergySeries, make_job: JobMaker) -> None:
    jobs = [make_job(duration_s=2 * H, deadline_s=24 * H)]
    b = tight_lower_bound(tiny_net, jobs, west_green_6_and_9, time_limit_s=1e-9)
    assert b.method == LAGRANGIAN and "time limit" in b.note
    assert b.value == pytest.approx(0.084, rel=1e-9)  # no capacity binds: L(0) is the optimum
    assert math.isnan(b.carbon_kg) and math.isnan(b.cost_yuan)  # no plan computed


def test_demand_beyond_capacity_relaxes_deadlines(tiny_net: Network, make_series: SeriesMaker,
                                                  make_job: JobMaker) -> None:
    # 34 units at once for 10 h, all due in 10 h; 24 installed
    jobs = [make_job(f"j{i}", units=8 if i % 2 else 6, duration_s=10 * H, deadline_s=10 * H)
            for i in range(5)]
    jobs.append(make_job("hopeless", deadline_s=60.0))
    series = make_series(tiny_net, 96)
    b = tight_lower_bound(tiny_net, jobs, series)
    agg = lower_bound(tiny_net, jobs, series)
    assert b.deadlines_relaxed and agg.deadlines_relaxed
    assert b.value >= agg.value - 1e-9
    assert [i.job_id for i in b.infeasible] == ["hopeless"]


def test_bad_arguments_are_refused(tiny_net: Network, make_series: SeriesMaker) -> None:
    with pytest.raises(ValueError, match="time_limit_s"):
        tight_lower_bound(tiny_net, [], make_series(tiny_net), time_limit_s=0)
    with pytest.raises(ValueError, match="per_class"):
        tight_lower_bound(tiny_net, [], make_series(tiny_net), per_class=0)
    with pytest.raises(ValueError, match="slot_s must divide an hour"):
        tight_lower_bound(tiny_net, [], make_series(tiny_net), slot_s=700.0)


def test_compare_can_use_the_tight_bound(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "compare", "--jobs", "300", "--days", "0.5", "--seed", "3", "--policies",
        "nearest,rolling", "--forecast-error", "0", "--bound-kind", "tight", "--out",
        str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Bound used: carbon tight" in result.output
    rows = json.loads((tmp_path / "compare.json").read_text(encoding="utf-8"))
    assert rows[0]["bound_method"] == ["tight", "tight"]
    for r in rows:
        if r["deadline_misses"] == 0 and r["rejected"] == 0:
            assert r["carbon_to_bound"] >= 1 - 1e-9 and r["cost_to_bound"] >= 1 - 1e-9


def test_compare_refuses_an_unknown_bound_kind() -> None:
    result = CliRunner().invoke(app, ["compare", "--jobs", "50", "--days", "0.2",
                                      "--policies", "nearest", "--bound-kind", "exact"])
    assert result.exit_code == 2
    assert "--bound-kind 'exact'" in result.output
