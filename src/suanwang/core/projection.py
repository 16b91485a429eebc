"""What the work a scheduler knows implies for the hours ahead: a projection on a copy.

The copy (`copy.deepcopy` of the scheduler, sharing the topology, the forecaster and its series,
which it only reads) is told nothing new: no arrival after now. It runs its own clock forward to
`until_s`: the jobs holding units end at their estimated ends (also at sites whose executors
report ends in the live service: the copy frees them at the estimate), deferred jobs wake and
are decided by the same policy, queued jobs are placed as capacity frees, under the power
calendar the scheduler has now. The result is one `Projected` per job known now (running,
placed, deferred, queued, and `pending`: taken in, not yet decided), with the site, pool and
times the copy gave it (site -1: it does not start before `until_s`).

Used by the live service to freeze a grid event's baseline at notice time (before the event's
ceilings are applied) and for the flexibility curve (`service.grid_flex`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from suanwang.core.scheduler import RELEASE, NullListener, Scheduler
from suanwang.model import Job, Placement


@dataclass(frozen=True, slots=True)
class Projected:
    job: Job
    site: int  # -1: not started within the projection
    pool: int  # -1 likewise
    start_s: float  # compute start (nan if not started)
    end_s: float  # estimated end (nan if not started)
    running_now: bool  # it held units when the projection began


class _Recorder(NullListener):
    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.placed_at: dict[str, tuple[int, float, float]] = {}

    def placed(self, placement: Placement, pool: int) -> None:
        self.placed_at[placement.job.job_id] = (pool, placement.start_s, placement.end_s)


def project(sched: Scheduler, until_s: float, pending: Iterable[Job] = (),
            start_s: Mapping[str, float] | None = None) -> list[Projected]:
    """The projection of `sched`'s known work up to `until_s` (see the module's doc);
    `start_s`: the compute start of jobs running now, where the caller knows it (else their
    end less their duration)."""
    now = sched.now_s
    memo: dict[int, object] = {id(sched.topology): sched.topology,
                               id(sched.state.forecaster): sched.state.forecaster,
                               id(sched.listener): NullListener()}
    twin: Scheduler = copy.deepcopy(sched, memo)
    rec = _Recorder(twin)
    twin.listener = rec
    for job_id, r in twin.running.items():
        if not twin._at_estimate(r.pool) and math.isfinite(r.end_s):
            twin._push(r.end_s, RELEASE, job_id)
    twin.estimate_sites = None
    known = {**{j: r.job for j, r in twin.running.items()},
             **{j: e[0] for j, e in twin.deferred.items()},
             **{j.job_id: j for j in twin.waiting()}}
    running_now = {j: (r.pool, r.end_s) for j, r in twin.running.items()}
    for job in sorted(pending, key=lambda j: (j.submit_s, j.job_id)):
        known.setdefault(job.job_id, job)
        twin.submit(job, now)
    twin.advance(until_s)
    topo = sched.topology
    out: list[Projected] = []
    starts = start_s or {}
    for job_id, job in known.items():
        if job_id in running_now:
            pool, end = running_now[job_id]
            start = starts.get(job_id, end - job.duration_s)
            out.append(Projected(job, topo.pool_site[pool], pool, start, end, True))
        elif job_id in rec.placed_at:
            pool, start, end = rec.placed_at[job_id]
            out.append(Projected(job, topo.pool_site[pool], pool, start, end, False))
        else:
            out.append(Projected(job, -1, -1, math.nan, math.nan, False))
    return out
