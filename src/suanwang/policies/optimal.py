"""`optimal`: the offline plan, with perfect knowledge of the whole trace and the actual series.

Before the first decision it plans every job of the trace on the actual series. A small trace
(at most `milp_max_options` job-pool-start options) is planned exactly, by the MILP of
`suanwang.planning.milp` (each job in one pool from one start, capacity at every instant). A
larger one is planned from the slot model (`suanwang.planning.model`), which prices capacity in
every pool-hour: job by job (real-time jobs first, since they cannot move, then by latest
start), each takes its cheapest option of objective plus capacity price with room left in the
plan. In the simulator it then follows the plan: a job planned later is deferred to its
planned time, a job due now is placed in its planned pool. The plan books capacity at every
instant, so it can be followed to the letter; should the pool lack the units all the same (a
drained site), the job is re-planned from now against the same prices and the rest of the
plan.

It needs the whole trace and the actual series: make it with
`make_policy("optimal", PolicyContext(network, jobs, series))`. Its objective's LP optimum is
the lower bound `suanwang compare` reports (`suanwang.planning.bound`); the plan's gap to it
is the price of running whole jobs on one site from one start, at every instant within
capacity.
"""

from __future__ import annotations

from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.planning.aggregate import aggregate
from suanwang.planning.bound import series_rates
from suanwang.planning.choose import (
    Bookings,
    Choice,
    Options,
    PriceBook,
    choose,
    pick,
    price_options,
)
from suanwang.planning.context import PolicyContext
from suanwang.planning.demand import Infeasible, job_windows
from suanwang.planning.milp import option_count, solve_milp
from suanwang.planning.model import OPTIMAL, SlotSolution, solve_slot_model
from suanwang.planning.objective import Objective
from suanwang.planning.priced import PricedPolicy


class _Plan:
    def __init__(self, book: PriceBook, bookings: Bookings) -> None:
        self.book = book
        self.bookings = bookings
        self.of: dict[str, Choice] = {}

    def keep(self, job: Job, ch: Choice) -> None:
        self.of[job.job_id] = ch
        self.bookings.add(job.job_id, ch.cand.pool, ch.placed_s, ch.start_s + job.duration_s,
                          job.units)


class OptimalPolicy(PricedPolicy):
    name = "optimal"

    def __init__(self, context: PolicyContext, objective: Objective | None = None,
                 milp_max_options: int = 4000, milp_time_limit_s: float = 20.0) -> None:
        self.context = context
        self.objective = objective or Objective.carbon()
        self.milp_max_options = milp_max_options
        self.milp_time_limit_s = milp_time_limit_s
        self.method = ""  # "milp" or "priced greedy", once planned
        self.solution: SlotSolution | None = None
        self.infeasible: list[Infeasible] = []
        self._plan: _Plan | None = None

    def plan(self, topo: Topology) -> dict[str, Choice]:
        """The plan (built on first use): job id -> planned pool and start."""
        return self._built(topo).of

    def _built(self, topo: Topology) -> _Plan:
        if self._plan is None:
            self._plan = self._build(topo)
        return self._plan

    def _build(self, topo: Topology) -> _Plan:
        jobs, series = self.context.jobs, self.context.series
        last_end = max((j.submit_s + j.duration_s for j in jobs), default=0.0)
        late_end_s = max(series.hours * HOUR_S, last_end + HOUR_S)
        windows = job_windows(topo, jobs, late_end_s=late_end_s)
        self.infeasible = list(windows.infeasible)
        classes = aggregate(windows)
        n = max(classes.last_slot, series.hours)
        intensity, price = series_rates(series, n)
        rate = self.objective.rate_per_kwh(intensity, price)
        sol = solve_slot_model(topo, classes, rate)
        if sol.status != OPTIMAL:  # demand beyond capacity: plan on deadline-free prices
            relaxed = job_windows(topo, jobs, late_end_s=late_end_s, drop_deadlines=True)
            sol = solve_slot_model(topo, aggregate(relaxed), rate)
        self.solution = sol
        plan = _Plan(PriceBook.build(0, rate, topo.pool_site, topo.pool_kw_facility,
                                     sol.price_per_unit_h if sol.status == OPTIMAL else None),
                     Bookings(len(topo.pools)))
        pure = PriceBook.build(0, rate, topo.pool_site, topo.pool_kw_facility)
        if (len(jobs) <= self.milp_max_options // 10
                and option_count(topo, jobs, pure) <= self.milp_max_options):
            exact = solve_milp(topo, jobs, pure, self.milp_time_limit_s)
            if len(exact.plan) == sum(1 for j in jobs if topo.candidates(j)):
                for job in jobs:
                    if job.job_id in exact.plan:
                        plan.keep(job, exact.plan[job.job_id])
                self.method = "milp"
                return plan
        self.method = "priced greedy"
        ordered = [j for j in self.order(jobs, 0.0) if topo.candidates(j)]
        cands = [topo.candidates(j) for j in ordered]
        for lo in range(0, len(ordered), 4096):
            batch = ordered[lo:lo + 4096]
            for job, opt in zip(batch, price_options(batch, cands[lo:lo + 4096], None,
                                                     plan.book, set()), strict=True):
                ch = (None if opt is None
                      else pick(job, opt, job.submit_s, None, plan.bookings, plan.book))
                if ch is not None:
                    plan.keep(job, ch)
        return plan

    def choice(self, state: SchedulerState, job: Job, options: Options | None,
               free: list[int], now_s: float) -> Choice | None:
        plan = self._built(state.topology)
        ch = plan.of.get(job.job_id)
        if ch is not None:
            if ch.placed_s > now_s + 1e-6:
                return Choice(ch.cand, ch.start_s, ch.placed_s, ch.cost, now=False, late=False)
            c = ch.cand
            if free[c.pool] >= job.units and c.site not in state.drained:
                start = now_s + c.transfer_s(job.data_gb)
                late = (job.deadline_s is not None and job.rtt_bound_ms is None
                        and start + job.duration_s > job.deadline_s + 1e-6)
                return Choice(c, start, now_s, ch.cost, now=True, late=late)
        plan.bookings.remove(job.job_id)
        new = choose(job, state.topology.candidates(job), now_s, plan.book, plan.bookings,
                     free, state.drained)
        if new is not None:
            plan.keep(job, new)
        return new

    def forget(self, job: Job) -> None:
        if self._plan is not None:
            self._plan.bookings.remove(job.job_id)
