"""The tight bound over grid classes (`planning/tight_classes.py`): class bound <= per-job
tight bound <= every feasible plan; equal when every job is its own class; the shared-duration
pricing gives the same minima as the per-class one (plus what the tails cost).

Per busy intelligent unit-hour on the tiny network's file values (tests/planning/plan_support):
local 1080 g, west 84 g (green share 0.9 of a 840 g grid), mid 325 g.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from plan_support import H, feasible_plan, random_jobs, random_series, run_policy

from suanwang.core.state import Topology
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.choose import PriceBook
from suanwang.planning.demand import job_windows
from suanwang.planning.objective import Objective
from suanwang.planning.rates import trace_rates
from suanwang.planning.tight_bound import (
    LAGRANGIAN_CLASSES,
    TIGHT,
    TIGHT_CLASSES,
    _price,
    _price_shared,
    tight_lower_bound,
)
from suanwang.planning.tight_classes import ClassGrid, grid_classes

JobMaker = Callable[..., Job]
SeriesMaker = Callable[..., EnergySeries]
OWN_CLASS = ClassGrid(window_s=1e-3, duration_ratio=1.0)  # every distinct job alone
GREEDY = ["nearest", "cheapest", "greenest", "green-window"]


@pytest.mark.parametrize("seed", range(3))
def test_class_bound_below_the_tight_bound_below_any_feasible_plan(
        seed: int, tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=30)
    series = random_series(make_series, tiny_net, seed)
    exact = tight_lower_bound(tiny_net, jobs, series, class_grid="exact")
    assert exact.method == TIGHT
    for grid in (ClassGrid(), ClassGrid(window_s=2 * H, duration_ratio=1.5)):  # default, coarse
        cls = tight_lower_bound(tiny_net, jobs, series, class_grid=grid)
        assert cls.method == TIGHT_CLASSES and "class grid" in cls.note
        assert cls.value <= exact.value * (1 + 1e-7) + 1e-9
        assert cls.value > 0
    checked = 0
    for name in GREEDY:
        r = run_policy(tiny_net, jobs, name, series)
        if not feasible_plan(r):
            continue
        checked += 1
        assert exact.value <= r.carbon_kg.sum() * (1 + 1e-7) + 1e-9, name
    assert checked >= 2


@pytest.mark.parametrize("seed", range(3))
def test_every_job_its_own_class_is_the_per_job_bound(seed: int, tiny_net: Network,
                                                       make_series: SeriesMaker) -> None:
    jobs = random_jobs(seed, n=30)
    series = random_series(make_series, tiny_net, seed)
    for objective in (Objective.carbon(), Objective.cost()):
        exact = tight_lower_bound(tiny_net, jobs, series, objective, class_grid="exact")
        own = tight_lower_bound(tiny_net, jobs, series, objective, class_grid=OWN_CLASS)
        assert own.n_classes == exact.n_classes == 30
        assert own.value == pytest.approx(exact.value, rel=1e-7)


def test_jobs_differing_only_in_units_merge_without_loss(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # 12 units for an hour, within a minute of arrival; west (10 units, 84 g) is cheapest
    jobs = [make_job(f"j{u}", units=u, duration_s=H, deadline_s=H + 60.0) for u in (3, 4, 5)]
    series = make_series(tiny_net, 24)
    exact = tight_lower_bound(tiny_net, jobs, series, class_grid="exact")
    cls = tight_lower_bound(tiny_net, jobs, series, class_grid=ClassGrid())
    assert exact.n_classes == 3 and cls.n_classes == 1
    assert cls.value == pytest.approx(exact.value, rel=1e-9)
    # west cannot take all 12 units at once: dearer than 12 unit-hours there
    assert cls.value > 12 * 0.084 + 1e-6


def test_a_bucket_runs_its_shortest_job_and_counts_the_tails(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # 2.2 h and 2.4 h in one bucket of ratio 1.25 ([1.25^40, 1.25^41) s): the class runs
    # 2.2 h, and the extra 0.2 h costs at least the cheapest unit-hour anywhere (84 g at
    # west): here it is exact
    jobs = [make_job("a", duration_s=2.2 * H, deadline_s=30 * H),
            make_job("b", duration_s=2.4 * H, deadline_s=30 * H)]
    series = make_series(tiny_net, 48)
    grid = ClassGrid(window_s=H, duration_ratio=1.25)
    classes = grid_classes(job_windows(Topology(tiny_net), jobs), grid)
    assert len(classes) == 1 and classes.duration_s.tolist() == [2.2 * H]
    assert classes.tail_unit_s.tolist() == [pytest.approx(0.2 * H)]
    exact = tight_lower_bound(tiny_net, jobs, series, class_grid="exact")
    cls = tight_lower_bound(tiny_net, jobs, series, class_grid=grid)
    assert exact.value == pytest.approx(4.6 * 0.084, rel=1e-9)
    assert cls.value == pytest.approx(exact.value, rel=1e-9)


def test_a_class_lagrangian_cut_short_is_still_below_the_per_job_bound(
        tiny_net: Network, make_series: SeriesMaker, make_job: JobMaker) -> None:
    # west fully green (0 g) in hours 6 and 9 only: a whole run of 2.2 or 2.4 h covers one
    # green hour, the rest at 84 g (exact: 1.2 + 1.4 h); the class runs 2.2 h and its tail
    # may fall in the other green hour, so at least 2 x 1.2 h; the aggregated bound is 0
    green = [0.9] * 48
    green[6] = green[9] = 1.0
    series = make_series(tiny_net, 48, green={"west": green})
    jobs = [make_job("a", duration_s=2.2 * H, deadline_s=24 * H),
            make_job("b", duration_s=2.4 * H, deadline_s=24 * H)]
    grid = ClassGrid(window_s=H, duration_ratio=1.25)
    exact = tight_lower_bound(tiny_net, jobs, series, class_grid="exact")
    assert exact.value == pytest.approx(2.6 * 0.084, rel=1e-9)
    lag = tight_lower_bound(tiny_net, jobs, series, class_grid=grid, time_limit_s=1e-9)
    assert lag.method == LAGRANGIAN_CLASSES and "class grid" in lag.note
    assert 2.4 * 0.084 * (1 - 1e-9) <= lag.value <= exact.value * (1 + 1e-9)


@pytest.mark.parametrize("slot_s", [H, 300.0])
def test_shared_pricing_matches_per_class_pricing(slot_s: float, tiny_net: Network,
                                                  make_series: SeriesMaker) -> None:
    topo = Topology(tiny_net)
    jobs = random_jobs(1, n=40)
    series = random_series(make_series, tiny_net, 1)
    windows = job_windows(topo, jobs, late_end_s=72 * H)
    n_hours = 40
    intensity, price, bill, _ = trace_rates(topo, series, Objective.carbon(), n_hours)
    book = PriceBook.of(topo, Objective.carbon(), 0, intensity, price, bill)
    rng = np.random.default_rng(0)
    shape = (len(topo.slices), n_hours * round(H / slot_s))
    lam = rng.uniform(0, 0.5, shape) * (rng.uniform(size=shape) < 0.3)
    # without tails (exact durations) the same minima; with tails the shared pricing adds
    # what they cost at least
    for grid in (ClassGrid(duration_ratio=1.0), ClassGrid()):
        classes = grid_classes(windows, grid)
        a = _price(classes, book, lam, slot_s, None, 2)
        b = _price_shared(classes, book, lam, slot_s, None, 2)
        assert b.n_options == a.n_options
        if grid.duration_ratio == 1:
            assert not classes.tail_unit_s.any()
            assert b.lagrangian_sum == pytest.approx(a.lagrangian_sum, rel=1e-9)
        else:
            assert classes.tail_unit_s.any()
            assert b.lagrangian_sum >= a.lagrangian_sum * (1 - 1e-9)


def test_grid_classes_are_deterministic(tiny_net: Network, make_series: SeriesMaker) -> None:
    jobs = random_jobs(4, n=30)
    series = random_series(make_series, tiny_net, 4)
    a, b = (tight_lower_bound(tiny_net, jobs, series, Objective.cost(), class_grid=ClassGrid())
            for _ in range(2))
    assert (a.value, a.carbon_kg, a.n_classes, a.n_vars, a.method) == \
        (b.value, b.carbon_kg, b.n_classes, b.n_vars, b.method)


def test_auto_keeps_the_per_job_bound_where_it_fits(tiny_net: Network,
                                                    make_series: SeriesMaker) -> None:
    jobs = random_jobs(2, n=20)
    series = random_series(make_series, tiny_net, 2)
    auto = tight_lower_bound(tiny_net, jobs, series)
    exact = tight_lower_bound(tiny_net, jobs, series, class_grid="exact")
    assert auto.method == TIGHT and auto.value == exact.value


def test_bad_grids_are_refused(tiny_net: Network, make_series: SeriesMaker) -> None:
    with pytest.raises(ValueError, match="window_s"):
        ClassGrid(window_s=0.0)
    with pytest.raises(ValueError, match="duration_ratio"):
        ClassGrid(duration_ratio=0.5)
    with pytest.raises(ValueError, match="class_grid"):
        tight_lower_bound(tiny_net, [], make_series(tiny_net), class_grid="coarse")
