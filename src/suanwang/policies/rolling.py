"""`rolling`: online rolling-horizon planning on the forecast, committing only what starts now.

Every `interval_s` (15 min by default) it re-plans on what it knows then: the jobs submitted
and not yet started, the forecast issued for the current hour (its horizon bounds every plan),
and each provider slice's capacity (its quota) less what its running jobs still hold. The plan
is the slot model (`suanwang.planning.model`) over the waiting jobs and the slices, whose
capacity prices, added to each job's own forecast objective, price every option of every job:
site, provider and pool, and start between now and its deadline, within the tenant's lists,
caps and preferences (`suanwang.planning.choose`). The model is re-solved hourly
(`resolve_s`, when the forecast is re-issued) or sooner when the waiting work has changed by
more than `resolve_share`; between solves the newest forecast is priced with the standing capacity
prices.

A job whose best option starts now is placed (if the pool has the units now: the scheduler's
live capacity rules); a real-time job always is, where it is cheapest with its capacity price.
Every other job is deferred, holding a soft reservation of its planned pool and hours (so that
the next jobs plan around it), to its planned start, or sooner to be revised: at the first
`revise_s` boundary at least half-way there. A far-off plan is thus revised a few times on
newer forecasts and alongside newer jobs before it is acted on; a near one is not.

Options (off by default; measured in `benchmarks/bench_rolling_reserve.py`, see README):
real-time demand forecast as the same as a day earlier (`realtime_reserve`: those phantom
jobs are planned with the waiting work, so the capacity they will want is priced); a job
starting now takes, of the slices that price it alike, the one it fills most (`best_fit`,
`best_fit_pools`: large jobs still find a slice with room); a deferrable job starts now only
where it fits the bookings over its whole run (`whole_job_now`).

It never looks ahead: it knows a job only once the scheduler has handed it over, it reads
energy only through `state.forecast(now)`, and its own placements tell it when capacity frees.

Grid events (issue 14) enter its plan through `state.power`, the calendar the scheduler knows
now (an event from its notice on): ceilings and fills are rows of its slot model
(`planning.grid_rows`) over the deferrable work it plans, less what running work draws, so a
capped or shed site-hour carries the row's price and a fill window its reward in every
option; real-time jobs are priced off sites with a ceiling their run would meet when another
site within their bound has room (`planning.grid_steer`). The scheduler's `PowerGuard` still
checks every placement.

Robust to forecast error by design: every forecast hour is priced at its forecast intensity
plus `risk_aversion` times its expected error (which grows with lead time), so a far-off green
hour must be clearly greener to be waited for; later starts keep max(`margin_s`,
`margin_fraction` x duration) before the deadline, room to recover if the planned pool is full
when the time comes; and only what starts now is committed, so a plan made on an old forecast
is revised before it is acted on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from suanwang.core.policy import Decision
from suanwang.core.provider_choice import preference_rank
from suanwang.core.state import Offer, SchedulerState
from suanwang.energy.series import HOUR_S
from suanwang.model import Job
from suanwang.planning.choose import (
    TIE,
    Bookings,
    Choice,
    Options,
    PriceBook,
    occupancy_unit_h,
    pick,
    price_options,
)
from suanwang.planning.grid_rows import grid_rows
from suanwang.planning.grid_steer import steer_realtime
from suanwang.planning.model import OPTIMAL, solve_waiting
from suanwang.planning.objective import Objective
from suanwang.planning.priced import PricedPolicy
from suanwang.planning.rates import bill_per_unit_h

DAY_S = 86_400.0


def _may_wait(job: Job) -> bool:
    return job.deadline_s is not None and job.rtt_bound_ms is None


class RollingPolicy(PricedPolicy):
    name = "rolling"

    def __init__(self, interval_s: float = 900.0, revise_s: float = HOUR_S,
                 objective: Objective | None = None, risk_aversion: float = 1.0,
                 resolve_s: float = HOUR_S, resolve_share: float = 0.1, reserve: bool = True,
                 margin_s: float = 1800.0, margin_fraction: float = 0.1,
                 realtime_reserve: bool = False, realtime_own_cost: bool = False,
                 best_fit: bool = False, best_fit_pools: bool = False,
                 whole_job_now: bool = False) -> None:
        if not (interval_s > 0 and revise_s > 0):
            raise ValueError(f"interval_s and revise_s must be > 0, got {interval_s}, "
                             f"{revise_s}")
        self.interval_s = interval_s
        self.revise_s = revise_s
        self.objective = objective or Objective.carbon()
        self.risk_aversion = risk_aversion
        self.resolve_s = resolve_s
        self.resolve_share = resolve_share
        self.reserve = reserve
        self.margin_s = margin_s
        self.margin_fraction = margin_fraction
        self.realtime_reserve = realtime_reserve
        self.realtime_own_cost = realtime_own_cost
        self.best_fit = best_fit
        self.best_fit_pools = best_fit_pools
        self.whole_job_now = whole_job_now
        self._own_book: PriceBook | None = None  # the forecast objective, no capacity prices
        # real-time jobs seen in the last day (submit order), for the reserve's forecast
        self._rt_seen: deque[Job] = deque()
        self._rt_ids: set[str] = set()
        self._solved: tuple[float, float] = (-math.inf, 0.0)  # when, waiting work then
        self._prices: tuple[int, np.ndarray] | None = None  # slot0, capacity prices
        self._rated_hour = -1  # forecast issue the price book's rates come from
        self.lp_solves = 0
        self._known: dict[str, Job] = {}  # submitted, not yet started
        # job id -> slice, end, units, real-time
        self._running: dict[str, tuple[int, float, int, bool]] = {}
        self._next_replan_s = -math.inf
        self._book: PriceBook | None = None
        self._bookings: Bookings | None = None
        self.replans = 0
        self.last_solution_status = ""

    # ---- re-planning -------------------------------------------------------------------

    def _replan(self, state: SchedulerState, now_s: float) -> None:
        """Re-price on the newest forecast. The slot model is re-solved (new capacity prices)
        once `resolve_s` has passed since the last solve, or sooner if the waiting work has
        changed by more than `resolve_share`; in between, the last prices stand (shifted to
        the new forecast's hours)."""
        self._next_replan_s = (math.floor(now_s / self.interval_s) + 1) * self.interval_s
        self.replans += 1
        topo = state.topology
        if self._bookings is None or len(self._bookings.booked) != len(topo.slices):
            self._bookings = Bookings(len(topo.slices))
        jobs = [j for j in self._known.values() if _may_wait(j)]
        work = sum(j.units * j.duration_s for j in jobs)
        view = state.forecast(now_s)
        slot0, n = view.issued_hour, view.horizon_h
        when, solved_work = self._solved
        solve = (self._prices is None or now_s - when >= self.resolve_s - 1e-6
                 or abs(work - solved_work) > self.resolve_share * solved_work)
        if not solve and view.issued_hour == self._rated_hour:
            return
        intensity = (np.asarray(view.intensity_g_per_kwh)
                     + self.risk_aversion * np.asarray(view.intensity_sd_g_per_kwh))
        price = np.asarray(view.price_yuan_per_kwh)
        base = PriceBook.of(topo, self.objective, slot0, intensity, price,
                            bill_per_unit_h(topo, state.prices, price, slot0))
        if solve or self._prices is None:
            self._prices = (slot0, self._solve(state, jobs, now_s, base.own_per_unit_h, slot0,
                                               n))
            self._solved = (now_s, work)
        price_slot0, prices = self._prices
        shifted = np.zeros((len(topo.slices), n))
        k = slot0 - price_slot0
        if k < prices.shape[1]:
            shifted[:, :prices.shape[1] - k] = prices[:, k:k + n]
        self._book = base.with_prices(shifted)
        self._own_book = base
        self._rated_hour = view.issued_hour

    def _solve(self, state: SchedulerState, jobs: list[Job], now_s: float,
               per_unit_h: np.ndarray, slot0: int, n: int) -> np.ndarray:
        """Capacity prices of the slot model over the waiting jobs (zero if it fails)."""
        topo = state.topology
        end_s = (slot0 + n) * HOUR_S
        available = self._available(state, now_s, slot0, n)
        grid = None
        if state.power:
            run_kwh, run_rt_kwh = self._running_kwh(state, available, now_s, slot0, n)
            grid = grid_rows(topo, state.power, slot0, n, per_unit_h, run_kwh, run_rt_kwh)
        jobs = jobs + self._expected_realtime(now_s, end_s)
        sol, _ = solve_waiting(topo, jobs, now_s, end_s, per_unit_h, slot0, available, grid)
        self.lp_solves += 1
        self.last_solution_status = sol.status
        return sol.price_per_unit_h if sol.status == OPTIMAL else np.zeros_like(available)

    def _expected_realtime(self, now_s: float, end_s: float) -> list[Job]:
        """With `realtime_reserve`: the real-time demand expected between now and `end_s`,
        forecast as the same as a day earlier (each real-time job seen in the last day again,
        one day later; `~`-prefixed ids). Planned with the waiting work, these phantom jobs
        hold capacity (and raise its price) where and when real-time work will want it, so
        deferrable work plans around them. Only jobs already seen: no look-ahead."""
        while self._rt_seen and self._rt_seen[0].submit_s <= now_s - DAY_S:
            self._rt_ids.discard(self._rt_seen.popleft().job_id)
        if not self.realtime_reserve:
            return []
        # whole runs within the plan only (the model's rates end at `end_s`)
        return [replace(j, job_id="~" + j.job_id, submit_s=j.submit_s + DAY_S)
                for j in self._rt_seen
                if now_s < j.submit_s + DAY_S and j.submit_s + DAY_S + j.duration_s <= end_s]

    def _available(self, state: SchedulerState, now_s: float, slot0: int,
                   n: int) -> np.ndarray:
        """Unit-hours per slice and slot that running work leaves free from now on."""
        topo = state.topology
        n_pools = len(topo.slices)
        cap = np.asarray(topo.slice_capacity, dtype=float)
        self._running = {k: v for k, v in self._running.items() if v[1] > now_s}
        run = list(self._running.values())
        pools = np.array([r[0] for r in run], dtype=np.int64)
        units = np.array([r[2] for r in run], dtype=float)
        occ = occupancy_unit_h(n_pools, slot0, n, pools, np.full(len(run), now_s),
                               np.array([r[1] for r in run]), units)
        elapsed = now_s / HOUR_S - slot0  # share of the current slot already gone
        # units busy now that this policy did not place (e.g. adopted on a restart): assume
        # they stay busy over the whole horizon
        tracked = np.bincount(pools, weights=units, minlength=n_pools)
        free = np.asarray(state.free_slice, dtype=float)
        if state.power_withheld_slice is not None:  # held back by a ceiling now: the model
            free = free + np.asarray(state.power_withheld_slice, dtype=float)  # has its rows
        unknown = np.maximum(cap - free - tracked, 0.0)
        occ += unknown[:, None]
        occ[:, 0] += (cap - unknown) * elapsed
        return np.maximum(cap[:, None] - occ, 0.0)

    def _running_kwh(self, state: SchedulerState, available: np.ndarray, now_s: float,
                     slot0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Facility kWh per site and slot drawn by the work running now (all of it, and its
        real-time part): what the grid rows leave out of the model's room."""
        topo = state.topology
        kw = np.asarray(topo.slice_kw_facility, dtype=float)
        site = np.asarray(topo.slice_site, dtype=np.int64)
        cap = np.asarray(topo.slice_capacity, dtype=float)
        busy = np.maximum(cap[:, None] - available, 0.0) * kw[:, None]  # unit-h x kW
        elapsed = now_s / HOUR_S - slot0
        busy[:, 0] = np.maximum(busy[:, 0] - cap * kw * elapsed, 0.0)
        run = list(self._running.values())
        rt = [r for r in run if r[3]]
        occ = occupancy_unit_h(len(topo.slices), slot0, n,
                               np.array([r[0] for r in rt], dtype=np.int64),
                               np.full(len(rt), now_s), np.array([r[1] for r in rt]),
                               np.array([r[2] for r in rt], dtype=float)) * kw[:, None]
        out = np.zeros((len(topo.sites), n))
        out_rt = np.zeros((len(topo.sites), n))
        np.add.at(out, site, busy)
        np.add.at(out_rt, site, occ)
        return out, out_rt

    # ---- the Policy interface ----------------------------------------------------------

    def decide(self, state: SchedulerState, pending: Sequence[Job], now_s: float) -> Decision:
        for j in pending:
            self._known[j.job_id] = j
            if self.realtime_reserve and j.realtime and j.job_id not in self._rt_ids:
                self._rt_ids.add(j.job_id)
                self._rt_seen.append(j)
        if self._book is None or now_s >= self._next_replan_s:
            self._replan(state, now_s)
        return super().decide(state, pending, now_s)

    def prepare(self, state: SchedulerState, jobs: list[Job], cands: list[list[Offer]],
                now_s: float) -> list[Options | None]:
        book = self._book
        if book is None:  # decide() re-plans first
            raise RuntimeError("rolling: no plan")
        opts = price_options(jobs, cands, now_s, book, state.drained, latest_end_s=book.end_s,
                             margin_s=self.margin_s, margin_fraction=self.margin_fraction)
        if self.realtime_own_cost and self._own_book is not None:
            # real-time work takes the best site on its own forecast objective: the capacity
            # prices are there to move deferrable work, not the work that cannot wait
            rt = [i for i, j in enumerate(jobs) if j.realtime]
            if rt:
                own = price_options([jobs[i] for i in rt], [cands[i] for i in rt], now_s,
                                    self._own_book, state.drained,
                                    latest_end_s=book.end_s, margin_s=self.margin_s,
                                    margin_fraction=self.margin_fraction)
                for i, o in zip(rt, own, strict=True):
                    opts[i] = o
        return steer_realtime(state, jobs, cands, opts, now_s, book)

    def choice(self, state: SchedulerState, job: Job, options: Options | None,
               free: list[int], now_s: float) -> Choice | None:
        if self._bookings is None or options is None:
            return None
        self._bookings.remove(job.job_id)
        if self.whole_job_now and not job.realtime and options.timely.any():
            free = self._free_over_run(job, options, now_s, free)
        ch = pick(job, options, now_s, free, self._bookings, self._book)
        if self.best_fit and ch is not None and ch.now:
            ch = self._best_fit_now(job, options, ch, free)
        return ch

    def _free_over_run(self, job: Job, opt: Options, now_s: float,
                       free: list[int]) -> list[int]:
        """With `whole_job_now`: `free` with no room in the slices where a deferrable job
        starting now would not fit the bookings over its whole run (work running and planned
        there): a job that starts now holds its units for its whole run, so it must not take
        the units that jobs planned to start there during its run will need (they would be
        pushed to dirtier hours or sites, and so would the real-time jobs that find the
        slice full). Not for a job that can meet its deadline nowhere (it runs at once)."""
        bookings = self._bookings
        assert bookings is not None
        fit = bookings.fit_mask(opt.pools, opt.placed_s[:, :1], opt.start_s[:, :1]
                                + job.duration_s, float(job.units), opt.caps).ravel()
        if fit.all():
            return free
        out = list(free)
        for p in opt.pools[~fit].tolist():
            out[p] = 0
        return out

    def _best_fit_now(self, job: Job, opt: Options, ch: Choice, free: list[int]) -> Choice:
        """With `best_fit`: of the provider slices of the chosen pool that price a start now
        alike (twins, with the same place in the tenant's preferences), the one the job
        leaves the fewest units free in: large jobs find whole slices free for them later.
        With `best_fit_pools`, of every pool that prices it alike (e.g. two sites with no
        carbon and no capacity price now). Only for a start now: the same rule on the
        bookings of later starts was measured worse (`bench_rolling_reserve.py`)."""
        m = opt.start_s.shape[1]
        rows = opt.order[opt.order % m == 0] // m
        best, left = None, free[ch.cand.slice] - job.units
        scale = max(abs(ch.cost), 1e-300)
        rank = preference_rank(job, ch.cand.provider) if job.providers_prefer else 0
        for r in rows.tolist():
            c = opt.cands[r]
            if c.slice == ch.cand.slice or (c.pool != ch.cand.pool
                                            and not self.best_fit_pools):
                continue
            room = free[c.slice] - job.units
            if not (0 <= room < left) or abs(float(opt.cost[r, 0]) - ch.cost) > TIE * scale:
                continue
            if job.providers_prefer and preference_rank(job, c.provider) != rank:
                continue
            best, left = r, room
        if best is None:
            return ch
        return Choice(opt.cands[best], float(opt.start_s[best, 0]), ch.placed_s,
                      float(opt.cost[best, 0]), True, not bool(opt.timely[best]))

    def defer_until(self, job: Job, choice: Choice, now_s: float) -> float:
        """Its planned start, or a revision: at the first `revise_s` boundary at least half
        way there (so a far-off plan is revised a few times, a near one not at all)."""
        half = now_s + (choice.placed_s - now_s) / 2
        revise = (math.floor(max(half, now_s) / self.revise_s) + 1) * self.revise_s
        return min(choice.placed_s, revise)

    def placed(self, job: Job, choice: Choice, now_s: float) -> None:
        end = choice.start_s + job.duration_s
        self._running[job.job_id] = (choice.cand.slice, end, job.units, job.realtime)
        self._known.pop(job.job_id, None)
        if self._bookings is not None:
            self._bookings.add(job.job_id, choice.cand.slice, now_s, end, job.units)

    def deferred(self, job: Job, choice: Choice, until_s: float) -> None:
        if self._bookings is not None and self.reserve:
            self._bookings.add(job.job_id, choice.cand.slice, choice.placed_s,
                               choice.start_s + job.duration_s, job.units)

    def forget(self, job: Job) -> None:
        self._known.pop(job.job_id, None)
