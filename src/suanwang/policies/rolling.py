"""`rolling`: online rolling-horizon planning on the forecast, committing only what starts now.

Every `interval_s` (15 min by default) it re-plans: it solves the slot model
(`suanwang.planning.model`) over the jobs it knows that may still wait (submitted, not yet
started) on the forecast it has now, with each pool's capacity less what its running jobs
still hold; the model's capacity prices then price every option of every job (pool and start,
`suanwang.planning.choose`). A job whose best option starts now is placed (if the pool has the
units now); the others are deferred to their planned start or to the next re-plan, whichever
comes first, so that each is decided again on newer forecasts and alongside newer jobs.
(`revise_s`, default one hour: the forecast is issued hourly, and between issues a waiting
job's options change only through the prices, which the jobs woken at their planned start and
the new arrivals see at once.)
Real-time jobs are placed on arrival in the pool that is cheapest with its capacity price.
Jobs arriving between re-plans are decided against the latest prices.

It never looks ahead: it knows a job only once the scheduler has handed it over, and it reads
energy only through the forecast view of the current hour (`state.forecast(now)`), whose
horizon bounds every plan; its own placements tell it when capacity frees.

Robust to forecast error by design: every forecast hour is priced at its forecast intensity
plus `risk_aversion` times its expected error (which grows with lead time), so a far-off green
hour must be clearly greener to be waited for; and only what starts now is committed, so a
plan made on an old forecast is revised before it is acted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from suanwang.core.policy import Decision
from suanwang.core.state import Candidate, SchedulerState
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.planning.aggregate import aggregate
from suanwang.planning.choose import (
    Bookings,
    Choice,
    Options,
    PriceBook,
    occupancy_unit_h,
    pick,
    price_options,
)
from suanwang.planning.demand import job_windows
from suanwang.planning.model import OPTIMAL, solve_slot_model
from suanwang.planning.objective import Objective
from suanwang.planning.priced import PricedPolicy


def _may_wait(job: Job) -> bool:
    return job.deadline_s is not None and job.rtt_bound_ms is None


class RollingPolicy(PricedPolicy):
    name = "rolling"

    def __init__(self, interval_s: float = 900.0, revise_s: float = HOUR_S,
                 objective: Objective | None = None, risk_aversion: float = 1.0) -> None:
        if not (interval_s > 0 and revise_s > 0):
            raise ValueError(f"interval_s and revise_s must be > 0, got {interval_s}, "
                             f"{revise_s}")
        self.interval_s = interval_s
        self.revise_s = revise_s
        self.objective = objective or Objective.carbon()
        self.risk_aversion = risk_aversion
        self._known: dict[str, Job] = {}  # submitted, not yet started
        self._running: dict[str, tuple[int, float, int]] = {}  # job id -> pool, end, units
        self._next_replan_s = -math.inf
        self._book: PriceBook | None = None
        self._bookings: Bookings | None = None
        self.replans = 0
        self.last_solution_status = ""

    # ---- re-planning -------------------------------------------------------------------

    def _replan(self, state: SchedulerState, now_s: float) -> None:
        topo = state.topology
        view = state.forecast(now_s)
        slot0, n = view.issued_hour, view.horizon_h
        end_s = (slot0 + n) * HOUR_S
        n_pools = len(topo.pools)
        cap = np.asarray(topo.pool_capacity, dtype=float)
        self._running = {k: v for k, v in self._running.items() if v[1] > now_s}
        run = list(self._running.values())
        pools = np.array([r[0] for r in run], dtype=np.int64)
        units = np.array([r[2] for r in run], dtype=float)
        occ = occupancy_unit_h(n_pools, slot0, n, pools, np.full(len(run), now_s),
                               np.array([r[1] for r in run]), units)
        elapsed = now_s / HOUR_S - slot0  # share of the current slot already gone
        occ[:, 0] += cap * elapsed
        # units busy now that this policy did not place (e.g. adopted on a restart): assume
        # they stay busy over the whole horizon
        tracked = np.bincount(pools, weights=units, minlength=n_pools)
        unknown = np.maximum(cap - np.asarray(state.free_units, dtype=float) - tracked, 0.0)
        occ += unknown[:, None]
        occ[:, 0] -= unknown * elapsed

        intensity = (np.asarray(view.intensity_g_per_kwh)
                     + self.risk_aversion * np.asarray(view.intensity_sd_g_per_kwh))
        rate = self.objective.rate_per_kwh(intensity, np.asarray(view.price_yuan_per_kwh))
        jobs = [j for j in self._known.values() if _may_wait(j)]
        windows = job_windows(topo, jobs, now_s=now_s, late_end_s=end_s, horizon_end_s=end_s)
        available = np.maximum(cap[:, None] - occ, 0.0)
        sol = solve_slot_model(topo, aggregate(windows), rate, slot0, available)
        if sol.status != OPTIMAL:  # more work than capacity by the deadlines
            relaxed = job_windows(topo, jobs, now_s=now_s, late_end_s=end_s,
                                  horizon_end_s=end_s, drop_deadlines=True)
            sol = solve_slot_model(topo, aggregate(relaxed), rate, slot0, available)
        self.last_solution_status = sol.status
        self._book = PriceBook.build(slot0, rate, topo.pool_site, topo.pool_kw_facility,
                                     sol.price_per_unit_h if sol.status == OPTIMAL else None)
        if self._bookings is None or len(self._bookings.booked) != n_pools:
            self._bookings = Bookings(n_pools)
        self._next_replan_s = (math.floor(now_s / self.interval_s) + 1) * self.interval_s
        self.replans += 1

    # ---- the Policy interface ----------------------------------------------------------

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        for j in pending:
            self._known[j.job_id] = j
        if self._book is None or now_s >= self._next_replan_s:
            self._replan(state, now_s)
        return super().decide(state, pending, now_s)

    def prepare(self, state: SchedulerState, jobs: list[Job], cands: list[list[Candidate]],
                now_s: float) -> list[Options | None]:
        book = self._book
        if book is None:  # decide() re-plans first
            raise RuntimeError("rolling: no plan")
        return price_options(jobs, cands, now_s, book, state.drained, latest_end_s=book.end_s)

    def choice(self, state: SchedulerState, job: Job, options: Options | None,
               free: list[int], now_s: float) -> Choice | None:
        if self._bookings is None or options is None:
            return None
        self._bookings.remove(job.job_id)
        return pick(job, options, now_s, free, self._bookings, self._book)

    def defer_until(self, job: Job, choice: Choice, now_s: float) -> float:
        return min(choice.placed_s, (math.floor(now_s / self.revise_s) + 1) * self.revise_s)

    def placed(self, job: Job, choice: Choice, now_s: float) -> None:
        end = choice.start_s + job.duration_s
        self._running[job.job_id] = (choice.cand.pool, end, job.units)
        self._known.pop(job.job_id, None)
        if self._bookings is not None:
            self._bookings.add(job.job_id, choice.cand.pool, now_s, end, job.units)

    def deferred(self, job: Job, choice: Choice, until_s: float) -> None:
        if self._bookings is not None:
            self._bookings.add(job.job_id, choice.cand.pool, choice.placed_s,
                               choice.start_s + job.duration_s, job.units)

    def forget(self, job: Job) -> None:
        self._known.pop(job.job_id, None)
