"""Job classes: jobs that the slot model cannot tell apart, merged so that the model stays small.

The "pools" here are the planning units, provider slices (`rates`), each with its provider's
quota as capacity. Jobs are grouped by their set of feasible pools (same kind, and the same
pools within their round-trip bound and provider lists whose windows are open). Within a
group they form classes:

- every job that starts on arrival (real-time, or without a deadline) joins one class: its
  time is not a decision, and its rate caps below pin its work to its own hours;
- jobs that may wait are classed by the slot in which their window opens (coarsened to
  `bucket_h` slots).

For a class the model knows:

- `work_unit_h`: the unit-hours of compute its jobs need, sum of units x duration / 1 h;
- `rate_unit_h[h]`: the most unit-hours its jobs can compute in slot h: the sum over its jobs
  of units x the hours of slot h inside the job's own compute window (`[earliest start, latest
  end)`, the union over its pools), since a job runs `units` at a time;
- `due`: for each slot d at which some of its jobs' windows close, the work of the jobs whose
  windows close by d: at least that much must be computed before slot d.

Why the bound stays a bound: take any feasible plan (every job in one feasible pool, its
compute started within its window, no pool over capacity at any instant) and add up, per
class, pool and slot, the unit-hours its jobs compute there. Those numbers satisfy every
constraint of the model: they sum to the class's work; before each due slot d they include all
the work of the jobs whose windows close by d; in each slot they are at most the class's rate
cap (each job computes at most `units` during the part of the slot inside its window); they use
only the class's pools; and per pool and slot their total is at most capacity x 1 h (a limit
that holds at every instant holds on average). Their objective is the plan's exact objective,
because the series is constant within an hour. So the optimum is at most every feasible plan's
objective. Merging jobs into a class only adds freedom (a job may borrow a class-mate's rate,
run in pieces, move between pools); it never removes any, which is what makes coarser classes
safe: they loosen the bound, they never invalidate it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suanwang.energy.series import HOUR_S
from suanwang.planning.demand import Windows


@dataclass(frozen=True)
class JobClasses:
    """One entry per class; `rate_unit_h` is flat, class c's slots at offset[c] onwards; the
    `due_*` arrays list (class, slot, work due before that slot), sorted by class and slot."""

    pools: list[np.ndarray]  # pools of each pool group
    group: np.ndarray  # (C,) pool group of each class
    first_slot: np.ndarray  # (C,) absolute slot index of its first slot
    n_slots: np.ndarray  # (C,)
    offset: np.ndarray  # (C,)
    rate_unit_h: np.ndarray  # (sum of n_slots,)
    work_unit_h: np.ndarray  # (C,)
    n_jobs: np.ndarray  # (C,)
    due_class: np.ndarray  # (D,)
    due_slot: np.ndarray  # (D,) absolute slot: this much work is done in slots before it
    due_unit_h: np.ndarray  # (D,)

    def __len__(self) -> int:
        return len(self.first_slot)

    @property
    def last_slot(self) -> int:
        """One past the last slot any class uses (0 if there are no classes)."""
        return int((self.first_slot + self.n_slots).max()) if len(self) else 0


def aggregate(windows: Windows, bucket_h: int = 1) -> JobClasses:
    """Classes of the jobs in `windows` (hourly slots)."""
    pool_sets: dict[tuple[int, ...], int] = {}
    keys, units, dur, start, end = [], [], [], [], []
    for g in windows.groups:
        k = len(g.pools)
        e = np.where(g.ok, g.earliest_s, np.inf).min(axis=1)
        f = np.where(g.ok, g.latest_s, -np.inf).max(axis=1) + g.duration_s
        bits = (g.ok * (1 << np.arange(k, dtype=np.int64))[None, :]).sum(axis=1)
        gid = np.empty(len(e), dtype=np.int64)
        for b in np.unique(bits).tolist():
            pools = tuple(g.pools[[i for i in range(k) if b >> i & 1]].tolist())
            gid[bits == b] = pool_sets.setdefault(pools, len(pool_sets))
        h0 = np.floor(e / HOUR_S).astype(np.int64)
        keys.append(np.stack([gid, np.where(g.on_arrival, -1, h0 // bucket_h)], axis=1))
        units.append(g.units)
        dur.append(g.duration_s)
        start.append(e)
        end.append(f)
    if not keys:
        e0 = np.zeros(0, dtype=np.int64)
        f0 = np.zeros(0)
        return JobClasses([], e0, e0, e0, e0, f0, f0, e0, e0, e0, f0)
    u = np.concatenate(units)
    e = np.concatenate(start)
    f = np.concatenate(end)
    w = u * np.concatenate(dur) / HOUR_S
    uniq, cls = np.unique(np.concatenate(keys), axis=0, return_inverse=True)
    cls = cls.ravel()
    n_cls = len(uniq)
    h0 = np.floor(e / HOUR_S).astype(np.int64)
    h1 = np.maximum(np.ceil(f / HOUR_S).astype(np.int64), h0 + 1)
    first = np.full(n_cls, np.iinfo(np.int64).max)
    np.minimum.at(first, cls, h0)
    stop = np.zeros(n_cls, dtype=np.int64)
    np.maximum.at(stop, cls, h1)
    n_slots = stop - first
    offset = np.concatenate([[0], np.cumsum(n_slots)[:-1]]).astype(np.int64)
    total = int(n_slots.sum())

    # rate caps: u per full slot inside [e, f), the overlap in the first and last slot
    base = offset[cls] + (h0 - first[cls])
    span = h1 - h0
    diff = np.zeros(total + 1)
    interior = span >= 3
    np.add.at(diff, base[interior] + 1, u[interior])
    np.add.at(diff, base[interior] + span[interior] - 1, -u[interior])
    rate = np.cumsum(diff)[:total]
    np.add.at(rate, base, u * (np.minimum(f, (h0 + 1) * HOUR_S) - e) / HOUR_S)
    last = span >= 2
    np.add.at(rate, base[last] + span[last] - 1,
              u[last] * (f[last] - (h1[last] - 1) * HOUR_S) / HOUR_S)
    rate = np.maximum(rate, 0.0)

    # work due before each slot where some window closes (the last one is the class total)
    due_key, due_idx = np.unique(np.stack([cls, h1], axis=1), axis=0, return_inverse=True)
    due_w = np.bincount(due_idx.ravel(), weights=w, minlength=len(due_key))
    due_cum = np.cumsum(due_w)
    due_cls = due_key[:, 0]
    starts = np.searchsorted(due_cls, np.arange(n_cls))
    due_cum -= np.concatenate([[0.0], due_cum])[starts][due_cls]
    inner = due_key[:, 1] < stop[due_cls]
    # pool groups are sets: offer lists in another order (another origin) share one group,
    # while their jobs keep their own classes (merging those would loosen the bound)
    sets: dict[tuple[int, ...], int] = {}
    set_of = np.array([sets.setdefault(tuple(sorted(p)), len(sets)) for p in pool_sets],
                      dtype=np.int64)
    return JobClasses(pools=[np.asarray(p, dtype=np.int64) for p in sets],
                      group=set_of[uniq[:, 0]], first_slot=first, n_slots=n_slots,
                      offset=offset, rate_unit_h=rate,
                      work_unit_h=np.bincount(cls, weights=w, minlength=n_cls),
                      n_jobs=np.bincount(cls, minlength=n_cls).astype(np.int64),
                      due_class=due_cls[inner].astype(np.int64),
                      due_slot=due_key[inner, 1].astype(np.int64), due_unit_h=due_cum[inner])
