"""`optimal`: the offline plan, with perfect knowledge of the whole trace and the actual series.

Before the first decision it plans every job of the trace on the actual series, over provider
slices (site, provider, pool: `suanwang.planning.rates`), each holding its provider's quota,
within the tenant's lists, price caps and preferences (`suanwang.planning.choose`). A small
trace (at most `milp_max_options` job-slice-start options, and no provider preferences: the
MILP minimises the objective alone) is planned exactly, by the MILP of
`suanwang.planning.milp` (each job in one pool from one start, capacity at every instant). A
larger one is planned from the slot model (`suanwang.planning.model`), which prices capacity in
every pool-hour: job by job (real-time jobs first, since they cannot move, then the longest
first: `plan_order`), each takes its cheapest option of objective plus capacity price with
room left in the plan. In the simulator it then follows the plan: a job planned later is
deferred to its planned time, a job due now is placed in its planned pool. The plan books
capacity at every instant, so it can be followed to the letter; should the pool lack the
units all the same (a drained site), the job is re-planned from now against the same prices
and the rest of the plan.

With grid events (`state.power` at its first decision) the slot model has their rows over
all the work (`planning.grid_rows`): the plan's capacity prices then carry the ceilings' and
fills' prices (the MILP, which does not know them, is not used then).

It needs the whole trace and the actual series: make it with
`make_policy("optimal", PolicyContext(network, jobs, series))`. Its objective's LP optimum is
the lower bound `suanwang compare` reports (`suanwang.planning.bound`); the plan's gap to it
is the price of running whole jobs on one site from one start, at every instant within
capacity.
"""

from __future__ import annotations

from collections.abc import Sequence

from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.planning.aggregate import aggregate
from suanwang.planning.bound import trace_rates
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
from suanwang.planning.grid_rows import grid_rows
from suanwang.planning.milp import option_count, solve_milp
from suanwang.planning.model import OPTIMAL, SlotSolution, solve_slot_model
from suanwang.planning.objective import Objective
from suanwang.planning.priced import PricedPolicy

REPAIRS = 2  # re-plans with the jobs that missed their deadline put first
PLAN_BATCH = 1024  # jobs whose options are held at once (each job's: slices x starts)


def _on_arrival(job: Job) -> bool:
    return not (job.rtt_bound_ms is None and job.deadline_s is not None)


def plan_order(jobs: Sequence[Job]) -> list[Job]:
    """The order in which the plan is made: jobs that cannot wait first (they have no choice
    of time), then the longest first (the hardest to fit into green hours; shorter ones fill
    the gaps they leave: 1.15 x the bound against 1.25 x by deadline on the normal week of
    `benchmarks/bench_planning.py`), then the largest, then by latest start."""
    return sorted(jobs, key=lambda j: (
        j.rtt_bound_ms is None and j.deadline_s is not None, -j.duration_s, -j.units,
        j.deadline_s - j.duration_s if j.deadline_s is not None else j.submit_s))


class _Plan:
    def __init__(self, book: PriceBook, bookings: Bookings) -> None:
        self.book = book
        self.bookings = bookings
        self.of: dict[str, Choice] = {}

    def keep(self, job: Job, ch: Choice) -> None:
        self.of[job.job_id] = ch
        self.bookings.add(job.job_id, ch.cand.slice, ch.placed_s, ch.start_s + job.duration_s,
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

    def plan(self, topo: Topology, power: PowerCalendar | None = None) -> dict[str, Choice]:
        """The plan (built on first use, around the grid events of `power`): job id ->
        planned slice and start."""
        return self._built(topo, power).of

    def _built(self, topo: Topology, power: PowerCalendar | None = None) -> _Plan:
        if self._plan is None:
            self._plan = self._build(topo, power)
        return self._plan

    def _build(self, topo: Topology, power: PowerCalendar | None = None) -> _Plan:
        jobs, series = self.context.jobs, self.context.series
        last_end = max((j.submit_s + j.duration_s for j in jobs), default=0.0)
        late_end_s = max(series.hours * HOUR_S, last_end + HOUR_S)
        windows = job_windows(topo, jobs, late_end_s=late_end_s)
        self.infeasible = list(windows.infeasible)
        classes = aggregate(windows)
        n = max(classes.last_slot, series.hours)
        intensity, price, bill, per_unit_h = trace_rates(topo, series, self.objective, n)
        # the grid events as rows over all the work (it plans real-time work too)
        grid = grid_rows(topo, power, 0, n, per_unit_h, reserve=False)
        sol = solve_slot_model(topo, classes, per_unit_h, grid=grid)
        if sol.status != OPTIMAL:  # demand beyond capacity: plan on deadline-free prices
            relaxed = job_windows(topo, jobs, late_end_s=late_end_s, drop_deadlines=True)
            sol = solve_slot_model(topo, aggregate(relaxed), per_unit_h, grid=grid)
        self.solution = sol
        pure = PriceBook.of(topo, self.objective, 0, intensity, price, bill)
        plan = _Plan(pure.with_prices(sol.price_per_unit_h if sol.status == OPTIMAL else None),
                     Bookings(len(topo.slices)))
        if (grid is None and len(jobs) <= self.milp_max_options // 10
                and not any(j.providers_prefer for j in jobs)
                and option_count(topo, jobs, pure) <= self.milp_max_options):
            exact = solve_milp(topo, jobs, pure, self.milp_time_limit_s)
            if len(exact.plan) == sum(1 for j in jobs if topo.offers(j)):
                for job in jobs:
                    if job.job_id in exact.plan:
                        plan.keep(job, exact.plan[job.job_id])
                self.method = "milp"
                return plan
        self.method = "priced greedy"
        ordered = [j for j in plan_order(jobs) if topo.offers(j)]
        best: tuple[int, _Plan] | None = None
        for _ in range(REPAIRS + 1):
            missed = self._pass(topo, plan, ordered)
            if best is None or len(missed) < best[0]:
                best = (len(missed), plan)
            if not missed:
                break
            # jobs left without a timely option go first next time (after real-time work)
            first = {j.job_id for j in missed}
            ordered = ([j for j in ordered if _on_arrival(j)] + missed
                       + [j for j in ordered if not _on_arrival(j) and j.job_id not in first])
            plan = _Plan(plan.book, Bookings(len(topo.slices)))
        return best[1] if best is not None else plan

    @staticmethod
    def _pass(topo: Topology, plan: _Plan, ordered: list[Job]) -> list[Job]:
        """Plan `ordered` in order; the jobs that could have met their deadline but found no
        room in time."""
        missed = []
        for lo in range(0, len(ordered), PLAN_BATCH):  # options of a batch at a time
            batch = ordered[lo:lo + PLAN_BATCH]
            opts = price_options(batch, [topo.offers(j) for j in batch], None, plan.book,
                                 set())
            for job, opt in zip(batch, opts, strict=True):
                ch = None if opt is None else pick(job, opt, job.submit_s, None, plan.bookings,
                                                    plan.book)
                if ch is not None:
                    plan.keep(job, ch)
                if opt is not None and opt.timely.any() and (ch is None or ch.late):
                    missed.append(job)
        return missed

    def choice(self, state: SchedulerState, job: Job, options: Options | None,
               free: list[int], now_s: float) -> Choice | None:
        plan = self._built(state.topology, state.power)
        ch = plan.of.get(job.job_id)
        if ch is not None:
            if ch.placed_s > now_s + 1e-6:
                return Choice(ch.cand, ch.start_s, ch.placed_s, ch.cost, now=False, late=False)
            c = ch.cand
            if free[c.slice] >= job.units and c.site not in state.drained:
                start = now_s + c.transfer_s(job.data_gb)
                late = (job.deadline_s is not None and job.rtt_bound_ms is None
                        and start + job.duration_s > job.deadline_s + 1e-6)
                return Choice(c, start, now_s, ch.cost, now=True, late=late)
        plan.bookings.remove(job.job_id)
        new = choose(job, state.topology.offers(job), now_s, plan.book, plan.bookings,
                     free, state.drained)
        if new is not None:
            plan.keep(job, new)
        return new

    def forget(self, job: Job) -> None:
        if self._plan is not None:
            self._plan.bookings.remove(job.job_id)
