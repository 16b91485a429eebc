"""The exact plan of a small trace: one binary per job, slice and start option (HiGHS MIP).

A "pool" here is a planning unit, a provider slice (`rates`), with its provider's quota as
capacity.

For each job the options are those of `choose.price_options` (its earliest start, its latest,
and every start or end on an hour boundary in between, in every feasible pool): among them is
an optimal start for any one job alone, since its objective is piecewise linear in its start
with breakpoints exactly there. Each job takes one option; deadlines and latency bounds decide
which options exist (a job that can meet its deadline nowhere may only start on arrival).
Capacity holds at every instant: a pool's load only rises when a job is placed, so it is
checked at every placement time any option of that pool could use.

    minimise    sum_o cost_o x_o
    subject to  sum_{o of job j} x_o = 1                                 every job
                sum_{o in pool p, placed_o <= t < end_o} units_o x_o <= capacity_p
                                                       every pool p and option time t in p
                x_o in {0, 1}

The plan is optimal over those options (a start between two of them can only help if another
job's end frees capacity there). Its size grows with jobs x pools x options, so it is meant
for small traces (tests, hand-built cases); `OptimalPolicy` uses it when the model is small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from suanwang.core.state import Topology
from suanwang.model import Job
from suanwang.planning.choose import Choice, PriceBook, price_options


@dataclass(frozen=True)
class MilpPlan:
    status: str  # "optimal", "time limit" (best found), "infeasible", or HiGHS's message
    objective: float  # objective units; nan without a plan
    plan: dict[str, Choice]
    n_vars: int
    n_rows: int
    solve_s: float


def option_count(topo: Topology, jobs: Sequence[Job], book: PriceBook) -> int:
    """How many binaries `solve_milp` would need."""
    opts = price_options(jobs, [topo.offers(j) for j in jobs], None, book, set())
    return sum(len(o.order) for o in opts if o is not None)


def solve_milp(topo: Topology, jobs: Sequence[Job], book: PriceBook,
               time_limit_s: float = 30.0) -> MilpPlan:
    """Plan `jobs` (each decided from its submission) exactly; jobs no pool can serve are
    left out. `book` prices options (objective, and capacity prices if any)."""
    feasible = [j for j in jobs if topo.offers(j)]
    opts = price_options(feasible, [topo.offers(j) for j in feasible], None, book, set())
    col_job, col_pool, col_placed, col_end, col_cost, col_units, col_ref = ([] for _ in range(7))
    for ji, (job, opt) in enumerate(zip(feasible, opts, strict=True)):
        if opt is None:
            continue
        m = opt.start_s.shape[1]
        order = opt.order
        rows = order // m
        if opt.timely.any():  # deadlines are constraints: late options only if nothing is timely
            order = order[opt.timely[rows]]
            rows = order // m
        for flat, r in zip(order.tolist(), rows.tolist(), strict=True):
            col_job.append(ji)
            col_pool.append(int(opt.pools[r]))
            col_placed.append(float(opt.placed_s.ravel()[flat]))
            col_end.append(float(opt.start_s.ravel()[flat]) + job.duration_s)
            col_cost.append(float(opt.cost.ravel()[flat]))
            col_units.append(float(job.units))
            col_ref.append((opt, flat))
    n = len(col_job)
    if n == 0:
        return MilpPlan("optimal", 0.0, {}, 0, 0, 0.0)
    job_idx = np.array(col_job)
    pool = np.array(col_pool)
    placed = np.array(col_placed)
    end = np.array(col_end)
    units = np.array(col_units)
    a_eq = sp.csr_array((np.ones(n), (job_idx, np.arange(n))), shape=(len(feasible), n))
    rows, cols, caps = [], [], []
    n_rows = 0
    for p in np.unique(pool).tolist():
        mine = np.flatnonzero(pool == p)
        instants = np.unique(placed[mine])
        lo = np.searchsorted(instants, placed[mine], side="left")
        hi = np.searchsorted(instants, end[mine] - 1e-6, side="right")
        counts = np.maximum(hi - lo, 0)
        rows.append(n_rows + np.repeat(lo, counts) + np.arange(int(counts.sum()))
                    - np.repeat(np.cumsum(counts) - counts, counts))
        cols.append(np.repeat(mine, counts))
        caps.append(np.full(len(instants), float(topo.slice_capacity[p])))
        n_rows += len(instants)
    row = np.concatenate(rows)
    col = np.concatenate(cols)
    a_cap = sp.csr_array((units[col], (row, col)), shape=(n_rows, n))
    t0 = time.perf_counter()
    res = milp(np.array(col_cost), integrality=np.ones(n),
               bounds=Bounds(np.zeros(n), np.ones(n)),
               constraints=[LinearConstraint(a_eq, 1.0, 1.0),
                            LinearConstraint(a_cap, -np.inf, np.concatenate(caps))],
               options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9})
    solve_s = time.perf_counter() - t0
    status = {0: "optimal", 1: "time limit", 2: "infeasible"}.get(res.status, str(res.message))
    if res.x is None:
        return MilpPlan(status, float("nan"), {}, n, len(feasible) + n_rows, solve_s)
    plan: dict[str, Choice] = {}
    for c in np.flatnonzero(res.x > 0.5).tolist():
        opt, flat = col_ref[c]
        r, k = divmod(flat, opt.start_s.shape[1])
        job = feasible[col_job[c]]
        plan[job.job_id] = Choice(opt.cands[r], float(opt.start_s[r, k]),
                                  float(opt.placed_s[r, k]), float(opt.cost[r, k]),
                                  now=k == 0, late=not bool(opt.timely[r]))
    return MilpPlan(status, float(res.fun), plan, n, len(feasible) + n_rows, solve_s)
