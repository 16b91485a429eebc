"""The lower bound: the slot model's LP optimum on the whole trace and the actual series.

No plan that serves every job within its latency bound and deadline, real-time jobs on
arrival, and never over capacity, has a smaller objective (the argument is in `aggregate`).
Jobs no pool can ever serve are left out (every policy rejects them too). A job that cannot
meet its deadline anywhere is counted with its deadline dropped, and reported. If even the
relaxation cannot meet every deadline (demand beyond capacity), the bound is recomputed with
all deadlines dropped (`deadlines_relaxed`): still a bound on every plan that runs all the
work, late or not, by the end of the series (past its last hour the last value holds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.aggregate import aggregate
from suanwang.planning.demand import Infeasible, job_windows
from suanwang.planning.model import OPTIMAL, SlotSolution, solve_slot_model
from suanwang.planning.objective import Objective


@dataclass(frozen=True)
class Bound:
    objective: Objective
    value: float  # the bound, in objective units (kg CO2 or yuan)
    carbon_kg: float  # carbon of the LP's optimal solution
    cost_yuan: float  # cost of the LP's optimal solution
    deadlines_relaxed: bool  # no plan meets every deadline: bound over plans that may be late
    infeasible: tuple[Infeasible, ...]  # by job id, with the reason
    n_jobs: int  # jobs in the model
    n_classes: int
    n_vars: int
    n_rows: int
    build_s: float
    solve_s: float
    method: str = "aggregated"  # which bound: "aggregated", or `tight_bound`'s TIGHT, LAGRANGIAN
    note: str = ""  # why this bound (a tight bound's size, or why it fell back)


def series_rates(series: EnergySeries, n_slots: int, slot0: int = 0) -> tuple[np.ndarray, ...]:
    """(intensity g/kWh, price yuan/kWh) per site for absolute hours slot0 .. slot0+n-1; past
    the series' last hour its last value holds (as in accounting)."""
    idx = np.minimum(np.arange(slot0, slot0 + n_slots), series.hours - 1)
    return series.intensity_g_per_kwh[:, idx], series.price_yuan_per_kwh[:, idx]


def solution_charges(topo: Topology, sol: SlotSolution, intensity: np.ndarray,
                     price: np.ndarray) -> tuple[float, float]:
    """(carbon kg, cost yuan) of a slot solution's planned unit-hours."""
    kwh = sol.flow_unit_h * np.asarray(topo.pool_kw_facility)[:, None]
    site = np.asarray(topo.pool_site)
    return (float((kwh * intensity[site]).sum()) / 1000.0, float((kwh * price[site]).sum()))


def lower_bound(network: Network | Topology, jobs: Sequence[Job], series: EnergySeries,
                objective: Objective | None = None, rt_wait_s: float = 0.0,
                bucket_h: int = 1) -> Bound:
    """The bound on `jobs` (see the module docstring); `bucket_h` coarsens the classes of
    waiting jobs (a smaller model, a looser but still valid bound)."""
    return lower_bound_and_prices(network, jobs, series, objective, rt_wait_s, bucket_h)[0]


def lower_bound_and_prices(network: Network | Topology, jobs: Sequence[Job],
                           series: EnergySeries, objective: Objective | None = None,
                           rt_wait_s: float = 0.0,
                           bucket_h: int = 1) -> tuple[Bound, np.ndarray]:
    """`lower_bound`, with the capacity prices of its slot model (pools x slots)."""
    objective = objective or Objective.carbon()
    topo = network if isinstance(network, Topology) else Topology(network)
    t0 = time.perf_counter()
    last_end = max((j.submit_s + j.duration_s for j in jobs), default=0.0)
    late_end_s = max(series.hours * HOUR_S, last_end + HOUR_S)
    windows = job_windows(topo, jobs, rt_wait_s=rt_wait_s, late_end_s=late_end_s)
    infeasible = tuple(windows.infeasible)
    relaxed = False
    while True:
        classes = aggregate(windows, bucket_h)
        n_slots = max(classes.last_slot, 1)
        intensity, price = series_rates(series, n_slots)
        rate = objective.rate_per_kwh(intensity, price)
        build_s = time.perf_counter() - t0
        sol = solve_slot_model(topo, classes, rate)
        if sol.status == OPTIMAL or relaxed:
            break
        relaxed = True
        t0 = time.perf_counter()
        windows = job_windows(topo, jobs, rt_wait_s=rt_wait_s, late_end_s=late_end_s,
                              drop_deadlines=True)
    if sol.status != OPTIMAL:
        raise RuntimeError(f"the slot model could not be solved: {sol.status}")
    carbon, cost = solution_charges(topo, sol, intensity, price)
    return Bound(objective=objective, value=sol.objective, carbon_kg=carbon, cost_yuan=cost,
                 deadlines_relaxed=relaxed, infeasible=infeasible,
                 n_jobs=windows.n_jobs, n_classes=len(classes), n_vars=sol.n_vars,
                 n_rows=sol.n_rows, build_s=build_s, solve_s=sol.solve_s), sol.price_per_unit_h


def compare_bounds(network: Network | Topology, jobs: Sequence[Job],
                   series: EnergySeries) -> tuple[Bound, Bound]:
    """The carbon bound and the cost bound of one demand on one actual series (two solves)."""
    topo = network if isinstance(network, Topology) else Topology(network)
    return (lower_bound(topo, jobs, series, Objective.carbon()),
            lower_bound(topo, jobs, series, Objective.cost()))
