"""Where and when each job may run: its feasible slices and, per slice, its compute-start window.

The planning unit is a provider slice of a site's pool (`suanwang.planning.rates`): a job's
feasible slices are `Topology.offers(job)` (its kind, within its round-trip bound, allowed by
its provider lists, offering at least its units). Arrays named `pools` below and in the other
planning modules index slices (`Topology.slices`).

A job placed at `placed_s` in a slice holds its units from then; its compute starts after its
input data has crossed the link (`start = placed + transfer`, transfer = data x 8 / bandwidth)
and lasts `duration_s`. Per feasible slice the planning models use the window of the compute
start `[earliest_s, latest_s]`:

- released at `release = max(submit_s, now_s)`; `earliest = release + transfer`;
- a non-real-time job with a deadline: `latest = deadline - duration` (it must end by then);
- a real-time job (and a job with neither bound nor deadline, which nothing says may wait):
  it starts on arrival, `latest = release + rt_wait_s + transfer` (`rt_wait_s` = 0 by default).

A job is infeasible when no slice of its kind is large enough within its round-trip bound and
its provider lists (`Topology.why_infeasible` says why), or when no slice's window is
non-empty (its deadline is before the earliest possible end). Both are reported by job id with
the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.state import GB_TO_GBIT, Offer, Topology
from suanwang.model import Job

EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class Infeasible:
    """A job no plan can serve as asked, and why."""

    job_id: str
    reason: str
    late_only: bool  # True: pools exist but none can meet the deadline; False: no pool at all


@dataclass(frozen=True)
class WindowGroup:
    """Jobs with one offer list (same origin, kind, bound and provider lists; each fits every
    slice of it).

    Arrays are per job (n) or per job and offered slice (n, k), in the offers' order.
    """

    cands: list[Offer]
    pools: np.ndarray  # (k,) slice index of each offer
    job_index: np.ndarray  # (n,) index into the jobs given to `job_windows`
    units: np.ndarray  # (n,)
    duration_s: np.ndarray  # (n,)
    data_gb: np.ndarray  # (n,) input data moved to the slice
    transfer_s: np.ndarray  # (n, k)
    earliest_s: np.ndarray  # (n, k) earliest compute start
    latest_s: np.ndarray  # (n, k) latest compute start
    ok: np.ndarray  # (n, k) the window is non-empty
    on_arrival: np.ndarray  # (n,) starts on arrival (real-time, or no deadline)


@dataclass(frozen=True)
class Windows:
    groups: list[WindowGroup]
    infeasible: list[Infeasible]

    @property
    def n_jobs(self) -> int:
        return sum(len(g.job_index) for g in self.groups)


def _deadline_reason(job: Job, earliest_end_s: float) -> str:
    return (f"deadline {job.deadline_s:g} s is before the earliest possible end "
            f"{earliest_end_s:g} s at any feasible site (released at "
            f"{job.submit_s:g} s, then data transfer and {job.duration_s:g} s of compute)")


def job_windows(topo: Topology, jobs: Sequence[Job], *, now_s: float = 0.0,
                rt_wait_s: float = 0.0, late_end_s: float | None = None,
                drop_deadlines: bool = False, horizon_end_s: float | None = None) -> Windows:
    """The windows of `jobs` as of `now_s`.

    With `late_end_s`, a job that cannot meet its deadline anywhere is kept with its deadline
    dropped (its compute must end by `late_end_s` instead) and still reported as infeasible
    (`late_only`); without it, such a job is left out. With `drop_deadlines` too, every job
    (real-time ones included) may end as late as `late_end_s`. With `horizon_end_s`, later
    starts must also end within it (starting at once stays allowed).
    """
    if drop_deadlines and late_end_s is None:
        raise ValueError("drop_deadlines needs late_end_s")
    infeasible: list[Infeasible] = []
    by_key: dict[tuple[str, tuple[int, ...]], tuple[list[Offer], list[int]]] = {}
    for i, job in enumerate(jobs):
        cands = topo.offers(job)
        if not cands:
            infeasible.append(Infeasible(job.job_id, topo.why_infeasible(job), late_only=False))
            continue
        key = (job.origin, tuple(c.slice for c in cands))
        entry = by_key.get(key)
        if entry is None:
            by_key[key] = (cands, [i])
        else:
            entry[1].append(i)
    groups: list[WindowGroup] = []
    for cands, idx in by_key.values():
        members = [jobs[i] for i in idx]
        n = len(members)
        bw = np.array([c.bandwidth_gbps for c in cands])
        units = np.fromiter((j.units for j in members), dtype=float, count=n)
        duration = np.fromiter((j.duration_s for j in members), dtype=float, count=n)
        data = np.fromiter((j.data_gb for j in members), dtype=float, count=n)
        release = np.maximum(np.fromiter((j.submit_s for j in members), dtype=float, count=n),
                             now_s)
        deadline = np.fromiter(
            (j.deadline_s if j.deadline_s is not None and j.rtt_bound_ms is None else math.nan
             for j in members), dtype=float, count=n)
        transfer = np.where(data[:, None] > 0, data[:, None] * GB_TO_GBIT / bw[None, :], 0.0)
        earliest = release[:, None] + transfer
        on_arrival = np.isnan(deadline)
        latest = np.where(on_arrival[:, None], earliest + rt_wait_s,
                          (deadline - duration)[:, None] + np.zeros_like(transfer))
        if drop_deadlines:
            latest = np.maximum(latest, (late_end_s - duration)[:, None])
        ok = latest >= earliest - EPS_S
        if horizon_end_s is not None:
            latest = np.where(ok, np.minimum(latest, np.maximum(
                (horizon_end_s - duration)[:, None], earliest)), latest)
        late = ~ok.any(axis=1)
        for r in np.flatnonzero(late).tolist():
            j = members[r]
            end = float((earliest[r] + duration[r]).min())
            infeasible.append(Infeasible(j.job_id, _deadline_reason(j, end), late_only=True))
        keep = ~late
        if late_end_s is not None and late.any():
            latest[late] = np.maximum(late_end_s - duration[late, None], earliest[late])
            ok[late] = True
            keep[:] = True
        if not keep.any():
            continue
        groups.append(WindowGroup(
            cands=cands, pools=np.array([c.slice for c in cands], dtype=np.int64),
            job_index=np.asarray(idx, dtype=np.int64)[keep], units=units[keep],
            duration_s=duration[keep], data_gb=data[keep], transfer_s=transfer[keep],
            earliest_s=earliest[keep],
            latest_s=np.where(ok[keep], np.maximum(latest[keep], earliest[keep]),
                              latest[keep]),
            ok=ok[keep], on_arrival=on_arrival[keep] & ~drop_deadlines))
    return Windows(groups, infeasible)
