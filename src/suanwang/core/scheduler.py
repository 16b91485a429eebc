"""The scheduler: applies a policy's decisions to capacity, on any clock.

One implementation serves the simulator (virtual clock: it calls `advance` up to each arrival)
and the live service (wall clock: it calls `advance(now)` on a timer and `submit` on each
request). The scheduler owns capacity: it applies a placement only if it fits now (a policy that
over-commits a pool is a bug and raises `PolicyError`), queues jobs the policy could not place
until capacity frees, wakes deferred jobs when asked, and tells a `Listener` every transition.

Events sit in one heap as (time_s, priority, sequence, kind, job_id) — the SimPy layout, so
that ties break deterministically: releases of capacity (priority 0) come before deferred jobs
waking (1) before power ceilings and fill levels of grid events change (2); the caller submits
arrivals after advancing to their time, so releases and wakes at the same instant come first.

With a `PowerCalendar` (grid events: `core.power_ceiling`), a `PowerGuard` holds each site's
facility power under its ceilings for every policy alike: the units a ceiling leaves no room
for are withheld from the free-unit lists the policies read, and each placement is checked
over its run before it is applied (`core.power_guard`).

Jobs waiting for capacity are grouped by (origin, kind, rtt bound): jobs of a group can use the
same pools, so one "largest free pool of the group" check skips most of them when capacity
frees; within a group they are offered first come, first served, one at a time, against live
capacity.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from suanwang.core.policy import Decision, Policy
from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.power_guard import PowerGuard
from suanwang.core.provider_choice import slice_in_pool
from suanwang.core.state import Candidate, SchedulerState, Topology
from suanwang.energy.forecast import Forecaster
from suanwang.model import Job, Kind, Network, Placement
from suanwang.network.providers import rescale_providers

RELEASE, WAKE, GRID = 0, 1, 2  # GRID: a power ceiling or fill level changes
GroupKey = tuple[str, Kind, float | None]


class PolicyError(RuntimeError):
    """A policy answered something the scheduler cannot apply."""


class Listener(Protocol):
    """Told of every transition, in order, before the scheduler acts on the next event."""

    def placed(self, placement: Placement, pool: int) -> None: ...
    def deferred(self, job: Job, until_s: float, reason: str) -> None: ...
    def queued(self, job: Job, reason: str) -> None: ...
    def rejected(self, job: Job, reason: str) -> None: ...
    def finished(self, job: Job, pool: int, now_s: float) -> None: ...


class NullListener:
    def placed(self, placement: Placement, pool: int) -> None:
        pass

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        pass

    def queued(self, job: Job, reason: str) -> None:
        pass

    def rejected(self, job: Job, reason: str) -> None:
        pass

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        pass


@dataclass(slots=True)
class Running:
    job: Job
    pool: int
    end_s: float
    slice: int = -1  # the provider pool (Topology.slices) whose units it holds


class Scheduler:
    def __init__(self, topology: Topology, forecaster: Forecaster, policy: Policy,
                 listener: Listener | None = None,
                 estimate_sites: set[int] | None = None,
                 power: PowerCalendar | None = None) -> None:
        """At sites in `estimate_sites` (all sites when None: the simulator, and a service whose
        jobs only run on the clock) a job's units are freed when its estimated end comes; at
        the others the driver calls `release` when the job's executor reports its end."""
        self.estimate_sites = estimate_sites
        self.topology = topology
        self.state = SchedulerState(topology, forecaster)
        self.policy = policy
        self.listener: Listener = listener or NullListener()
        self.now_s = 0.0
        self._heap: list[tuple[float, int, int, int, str]] = []
        self._seq = 0
        self._pool_of: dict[tuple[str, Kind], int] = {
            (topology.site_ids[topology.pool_site[p]], topology.pool_kind[p]): p
            for p in range(len(topology.pools))
        }
        self.running: dict[str, Running] = {}
        self.deferred: dict[str, tuple[Job, float]] = {}
        self._queue: dict[GroupKey, list[Job]] = {}
        self._groups_of_kind: dict[Kind, list[GroupKey]] = {k: [] for k in Kind}
        self._queued: dict[str, Job] = {}
        self.guard: PowerGuard | None = None
        if power:
            self.guard = PowerGuard(self, power)
            for t in power.change_times():
                self._push(t, GRID, "")
            self.guard.sync_all()
        self._show_power()

    # ---- inputs ----------------------------------------------------------------------------

    def submit(self, job: Job, now_s: float) -> None:
        """A job arrives: decide it now (after `advance(now_s)`)."""
        self.now_s = now_s
        if self.guard is not None and self.guard.steer(job, now_s):
            return
        self._apply(self.policy.decide(self.state, (job,), now_s), now_s)

    def resume_running(self, job: Job, site_id: str, end_s: float,
                       provider_id: str = "") -> None:
        """Re-adopt a job already running (the service restarting): hold its units until
        `end_s` (at `provider_id`, or the site's provider with the most free units). Raises
        if the pool is unknown."""
        pool = self._pool_of[(site_id, job.kind)]
        topo = self.topology
        sl = topo.slice_of.get((site_id, provider_id, job.kind)) if provider_id else None
        if sl is None:
            free_slice = self.state.free_slice
            sl = max(topo.pool_slices[pool], key=lambda i: (free_slice[i], -i))
        self._take(job, pool, sl)
        self.running[job.job_id] = r = Running(job, pool, end_s, sl)
        if self.guard is not None:
            self.guard.added(r)
        if self._at_estimate(pool):
            self._push(end_s, RELEASE, job.job_id)

    def _take(self, job: Job, pool: int, sl: int) -> None:
        state = self.state
        state.free_units[pool] -= job.units
        before = state.free_slice[sl]
        state.free_slice[sl] = before - job.units
        if before >= state.pool_room[pool]:  # it may have been the largest
            state.update_room(pool)
        if self.topology.slice_cap[sl] is not None:
            key = (job.tenant, sl)
            state.tenant_units[key] = state.tenant_units.get(key, 0) + job.units

    def _give_back(self, r: Running) -> None:
        state = self.state
        state.free_units[r.pool] += r.job.units
        if r.slice in state.withheld:  # a closed slice keeps what its jobs give back
            state.free_units[r.pool] -= r.job.units
            state.withheld[r.slice] += r.job.units
        elif r.slice >= 0:
            free = state.free_slice[r.slice] + r.job.units
            state.free_slice[r.slice] = free
            cap = self.topology.slice_cap[r.slice]
            room = free if cap is None else min(free, cap)
            if room > state.pool_room[r.pool]:
                state.pool_room[r.pool] = room
            if self.topology.slice_cap[r.slice] is not None:
                key = (r.job.tenant, r.slice)
                left = state.tenant_units.get(key, 0) - r.job.units
                if left > 0:
                    state.tenant_units[key] = left
                else:
                    state.tenant_units.pop(key, None)
        if self.guard is not None:
            self.guard.removed(r)

    def resume_deferred(self, job: Job, until_s: float) -> None:
        self.deferred[job.job_id] = (job, until_s)
        self._push(until_s, WAKE, job.job_id)

    def release(self, job_id: str, now_s: float, notify: bool = True) -> Running | None:
        """A running job ended (its executor says so): free its units, tell the listener
        (unless `notify` is False: the driver records how it ended, e.g. failed), offer the
        room to waiting jobs. None if the job was not running."""
        r = self.running.pop(job_id, None)
        if r is None:
            return None
        self._give_back(r)
        if notify:
            self.listener.finished(r.job, r.pool, now_s)
        self._drain_queue(r.job.kind, now_s)
        return r

    def requeue(self, job_id: str, now_s: float) -> bool:
        """Take a placed job back (its site failed before it started, or it failed and is to
        be retried) and decide it again now. False if the job was not running."""
        r = self.running.pop(job_id, None)
        if r is None:
            return False
        self._give_back(r)
        self._apply(self.policy.decide(self.state, (r.job,), now_s), now_s)
        self._drain_queue(r.job.kind, now_s)
        return True

    def cancel(self, job_id: str, now_s: float) -> bool:
        """Withdraw a job wherever it is; frees its units if it holds any. False if the
        scheduler does not know it (finished, rejected, or never seen)."""
        if job_id in self.running:
            r = self.running.pop(job_id)
            self._give_back(r)
            self._drain_queue(self.topology.pool_kind[r.pool], now_s)
            return True
        if self.deferred.pop(job_id, None) is not None:
            return True
        return self._queued.pop(job_id, None) is not None

    def set_power(self, power: PowerCalendar | None, now_s: float) -> None:
        """Adopt a new calendar of power ceilings and fill levels from `now_s` on (a grid
        event notified or cancelled while the scheduler runs: the live service). The units the
        old calendar withheld are given back, a new `PowerGuard` counts the jobs holding units
        now, the ceiling in force now is applied at once (every later decision sees it) and its
        later changes are put on the clock; a fill in force now pulls deferred work forward.
        Jobs already placed keep their units (nothing is preempted)."""
        if self.guard is not None:
            for site in list(self.guard.site_pools):
                self.guard.unclip(site)
        self.guard = None
        if power:
            guard = PowerGuard(self, power)
            for r in self.running.values():
                guard.added(r)
            self.guard = guard
            for t in power.change_times():
                if t > now_s:
                    self._push(t, GRID, "")
            guard.sync_all()
        self._show_power()
        if self.guard is not None:
            self.guard.fill(now_s)
        for k in Kind:
            self._drain_queue(k, now_s)

    def _show_power(self) -> None:
        """What policies see of the grid events (`SchedulerState.power`)."""
        g = self.guard
        self.state.power = g.calendar if g is not None else None
        self.state.power_withheld_slice = g.withheld_slice if g is not None else None

    def drain_site(self, site_id: str, drained: bool, now_s: float) -> None:
        """Stop (or resume) new placements at a site from the next decision on."""
        idx = self.topology.site_ids.index(site_id)
        if drained:
            self.state.drained.add(idx)
        else:
            self.state.drained.discard(idx)
            for k in Kind:
                self._drain_queue(k, now_s)

    def close_slice(self, sl: int, closed: bool, now_s: float) -> None:
        """Stop (or resume) new placements at one provider slice (its own backend is down):
        its free units are withheld, and so are those its running jobs give back, until it
        opens again."""
        state = self.state
        pool = self.topology.slice_pool[sl]
        if closed and sl not in state.withheld:
            free = state.free_slice[sl]
            state.withheld[sl] = free
            state.free_slice[sl] = 0
            state.free_units[pool] -= free
            state.update_room(pool)
        elif not closed and sl in state.withheld:
            back = state.withheld.pop(sl)
            state.free_slice[sl] += back
            state.free_units[pool] += back
            state.update_room(pool)
            self._drain_queue(self.topology.pool_kind[pool], now_s)

    def set_capacity(self, site_id: str, kind: Kind, units: int, now_s: float) -> None:
        """Change a pool's installed units from the next decision on. Jobs running keep their
        units; if the pool shrinks below what is busy, nothing new is placed there until enough
        of them end."""
        if units < 0:
            raise ValueError(f"units must be >= 0, got {units}")
        p = self._pool_of[(site_id, kind)]
        topo = self.topology
        withheld = self.state.withheld  # closed slices' free units (`close_slice`)
        busy = (topo.pool_capacity[p] - self.state.free_units[p]
                - sum(withheld.get(i, 0) for i in topo.pool_slices[p]))
        busy_slice = [topo.slice_capacity[i] - self.state.free_slice[i] - withheld.get(i, 0)
                      for i in range(len(topo.slices))]
        net = topo.network
        sites = tuple(
            replace(s, pools=tuple(replace(q, units=units) if q.kind == kind else q
                                   for q in s.pools),
                    providers=rescale_providers(s.providers, kind, units))
            if s.id == site_id else s
            for s in net.sites)
        self._set_topology(replace(net, sites=sites), topo, busy_slice)
        self.state.free_units[p] = (self.topology.pool_capacity[p] - busy
                                    - sum(withheld.get(i, 0)
                                          for i in self.topology.pool_slices[p]))
        self._drain_queue(kind, now_s)

    def _set_topology(self, net: Network, old: Topology, busy_slice: list[int]) -> None:
        """Adopt a topology with the same slices (same order), new capacities."""
        self.topology = Topology(net)
        self.state.topology = self.topology
        if len(self.topology.slices) != len(old.slices):
            raise ValueError("a capacity change must keep every provider pool")
        self.state.free_slice = [c - b for c, b in zip(self.topology.slice_capacity,
                                                       busy_slice, strict=True)]
        for sl in self.state.withheld:  # a closed slice stays closed with its new capacity
            self.state.withheld[sl] = self.state.free_slice[sl]
            self.state.free_slice[sl] = 0
        for p in range(len(self.topology.pools)):
            self.state.update_room(p)

    # ---- the clock -------------------------------------------------------------------------

    def next_event_s(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def advance(self, until_s: float) -> None:
        """Process every release and wake-up due at or before `until_s`, in time order."""
        heap = self._heap
        while heap and heap[0][0] <= until_s:
            now = heap[0][0]
            self.now_s = now
            dirty: set[Kind] = set()
            woken: list[Job] = []
            grid_tick = False
            while heap and heap[0][0] == now:
                _, kind_ev, _, _, job_id = heapq.heappop(heap)
                if kind_ev == GRID:
                    grid_tick = True
                elif kind_ev == RELEASE:
                    r = self.running.get(job_id)
                    if r is None or r.end_s != now:
                        continue  # cancelled, or re-placed since
                    del self.running[job_id]
                    self._give_back(r)
                    dirty.add(r.job.kind)
                    self.listener.finished(r.job, r.pool, now)
                else:
                    entry = self.deferred.get(job_id)
                    if entry is None or entry[1] != now:
                        continue
                    del self.deferred[job_id]
                    woken.append(entry[0])
            if grid_tick and self.guard is not None:
                self.guard.sync_all()
            if woken:
                self._apply(self.policy.decide(self.state, woken, now), now)
            if grid_tick and self.guard is not None:
                self.guard.fill(now)
                dirty = set(Kind)
            for k in dirty:
                self._drain_queue(k, now)
        if until_s > self.now_s:
            self.now_s = until_s

    # ---- internals -------------------------------------------------------------------------

    def _at_estimate(self, pool: int) -> bool:
        return self.estimate_sites is None or self.topology.pool_site[pool] in self.estimate_sites

    def _push(self, t: float, kind: int, job_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, kind, self._seq, 0, job_id))

    def pool_of(self, pl: Placement) -> int | None:
        return self._pool_of.get((pl.site_id, pl.job.kind))

    def apply(self, decision: Decision, now_s: float) -> None:
        """Apply a policy's decision now (what `submit` and the clock do)."""
        self._apply(decision, now_s)

    def _apply(self, decision: Decision, now_s: float) -> None:
        free = self.state.free_units
        name = self.policy.name
        guard = self.guard
        redirect: list[tuple[Placement, int]] = []
        for pl in decision.placed:
            j = pl.job
            p = self._pool_of.get((pl.site_id, j.kind))
            if p is None:
                raise PolicyError(f"{name} placed {j.job_id} ({j.kind.value}) at "
                                  f"{pl.site_id}, which has no such pool")
            if free[p] < j.units:
                raise PolicyError(f"{name} placed {j.job_id} needing {j.units} units at "
                                  f"{pl.site_id} {j.kind.value} with {free[p]} free")
            if pl.placed_s != now_s:
                raise PolicyError(f"{name} placed {j.job_id} at {pl.placed_s}, not now "
                                  f"({now_s}); defer instead")
            if guard is not None and guard.check(pl, p):
                redirect.append((pl, p))  # after this decision's other placements
                continue
            self.place(pl, p, self._slice(pl, p, now_s), now_s)
        for df in decision.deferred:
            if not df.until_s > now_s:
                raise PolicyError(f"{name} deferred {df.job.job_id} to {df.until_s}, not "
                                  f"after now ({now_s})")
            self.defer(df.job, df.until_s, df.reason)
        for un in decision.unplaced:
            j = un.job
            if un.retry:
                if guard is not None and guard.fallback(j, now_s):
                    continue
                self.enqueue(j, un.reason)
            else:
                self.reject(j, un.reason)
        for pl, p in redirect:
            assert guard is not None
            guard.redirect(pl, p, now_s)

    def place(self, pl: Placement, p: int, sl: int, now_s: float) -> None:
        """Start `pl` now in pool `p`, provider pool `sl` (checked by the caller)."""
        j = pl.job
        self._take(j, p, sl)
        self._queued.pop(j.job_id, None)
        end = now_s + pl.transfer_s + j.duration_s
        self.running[j.job_id] = r = Running(j, p, end, sl)
        if self._at_estimate(p):
            self._push(end, RELEASE, j.job_id)
        if not pl.provider_id:
            pl = replace(pl, provider_id=self.topology.slice_provider[sl])
        self.listener.placed(pl, p)
        if self.guard is not None:
            self.guard.added(r)

    def defer(self, job: Job, until_s: float, reason: str) -> None:
        self._queued.pop(job.job_id, None)
        self.deferred[job.job_id] = (job, until_s)
        self._push(until_s, WAKE, job.job_id)
        self.listener.deferred(job, until_s, reason)

    def enqueue(self, j: Job, reason: str) -> None:
        """Keep `j` waiting until capacity frees."""
        if j.job_id not in self._queued:
            self._queued[j.job_id] = j
            key = (j.origin, j.kind, j.rtt_bound_ms)
            q = self._queue.get(key)
            if q is None:
                q = self._queue[key] = []
                self._groups_of_kind[j.kind].append(key)
            q.append(j)
            self.listener.queued(j, reason)

    def reject(self, j: Job, reason: str) -> None:
        self._queued.pop(j.job_id, None)
        self.listener.rejected(j, reason)

    def _slice(self, pl: Placement, pool: int, now_s: float) -> int:
        """The provider pool a placement takes: the one it names, or the site's provider by
        the greedy rule (`provider_choice`)."""
        j = pl.job
        topo = self.topology
        free_slice = self.state.free_slice
        name = self.policy.name
        if pl.provider_id:
            sl = topo.slice_of.get((pl.site_id, pl.provider_id, j.kind))
            if sl is None:
                raise PolicyError(f"{name} placed {j.job_id} with {pl.provider_id} at "
                                  f"{pl.site_id}, which sells no {j.kind.value} units there")
            if free_slice[sl] < j.units:
                raise PolicyError(f"{name} placed {j.job_id} needing {j.units} units with "
                                  f"{pl.provider_id} at {pl.site_id}, which has "
                                  f"{free_slice[sl]} free")
            return sl
        found = slice_in_pool(self.state, j, pool, free_slice, now_s, now_s + pl.transfer_s)
        if found is None:
            raise PolicyError(f"{name} placed {j.job_id} at {pl.site_id}, where no provider "
                              f"it may use has {j.units} {j.kind.value} units free")
        return found

    def _room(self, cands: Iterable[Candidate]) -> int:
        """The most units one job could get now in any of `cands` (the largest free provider
        pool; a pool's own free units bound it too)."""
        free = self.state.free_units
        room = self.state.pool_room
        drained = self.state.drained
        return max((min(free[c.pool], room[c.pool]) for c in cands if c.site not in drained),
                   default=0)

    def _drain_queue(self, kind: Kind, now_s: float) -> None:
        topo = self.topology
        queued = self._queued
        for key in self._groups_of_kind[kind]:
            q = self._queue[key]
            if not q:
                continue
            group = topo.reachable(*key)
            room = self._room(group)
            for j in q:
                if room <= 0:
                    break
                if j.job_id not in queued or j.units > room:
                    continue
                cands = topo.candidates(j)
                if cands is not group and j.units > self._room(cands):
                    continue
                self._apply(self.policy.decide(self.state, (j,), now_s), now_s)
                room = self._room(group)
            q[:] = [j for j in q if j.job_id in queued]

    def waiting(self) -> list[Job]:
        """Jobs queued for capacity, in arrival order within each group."""
        return [j for q in self._queue.values() for j in q if j.job_id in self._queued]
