"""The discrete-event simulator: a trace, a policy, a network and its energy, on a virtual clock.

The scheduling itself is `suanwang.core.scheduler.Scheduler`, the same object the live service
drives on the wall clock: the simulator only advances it to each arrival in turn, submits the
arrival, and records what the scheduler reports. Accounting is done after the run, vectorised,
from the recorded start and end times (`suanwang.core.accounting`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from suanwang.core.policy import Policy
from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.scheduler import PolicyError, Scheduler
from suanwang.core.state import Topology
from suanwang.energy.forecast import Forecaster
from suanwang.energy.series import EnergySeries
from suanwang.gc_pause import gc_paused
from suanwang.model import Job, Network, Placement
from suanwang.sim.result import SimResult

__all__ = ["PolicyError", "ProgressFn", "horizon_hours", "simulate"]

ProgressFn = Callable[[int, int], None]  # (jobs settled, jobs in all)


class _Recorder:
    """Listens to the scheduler and keeps, per job index, where and when it ran."""

    def __init__(self, jobs: Sequence[Job], site_index: dict[str, int]) -> None:
        n = len(jobs)
        self.index = {j.job_id: i for i, j in enumerate(jobs)}
        if len(self.index) != n:
            seen: set[str] = set()
            for j in jobs:
                if j.job_id in seen:
                    raise ValueError(f"job_id {j.job_id!r} appears twice")
                seen.add(j.job_id)
        self.site_index = site_index
        # plain lists while the run goes (a list item is set several times faster than a
        # numpy element); `arrays` turns them into the result's columns
        self.site: list[int] = [-1] * n
        self.pool: list[int] = [-1] * n
        self.slice: list[int] = [-1] * n
        self.slice_of: dict[tuple[str, str, object], int] = {}
        self.placed_s: list[float] = [math.nan] * n
        self.transfer_s: list[float] = [math.nan] * n
        self.deferrals: list[int] = [0] * n
        self.reasons: dict[int, str] = {}
        self.rejected_why: dict[int, str] = {}
        self.settled = 0

    def placed(self, placement: Placement, pool: int) -> None:
        i = self.index[placement.job.job_id]
        self.site[i] = self.site_index[placement.site_id]
        self.pool[i] = pool
        self.slice[i] = self.slice_of[(placement.site_id, placement.provider_id,
                                       placement.job.kind)]
        self.placed_s[i] = placement.placed_s
        self.transfer_s[i] = placement.transfer_s
        self.reasons[i] = placement.reason
        self.settled += 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The kept lists as arrays, each list let go once converted (a million-job run's
        lists and their floats are over 100 MB)."""
        out = {}
        for key, name, dtype in (("site", "site", np.int64), ("pool", "pool", np.int64),
                                 ("slice_idx", "slice", np.int64),
                                 ("placed_s", "placed_s", float),
                                 ("transfer_s", "transfer_s", float),
                                 ("deferrals", "deferrals", np.int32)):
            out[key] = np.array(getattr(self, name), dtype=dtype)
            setattr(self, name, [])
        return out

    def deferred(self, job: Job, until_s: float, reason: str) -> None:
        i = self.index[job.job_id]
        self.deferrals[i] += 1
        self.reasons[i] = reason

    def queued(self, job: Job, reason: str) -> None:
        pass

    def rejected(self, job: Job, reason: str) -> None:
        self.rejected_why[self.index[job.job_id]] = reason
        self.settled += 1

    def finished(self, job: Job, pool: int, now_s: float) -> None:
        pass


def simulate(network: Network, jobs: Sequence[Job], policy: Policy, series: EnergySeries,
             forecaster: Forecaster, progress: ProgressFn | None = None,
             progress_every: int = 20_000, power: PowerCalendar | None = None) -> SimResult:
    """Run `jobs` (sorted by submit_s) through `policy`; return what happened to each.
    With `power`, the sites' facility power is held under its ceilings (grid events)."""
    n = len(jobs)
    for a, b in itertools.pairwise(jobs):
        if b.submit_s < a.submit_s:
            raise ValueError(f"jobs must be sorted by submit_s: {b.job_id} comes after "
                             f"{a.job_id} but is submitted earlier")
    topo = Topology(network)
    if topo.site_ids != series.site_ids:
        raise ValueError("energy series sites do not match the network's sites")
    rec = _Recorder(jobs, {s: i for i, s in enumerate(topo.site_ids)})
    rec.slice_of = topo.slice_of
    sched = Scheduler(topo, forecaster, policy, rec, power=power)

    started = time.perf_counter()
    next_progress = progress_every
    advance, submit = sched.advance, sched.submit
    with gc_paused():  # millions of objects kept, no cycles among them (`gc_pause`)
        for job in jobs:
            advance(job.submit_s)
            submit(job, job.submit_s)
            if progress is not None and rec.settled >= next_progress:
                progress(rec.settled, n)
                next_progress = rec.settled + progress_every
        advance(math.inf)
    for j in sched.waiting():  # can never run (e.g. every site it could use was drained)
        rec.rejected_why[rec.index[j.job_id]] = "still waiting for capacity when the run ended"
    if progress is not None:
        progress(n, n)
    wall_s = time.perf_counter() - started
    return SimResult.build(network=network, jobs=jobs, policy_name=policy.name, series=series,
                           topology=topo, reasons=rec.reasons, rejected=rec.rejected_why,
                           wall_s=wall_s, **rec.arrays())


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
