"""The scarcity source of posted prices (`market.posted`, source ``lp_dual``): the planner's
capacity prices over the work the scheduler knows, in yuan per unit-hour.

At a revision (every `posted.REVISION_S` of the run clock, in the market path, never in the
scheduler's tick) the scheduler is read once (`Demand.of`, under the caller's lock):

- the **work**: the jobs queued for capacity and the jobs deferred to a later start (their
  submit time, units, duration, deadline, bound and provider lists as submitted);
- the **room**: each slice's units less what its running jobs hold until their estimated end
  (`occupancy_unit_h`), the part of the current hour already gone taken out; a slice of a
  drained site or one whose backend is down (withheld) has none;
- the **forecast** issued for the current hour (`state.forecast(now)`: what the planner knows).

Then the slot model (`planning.model.solve_slot_model`, as the `rolling` policy solves it) is
solved over that work and room for the forecast's hours, with the objective of one busy
unit-hour = kW_facility x (price yuan/kWh + yuan_per_t_co2 x intensity g/kWh / 10^6)
(`Objective.weighted(yuan_per_t_co2)`: electricity cost plus carbon at a stated price), so
that its capacity duals are yuan per unit-hour: what one more unit-hour of that slice in that
hour would save the plan. A slice-hour nobody competes for has dual 0. If the work does not fit
by its deadlines, the deadlines are dropped to the horizon's end (as `rolling` does); if the
model still fails, every dual is 0 (the posted price falls back to its floor, a step at a time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import ForecastView
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.planning.choose import occupancy_unit_h
from suanwang.planning.model import OPTIMAL, solve_waiting
from suanwang.planning.objective import Objective
from suanwang.planning.rates import objective_per_unit_h


@dataclass(frozen=True)
class Demand:
    """What the scheduler knows at `now_s`, copied out so the model can be solved beside it."""

    topology: Topology
    now_s: float
    jobs: list[Job]  # queued and deferred
    running: list[tuple[int, float, int]]  # (slice, end_s, units) of running jobs
    closed_slices: frozenset[int]  # slices taking no new work (drained site, backend down)
    forecast: ForecastView

    @classmethod
    def of(cls, scheduler: Scheduler, now_s: float) -> Demand:
        topo = scheduler.topology
        state = scheduler.state
        jobs = scheduler.waiting() + [j for j, _ in scheduler.deferred.values()]
        running = [(r.slice, r.end_s, r.job.units) for r in scheduler.running.values()
                   if r.slice >= 0 and r.end_s > now_s]
        closed = {s for s in range(len(topo.slices))
                  if topo.slice_site[s] in state.drained or s in state.withheld}
        return cls(topo, now_s, jobs, running, frozenset(closed), state.forecast(now_s))


@dataclass(frozen=True)
class Duals:
    """Capacity prices per slice for absolute hours slot0 .. slot0 + n - 1 (yuan per
    unit-hour, >= 0), and how they were found."""

    slot0: int
    yuan_per_unit_h: np.ndarray  # (slices, n)
    status: str  # the model's status ("optimal", or why it failed: then all zero)
    relaxed: bool  # deadlines dropped to the horizon's end to make the work fit
    n_jobs: int
    solve_s: float  # wall seconds of building and solving

    def at(self, slice_: int, hour: int) -> float:
        k = hour - self.slot0
        if 0 <= k < self.yuan_per_unit_h.shape[1]:
            return float(self.yuan_per_unit_h[slice_, k])
        return 0.0


def available_unit_h(demand: Demand, slot0: int, n: int) -> np.ndarray:
    """Unit-hours per slice and hour slot0 .. slot0 + n - 1 free for the work from now on."""
    topo = demand.topology
    cap = np.asarray(topo.slice_capacity, dtype=float)
    run = demand.running
    occ = occupancy_unit_h(len(topo.slices), slot0, n,
                           np.array([r[0] for r in run], dtype=np.int64),
                           np.full(len(run), demand.now_s),
                           np.array([r[1] for r in run], dtype=float),
                           np.array([r[2] for r in run], dtype=float))
    free = cap[:, None] - occ
    if n:
        gone = min(max(demand.now_s / HOUR_S - slot0, 0.0), 1.0)  # of the current hour
        free[:, 0] -= cap * gone
    if demand.closed_slices:
        free[sorted(demand.closed_slices)] = 0.0
    return np.maximum(free, 0.0)


def capacity_duals(demand: Demand, yuan_per_t_co2: float) -> Duals:
    """The slot model's capacity prices over `demand` (see the module)."""
    t0 = time.perf_counter()
    topo = demand.topology
    view = demand.forecast
    slot0, n = view.issued_hour, view.horizon_h
    objective = Objective.weighted(yuan_per_t_co2)
    per_unit_h = objective_per_unit_h(topo, objective,
                                      np.asarray(view.intensity_g_per_kwh, dtype=float),
                                      np.asarray(view.price_yuan_per_kwh, dtype=float), None)
    zero = np.zeros((len(topo.slices), n))
    if not demand.jobs:
        return Duals(slot0, zero, OPTIMAL, False, 0, time.perf_counter() - t0)
    available = available_unit_h(demand, slot0, n)
    end_s = (slot0 + n) * HOUR_S
    sol, relaxed = solve_waiting(topo, demand.jobs, demand.now_s, end_s, per_unit_h, slot0,
                                 available)
    prices = np.array(sol.price_per_unit_h, dtype=float) if sol.status == OPTIMAL else zero
    return Duals(slot0, prices, sol.status, relaxed, len(demand.jobs),
                 time.perf_counter() - t0)


__all__ = ["Demand", "Duals", "available_unit_h", "capacity_duals"]
