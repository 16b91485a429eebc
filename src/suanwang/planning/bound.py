"""The lower bound: the slot model's LP optimum on the whole trace and the actual series.

No plan that serves every job within its latency bound and deadline, real-time jobs on
arrival, and never over capacity, has a smaller objective (the argument is in `aggregate`).
Jobs no pool can ever serve are left out (every policy rejects them too). A job that cannot
meet its deadline anywhere is counted with its deadline dropped, and reported. If even the
relaxation cannot meet every deadline (demand beyond capacity), the bound is recomputed with
all deadlines dropped (`deadlines_relaxed`): still a bound on every plan that runs all the
work, late or not, by the end of the series (past its last hour the last value holds).

The model plans over provider slices (`rates`): each slice's capacity is its provider's
quota, so the bound knows that a cheap provider's small quota cannot take all the work. The
tenant's asks that only restrict a plan further (preferences, price caps, per-tenant caps)
are left out: they can only raise the best plan, never lower it below the bound. When the
objective weighs the tenants' bill, each job's egress counts at its cheapest feasible slice
(a constant: no plan pays less).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.state import Topology
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job, Network
from suanwang.planning.aggregate import aggregate
from suanwang.planning.demand import Infeasible, Windows, job_windows
from suanwang.planning.model import OPTIMAL, SlotSolution, solve_slot_model
from suanwang.planning.objective import Objective
from suanwang.planning.power_caps import hourly_cap_kwh
from suanwang.planning.rates import egress_objective_per_gb, trace_rates
from suanwang.planning.rates import series_rates as series_rates  # re-exported


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
    bill_yuan: float = float("nan")  # tenants' bill of the LP's optimal solution


def solution_charges(topo: Topology, sol: SlotSolution, intensity: np.ndarray,
                     price: np.ndarray) -> tuple[float, float]:
    """(carbon kg, cost yuan) of a slot solution's planned unit-hours."""
    kwh = sol.flow_unit_h * np.asarray(topo.slice_kw_facility)[:, None]
    site = np.asarray(topo.slice_site)
    return (float((kwh * intensity[site]).sum()) / 1000.0, float((kwh * price[site]).sum()))


def min_egress(windows: Windows, per_gb: np.ndarray) -> float:
    """Sum over the jobs of `windows` of their input data x the least of `per_gb` (per slice)
    over the slices where their window is open."""
    total = 0.0
    for g in windows.groups:
        if not g.data_gb.any():
            continue
        least = np.where(g.ok, per_gb[g.pools][None, :], np.inf).min(axis=1)
        total += float(g.data_gb @ np.where(np.isfinite(least), least, 0.0))
    return total




def lower_bound(network: Network | Topology, jobs: Sequence[Job], series: EnergySeries,
                objective: Objective | None = None, rt_wait_s: float = 0.0,
                bucket_h: int = 1, power: PowerCalendar | None = None) -> Bound:
    """The bound on `jobs` (see the module docstring); `bucket_h` coarsens the classes of
    waiting jobs (a smaller model, a looser but still valid bound); with `power`, the hard
    site caps of its grid events are constraints (`power_caps`): the bound on plans that
    keep them."""
    return lower_bound_and_prices(network, jobs, series, objective, rt_wait_s, bucket_h,
                                  power)[0]


def lower_bound_and_prices(network: Network | Topology, jobs: Sequence[Job],
                           series: EnergySeries, objective: Objective | None = None,
                           rt_wait_s: float = 0.0, bucket_h: int = 1,
                           power: PowerCalendar | None = None,
                           windows: Windows | None = None) -> tuple[Bound, np.ndarray]:
    """`lower_bound`, with the capacity prices of its slot model (slices x slots); `windows`,
    if given, must be `job_windows` of the same jobs with the same `rt_wait_s` and late end
    (saves computing them again)."""
    objective = objective or Objective.carbon()
    topo = network if isinstance(network, Topology) else Topology(network)
    t0 = time.perf_counter()
    last_end = max((j.submit_s + j.duration_s for j in jobs), default=0.0)
    late_end_s = max(series.hours * HOUR_S, last_end + HOUR_S)
    if windows is None:
        windows = job_windows(topo, jobs, rt_wait_s=rt_wait_s, late_end_s=late_end_s)
    infeasible = tuple(windows.infeasible)
    relaxed = False
    while True:
        classes = aggregate(windows, bucket_h)
        n_slots = max(classes.last_slot, 1)
        intensity, price, bill, per_unit_h = trace_rates(topo, series, objective, n_slots)
        build_s = time.perf_counter() - t0
        sol = solve_slot_model(topo, classes, per_unit_h,
                               power_cap_kwh=hourly_cap_kwh(topo, power, 0, n_slots))
        if sol.status == OPTIMAL or relaxed:
            break
        relaxed = True
        t0 = time.perf_counter()
        windows = job_windows(topo, jobs, rt_wait_s=rt_wait_s, late_end_s=late_end_s,
                              drop_deadlines=True)
    if sol.status != OPTIMAL:
        raise RuntimeError(f"the slot model could not be solved: {sol.status}")
    carbon, cost = solution_charges(topo, sol, intensity, price)
    egress_yuan = min_egress(windows, np.asarray(topo.slice_egress, dtype=float))
    egress = (min_egress(windows, egress_objective_per_gb(topo, objective))
              if objective.uses_bill else 0.0)
    return Bound(objective=objective, value=sol.objective + egress, carbon_kg=carbon,
                 cost_yuan=cost, bill_yuan=float((sol.flow_unit_h * bill).sum()) + egress_yuan,
                 deadlines_relaxed=relaxed, infeasible=infeasible,
                 n_jobs=windows.n_jobs, n_classes=len(classes), n_vars=sol.n_vars,
                 n_rows=sol.n_rows, build_s=build_s, solve_s=sol.solve_s), sol.price_per_unit_h


def compare_bounds(network: Network | Topology, jobs: Sequence[Job],
                   series: EnergySeries,
                   power: PowerCalendar | None = None) -> tuple[Bound, Bound]:
    """The carbon bound and the cost bound of one demand on one actual series (two solves);
    with `power`, under its hard site caps."""
    topo = network if isinstance(network, Topology) else Topology(network)
    return (lower_bound(topo, jobs, series, Objective.carbon(), power=power),
            lower_bound(topo, jobs, series, Objective.cost(), power=power))
