"""The discrete-event simulator: a trace, a policy, a network and its energy, on a virtual clock.

Events sit in one heap as (time_s, priority, sequence, kind, payload) — the SimPy layout, so
that ties break deterministically: releases of capacity (priority 0) come before deferred jobs
waking (1), which come before arrivals at the same instant (arrivals are merged in from the
sorted trace rather than pushed, to keep the heap small).

The engine owns the capacity: it applies a policy's placements only if they fit (a policy that
over-commits a pool is a bug and raises), queues jobs the policy could not place until capacity
frees, and wakes deferred jobs when asked. Accounting is done after the run, vectorised, from
the recorded start and end times (`suanwang.core.accounting`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from suanwang.core.policy import Policy
from suanwang.core.state import SchedulerState, Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.model import Job, Kind, Network
from suanwang.sim.result import SimResult

RELEASE, WAKE = 0, 1
ProgressFn = Callable[[int, int], None]  # (jobs settled, jobs in all)


class PolicyError(RuntimeError):
    """A policy answered something the simulator cannot apply."""


def simulate(network: Network, jobs: Sequence[Job], policy: Policy, series: EnergySeries,
             forecaster: Forecaster, progress: ProgressFn | None = None,
             progress_every: int = 20_000) -> SimResult:
    """Run `jobs` (sorted by submit_s) through `policy`; return what happened to each."""
    n = len(jobs)
    for a, b in itertools.pairwise(jobs):
        if b.submit_s < a.submit_s:
            raise ValueError(f"jobs must be sorted by submit_s: {b.job_id} comes after "
                             f"{a.job_id} but is submitted earlier")
    topo = Topology(network)
    if topo.site_ids != series.site_ids:
        raise ValueError("energy series sites do not match the network's sites")
    state = SchedulerState(topo, forecaster)
    index = {id(j): i for i, j in enumerate(jobs)}

    site = np.full(n, -1, dtype=np.int64)
    pool = np.full(n, -1, dtype=np.int64)
    placed_s = np.full(n, np.nan)
    transfer_s = np.full(n, np.nan)
    deferrals = np.zeros(n, dtype=np.int32)
    reasons: dict[int, str] = {}
    rejected: dict[int, str] = {}

    pool_of_site_kind = {(topo.pool_site[p], topo.pool_kind[p]): p
                         for p in range(len(topo.pools))}
    site_index = {s: i for i, s in enumerate(topo.site_ids)}
    free = state.free_units
    heap: list[tuple[float, int, int, int, int, int]] = []
    seq = 0
    # jobs waiting for capacity, grouped by (origin, kind, rtt bound): jobs of a group can use
    # the same pools, so one "largest free pool of the group" check skips most of them
    queue: dict[tuple[str, Kind, float | None], list[Job]] = {}
    groups_of_kind: dict[Kind, list[tuple[str, Kind, float | None]]] = {k: [] for k in Kind}
    queued: set[int] = set()
    settled = 0
    next_progress = progress_every

    def apply(decision_placed: list, decision_deferred: list, decision_unplaced: list,
              now_s: float) -> None:
        nonlocal seq, settled
        for pl in decision_placed:
            j = pl.job
            i = index[id(j)]
            s = site_index[pl.site_id]
            p = pool_of_site_kind.get((s, j.kind))
            if p is None:
                raise PolicyError(f"{policy.name} placed {j.job_id} ({j.kind.value}) at "
                                  f"{pl.site_id}, which has no such pool")
            if free[p] < j.units:
                raise PolicyError(f"{policy.name} placed {j.job_id} needing {j.units} units at "
                                  f"{pl.site_id} {j.kind.value} with {free[p]} free")
            if pl.placed_s != now_s:
                raise PolicyError(f"{policy.name} placed {j.job_id} at {pl.placed_s}, not now "
                                  f"({now_s}); defer instead")
            free[p] -= j.units
            site[i] = s
            pool[i] = p
            placed_s[i] = now_s
            transfer_s[i] = pl.transfer_s
            reasons[i] = pl.reason
            end = now_s + pl.transfer_s + j.duration_s
            seq += 1
            heapq.heappush(heap, (end, RELEASE, seq, p, j.units, i))
            if i in queued:
                queued.discard(i)
            settled += 1
        for df in decision_deferred:
            i = index[id(df.job)]
            if not df.until_s > now_s:
                raise PolicyError(f"{policy.name} deferred {df.job.job_id} to {df.until_s}, "
                                  f"not after now ({now_s})")
            deferrals[i] += 1
            reasons[i] = df.reason
            queued.discard(i)
            seq += 1
            heapq.heappush(heap, (df.until_s, WAKE, seq, -1, 0, i))
        for un in decision_unplaced:
            i = index[id(un.job)]
            if un.retry:
                if i not in queued:
                    queued.add(i)
                    key = (un.job.origin, un.job.kind, un.job.rtt_bound_ms)
                    if key not in queue:
                        queue[key] = []
                        groups_of_kind[un.job.kind].append(key)
                    queue[key].append(un.job)
            else:
                rejected[i] = un.reason
                queued.discard(i)
                settled += 1

    def group_room(cands: list) -> int:
        drained = state.drained
        return max((free[c.pool] for c in cands if c.site not in drained), default=0)

    def drain_queue(kind: Kind, now_s: float) -> None:
        """Offer queued jobs of `kind` to the policy, first come first served within each
        group, one at a time and only if a pool they could use has room now (checked against
        live capacity, so a job is not re-decided when an earlier one took the room)."""
        for key in groups_of_kind[kind]:
            q = queue[key]
            if not q:
                continue
            group = topo.reachable(*key)
            room = group_room(group)
            for j in q:
                if room <= 0:
                    break
                i = index[id(j)]
                if i not in queued or j.units > room:
                    continue
                cands = topo.candidates(j)
                if cands is not group and j.units > group_room(cands):
                    continue
                d = policy.decide(state, (j,), now_s)
                apply(d.placed, d.deferred, d.unplaced, now_s)
                room = group_room(group)
            q[:] = [j for j in q if index[id(j)] in queued]

    started = time.perf_counter()
    a = 0
    while a < n or heap:
        if heap and (a >= n or heap[0][0] <= jobs[a].submit_s):
            now = heap[0][0]
            dirty: set[Kind] = set()
            woken: list[Job] = []
            while heap and heap[0][0] == now:
                _, kind_ev, _, p, units, i = heapq.heappop(heap)
                if kind_ev == RELEASE:
                    free[p] += units
                    dirty.add(topo.pool_kind[p])
                else:
                    woken.append(jobs[i])
            if woken:
                d = policy.decide(state, woken, now)
                apply(d.placed, d.deferred, d.unplaced, now)
            for k in dirty:
                drain_queue(k, now)
        else:
            job = jobs[a]
            a += 1
            now = job.submit_s
            d = policy.decide(state, (job,), now)
            apply(d.placed, d.deferred, d.unplaced, now)
        if progress is not None and settled >= next_progress:
            progress(settled, n)
            next_progress = settled + progress_every

    for q in queue.values():  # anything still queued can never run (e.g. its sites drained)
        for j in q:
            i = index[id(j)]
            if i in queued:
                rejected[i] = "still waiting for capacity when the run ended"
    if progress is not None:
        progress(n, n)
    wall_s = time.perf_counter() - started
    return SimResult.build(network=network, jobs=jobs, policy_name=policy.name, series=series,
                           topology=topo, site=site, pool=pool, placed_s=placed_s,
                           transfer_s=transfer_s, deferrals=deferrals, reasons=reasons,
                           rejected=rejected, wall_s=wall_s)


def horizon_hours(jobs: Sequence[Job], days: float | None = None) -> int:
    """Hours of energy series a run needs: to the last deadline or submit + duration, plus a
    week of room for queueing. Past the end, the last hour's values hold."""
    last = 0.0
    for j in jobs:
        last = max(last, j.deadline_s if j.deadline_s is not None else 0.0,
                   j.submit_s + j.duration_s)
    if days:
        last = max(last, days * 86400.0)
    return math.ceil(last / 3600.0) + 7 * 24
