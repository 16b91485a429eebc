"""The scheduler's keeper of power ceilings and fill levels (`core.power_ceiling`).

It keeps, per site under a ceiling or fill level, the facility power of the jobs holding units
there (a job counts from its placement to its estimated end), and:

- **view**: while a ceiling is in force at a site, each of the site's pools (and provider
  pools) offers only the units the power left under the ceiling allows; the units held back
  are `withheld` and given back when the ceiling ends or power frees (the view is real-time
  work's: a ceiling's `reserve_kw` is kept from deferrable work by the check below). Every
  policy reads the same free-unit lists, so every policy sees the reduced capacity and places
  elsewhere (within the job's latency bound) or waits;
- **check**: a placement whose run would take a site above a ceiling at any time of its run
  (also a ceiling that begins later, while it still runs) is not applied: the job is decided
  again with that site closed to it (the `drained` mechanism policies already honour), and if
  no other site takes it, `fallback` decides:
  - a real-time job: placed anyway if only soft ceilings (sheds) stand in its way (real-time
    work is never refused for a shed); refused, with the cap named, if a hard cap does;
  - deferrable work: deferred until the blocking ceiling ends if its deadline still holds
    then; else placed through a shed (a shed yields to a deadline), or, under a hard cap,
    deferred all the same and the reason says the deadline will be missed;
- **fill**: at each change of a fill level, deferred jobs that may run at the fill site are
  pulled forward there (earliest deadline first) while the site's power is below the level
  and their deadline holds; deferrable arrivals meanwhile are decided with only the fill
  sites below their level open to them (`steer`), and go there if the policy places them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from suanwang.core.power_ceiling import Ceiling, FillLevel, PowerCalendar
from suanwang.core.state import Offer
from suanwang.model import Job, Placement

if TYPE_CHECKING:
    from suanwang.core.scheduler import Running, Scheduler

EPS_KW = 1e-6
BUCKET_S = 900.0  # ends of running jobs are summed per 15 minutes (see `busy_at`)


class PowerGuard:
    def __init__(self, sched: Scheduler, calendar: PowerCalendar) -> None:
        self.sched = sched
        self.calendar = calendar
        topo = sched.topology
        watched = calendar.sites | calendar.fill_sites
        self.busy_kw: dict[int, float] = {s: 0.0 for s in watched}
        self.site_jobs: dict[int, dict[str, Running]] = {s: {} for s in watched}
        self.site_pools: dict[int, list[int]] = {
            s: [p for p in range(len(topo.pools)) if topo.pool_site[p] == s] for s in watched}
        # per watched site, the kW of its running jobs by the bucket their end falls in:
        # index k holds the jobs ending in ((k - 1) x BUCKET_S, k x BUCKET_S]
        self.end_kw: dict[int, np.ndarray] = {s: np.zeros(1024) for s in watched}
        self.withheld_pool = [0] * len(topo.pools)
        self.withheld_slice = [0] * len(topo.slices)

    # ---- power at a site -------------------------------------------------------------------

    def kw_of(self, job: Job, pool: int) -> float:
        return job.units * self.sched.topology.pool_kw_facility[pool]

    def added(self, r: Running) -> None:
        s = self.sched.topology.pool_site[r.pool]
        jobs = self.site_jobs.get(s)
        if jobs is None:
            return
        jobs[r.job.job_id] = r
        kw = self.kw_of(r.job, r.pool)
        self.busy_kw[s] += kw
        self._end_bucket(s, r.end_s, kw)
        self.sync(s)

    def _end_bucket(self, site: int, end_s: float, kw: float) -> None:
        if not math.isfinite(end_s):
            return  # never ends on the clock: busy at every future instant
        k = max(math.ceil(end_s / BUCKET_S), 0)
        arr = self.end_kw[site]
        if k >= len(arr):
            arr = self.end_kw[site] = np.concatenate([arr, np.zeros(max(k + 1, 2 * len(arr)))])
        arr[k] += kw

    def removed(self, r: Running) -> None:
        s = self.sched.topology.pool_site[r.pool]
        jobs = self.site_jobs.get(s)
        if jobs is None or jobs.pop(r.job.job_id, None) is None:
            return
        kw = self.kw_of(r.job, r.pool)
        self.busy_kw[s] = max(self.busy_kw[s] - kw, 0.0)
        self._end_bucket(s, r.end_s, -kw)
        self.sync(s)

    def busy_at(self, site: int, t: float) -> float:
        """Facility power at `site` at `t` of the jobs holding units there now: less the jobs
        whose end bucket closes at or before `t` (exact at multiples of BUCKET_S; between them
        a job ending in the bucket still counts: never below the true power)."""
        if t <= self.sched.now_s:
            return self.busy_kw[site]
        k = math.floor(t / BUCKET_S)
        ended = float(self.end_kw[site][:k + 1].sum())
        return max(self.busy_kw[site] - ended, 0.0)

    def violations(self, site: int, pool: int, job: Job, start_s: float,
                   end_s: float) -> list[Ceiling]:
        """The ceilings `job` would break if it held units of `pool` over [start_s, end_s)."""
        if site not in self.calendar.sites:
            return []
        add = self.kw_of(job, pool)
        now_kw = self.busy_kw[site] + add
        rt = job.realtime
        # power only falls after now (jobs end; new ones are checked in their turn): a ceiling
        # at or above the power now cannot be broken
        return [c for c in self.calendar.overlapping(site, start_s, end_s)
                if now_kw > c.limit_kw(rt) + EPS_KW
                and self.busy_at(site, max(start_s, c.start_s)) + add > c.limit_kw(rt) + EPS_KW]

    def check(self, pl: Placement, pool: int) -> list[Ceiling]:
        site = self.sched.topology.pool_site[pool]
        return self.violations(site, pool, pl.job, pl.placed_s, pl.end_s)

    # ---- the view --------------------------------------------------------------------------

    def unclip(self, site: int) -> None:
        state = self.sched.state
        topo = self.sched.topology
        for p in self.site_pools.get(site, ()):
            if self.withheld_pool[p]:
                state.free_units[p] += self.withheld_pool[p]
                self.withheld_pool[p] = 0
            for sl in topo.pool_slices[p]:
                if self.withheld_slice[sl]:
                    state.free_slice[sl] += self.withheld_slice[sl]
                    self.withheld_slice[sl] = 0
            state.update_room(p)

    def sync(self, site: int) -> None:
        """Offer at `site` only the units the ceiling in force now leaves room for."""
        if site not in self.calendar.sites:
            return
        self.unclip(site)
        c = self.calendar.active(site, self.sched.now_s)
        if c is None:
            return
        state = self.sched.state
        topo = self.sched.topology
        room_kw = c.kw - self.busy_kw[site]
        for p in self.site_pools[site]:
            kw = topo.pool_kw_facility[p]
            allowed = max(0, math.floor(room_kw / kw + 1e-9)) if kw > 0 else state.free_units[p]
            if state.free_units[p] > allowed:
                self.withheld_pool[p] = state.free_units[p] - allowed
                state.free_units[p] = allowed
            for sl in topo.pool_slices[p]:
                if state.free_slice[sl] > allowed:
                    self.withheld_slice[sl] = state.free_slice[sl] - allowed
                    state.free_slice[sl] = allowed
            state.update_room(p)

    def sync_all(self) -> None:
        for s in self.calendar.sites:
            self.sync(s)

    # ---- when the policy's choice breaks a ceiling -----------------------------------------

    def redirect(self, pl: Placement, pool: int, now_s: float) -> None:
        """Decide `pl.job` again with the sites whose ceilings it would break closed to it."""
        sched = self.sched
        state = sched.state
        topo = sched.topology
        job = pl.job
        excluded = {topo.pool_site[pool]}
        for _ in range(len(topo.sites)):
            added = excluded - state.drained
            state.drained |= added
            try:
                decision = sched.policy.decide(state, (job,), now_s)
            finally:
                state.drained -= added
            if decision.placed:
                again = decision.placed[0]
                p2 = sched.pool_of(again)
                if p2 is not None and self.check(again, p2):
                    excluded.add(topo.pool_site[p2])
                    continue
                sched.apply(decision, now_s)
                return
            if decision.deferred:
                sched.apply(decision, now_s)
                return
            break
        if not self.fallback(job, now_s):
            sched.enqueue(job, "no room within the grid events' power ceilings")

    def fallback(self, job: Job, now_s: float) -> bool:
        """Handle a job no policy choice could place because of ceilings (see the module
        docstring). False if no ceiling is what keeps it out (it waits for capacity)."""
        sched = self.sched
        state = sched.state
        topo = sched.topology
        opts: list[tuple[Offer, list[Ceiling]]] = []
        for o in topo.offers(job):
            if o.site not in self.calendar.sites or o.site in state.drained:
                continue
            if (state.free_slice[o.slice] + self.withheld_slice[o.slice] < job.units
                    or state.free_units[o.pool] + self.withheld_pool[o.pool] < job.units):
                continue
            if o.capped and not state.tenant_room(job, o.slice, {}):
                continue
            start = now_s + o.transfer_s(job.data_gb)
            broken = self.violations(o.site, o.pool, job, now_s, start + job.duration_s)
            if broken:
                opts.append((o, broken))
        if not opts:
            return False
        soft = [(o, b) for o, b in opts if not any(c.hard for c in b)]
        first_o, first_b = opts[0]
        hard_c = next((c for _, b in opts for c in b if c.hard), first_b[0])
        site_id = topo.site_ids[first_o.site]
        if job.realtime:
            if soft:
                o, b = soft[0]
                self.force(job, o, now_s, f"real-time: {b[0].describe(topo.site_ids[o.site])}"
                                          " yields (real-time work is never refused for a "
                                          "shed)")
                return True
            sched.reject(job, (
                f"refused: {hard_c.describe(topo.site_ids[hard_c.site])}; the job needs "
                f"{self.kw_of(job, first_o.pool):,.1f} kW and no site within "
                f"{job.rtt_bound_ms:g} ms of {job.origin} has room under it"))
            return True
        until = min(c.end_s for _, b in opts for c in b)
        deadline = math.inf if job.deadline_s is None else job.deadline_s
        finish = until + first_o.transfer_s(job.data_gb) + job.duration_s
        if finish <= deadline + 1e-6:
            sched.defer(job, until, f"waits for {first_b[0].describe(site_id)} (its deadline "
                                    "still holds)")
        elif soft:
            o, b = soft[0]
            self.force(job, o, now_s, f"{b[0].describe(topo.site_ids[o.site])} yields: the "
                                      "job's deadline cannot wait")
        else:
            sched.defer(job, until, f"waits for {hard_c.describe(topo.site_ids[hard_c.site])}"
                                    "; its deadline will be missed")
        return True

    def force(self, job: Job, o: Offer, now_s: float, reason: str) -> None:
        """Place `job` with offer `o` now, through the view's withheld units (the checks that
        allow it are the caller's)."""
        sched = self.sched
        self.unclip(o.site)
        pl = Placement(job, sched.topology.site_ids[o.site], now_s,
                       o.transfer_s(job.data_gb), reason, o.provider)
        sched.place(pl, o.pool, o.slice, now_s)

    # ---- fill ------------------------------------------------------------------------------

    def steer(self, job: Job, now_s: float) -> bool:
        """A deferrable arrival during a fill: decide it with only the fill sites below their
        level open to it (the `drained` mechanism); True if the policy placed it there."""
        if job.realtime or not self.calendar.fill_sites:
            return False
        targets = set()
        for site in self.calendar.fill_sites:
            level = self.calendar.fill_at(site, now_s)
            if level is not None and self.busy_kw[site] < level.kw - EPS_KW:
                targets.add(site)
        if not targets:
            return False
        sched = self.sched
        state = sched.state
        if not any(o.site in targets for o in sched.topology.offers(job)):
            return False
        added = set(range(len(sched.topology.sites))) - targets - state.drained
        state.drained |= added
        try:
            decision = sched.policy.decide(state, (job,), now_s)
        finally:
            state.drained -= added
        if not decision.placed:
            return False
        pl = decision.placed[0]
        pool = sched.pool_of(pl)
        if pool is None or self.check(pl, pool) or (
                job.deadline_s is not None and pl.end_s > job.deadline_s + 1e-6):
            return False
        level = self.calendar.fill_at(sched.topology.pool_site[pool], now_s)
        why = f"; grid event {level.event_id}: fill 消纳 draws it here" if level else ""
        sched.apply(type(decision)(placed=[replace(pl, reason=pl.reason + why)]), now_s)
        return True

    def fill(self, now_s: float) -> None:
        """Pull deferred work forward to each fill site below its level now."""
        for site in sorted(self.calendar.fill_sites):
            level = self.calendar.fill_at(site, now_s)
            if level is not None:
                self._pull(level, now_s)

    def _pull(self, level: FillLevel, now_s: float) -> None:
        sched = self.sched
        state = sched.state
        site_id = sched.topology.site_ids[level.site]
        waiting = sorted(sched.deferred.values(),
                         key=lambda e: (math.inf if e[0].deadline_s is None
                                        else e[0].deadline_s, e[1], e[0].job_id))
        for job, until in waiting:
            if self.busy_kw[level.site] >= level.kw - EPS_KW:
                return
            if level.site in state.drained:
                return
            deadline = math.inf if job.deadline_s is None else job.deadline_s
            for o in sched.topology.offers(job):
                if o.site != level.site:
                    continue
                start = now_s + o.transfer_s(job.data_gb)
                if (state.free_slice[o.slice] < job.units or state.free_units[o.pool] < job.units
                        or start + job.duration_s > deadline + 1e-6
                        or (o.capped and not state.tenant_room(job, o.slice, {}))
                        or self.violations(o.site, o.pool, job, now_s, start + job.duration_s)):
                    continue
                del sched.deferred[job.job_id]
                self.force(job, o, now_s, (
                    f"grid event {level.event_id}: fill 消纳 at {site_id} pulls deferred work "
                    f"forward (it was to wait until t={until:,.0f} s)"))
                break
