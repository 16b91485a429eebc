"""Choosing one job's pool and start by its objective plus the price of capacity.

The slot model (`model`) prices capacity: `price[p, h]` is what one more unit-hour in pool p
during slot h would save the plan. A job of `units` computing over [a, a + d) in pool p then
costs

    units x ( kw_per_unit_facility[p] x integral of rate[site(p)] over [a, a + d)
              + integral of price[p] over [a, a + d) )

(its own objective, plus what its capacity denies others). Both integrals come from one
cumulative curve per pool, so an option costs two interpolations. Because the rates are
constant within an hour, a job's cost is linear in its start between the times where its
start or its end crosses an hour boundary; so the options worth looking at are its earliest
start, its latest, and every start or end on an hour boundary in between. Among those with
room, the cheapest wins (ties: the earliest start, then the nearest pool).

"Room": starting now needs free units now (the live capacity); a later start needs room in
`Bookings`, the unit-hours already planned per pool and slot (running work and other jobs'
planned starts), so that planned jobs do not all crowd into the same green hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.state import Candidate
from suanwang.energy.series import HOUR_S
from suanwang.model import Job

TIE = 1e-9  # relative cost difference below which options count as tied


@dataclass(frozen=True)
class PriceBook:
    """Rates and capacity prices over absolute hours [slot0, slot0 + n); past the end the last
    hour's values hold. `phi[p, k]` = integral over hours slot0 .. slot0+k-1 of pool p's
    objective per busy unit (kW x rate) plus its capacity price."""

    slot0: int
    per_unit_h: np.ndarray  # (pools, n): objective + capacity price of one busy unit-hour
    phi: np.ndarray  # (pools, n + 1)

    @classmethod
    def build(cls, slot0: int, rate_per_kwh: np.ndarray, pool_site: Sequence[int],
              kw_per_unit_facility: Sequence[float],
              price_per_unit_h: np.ndarray | None = None) -> PriceBook:
        per = (np.asarray(kw_per_unit_facility, dtype=float)[:, None]
               * rate_per_kwh[np.asarray(pool_site, dtype=np.int64)])
        if price_per_unit_h is not None:
            per = per + price_per_unit_h
        phi = np.concatenate([np.zeros((per.shape[0], 1)), np.cumsum(per, axis=1)], axis=1)
        return cls(slot0, per, phi)

    @property
    def end_s(self) -> float:
        return (self.slot0 + self.per_unit_h.shape[1]) * HOUR_S

    def integral(self, pools: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Integral of `per_unit_h` of `pools` from slot0 to `t_s` (broadcast), per unit."""
        n = self.per_unit_h.shape[1]
        x = t_s / HOUR_S - self.slot0
        k = np.clip(np.floor(x).astype(np.int64), 0, n - 1)
        return self.phi[pools, k] + self.per_unit_h[pools, k] * (x - k)


def occupancy_unit_h(n_pools: int, slot0: int, n_slots: int, pools: np.ndarray,
                     t0_s: np.ndarray, t1_s: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Unit-hours held per pool and absolute slot slot0 .. slot0+n-1 by work holding `units`
    of `pools` over [t0, t1) (arrays of equal length; the parts outside the slots are cut)."""
    lo, hi = slot0 * HOUR_S, (slot0 + n_slots) * HOUR_S
    t0 = np.clip(np.asarray(t0_s, dtype=float), lo, hi)
    t1 = np.clip(np.asarray(t1_s, dtype=float), lo, hi)
    keep = t1 > t0
    pools, t0, t1 = np.asarray(pools)[keep], t0[keep], t1[keep]
    u = np.asarray(units, dtype=float)[keep]
    out = np.zeros((n_pools, n_slots + 1))
    h0 = np.floor(t0 / HOUR_S).astype(np.int64) - slot0
    h1 = np.ceil(t1 / HOUR_S).astype(np.int64) - slot0
    # full slots via differences, then the partial first and last slot
    np.add.at(out, (pools, h0), u)
    np.add.at(out, (pools, h1), -u)
    out = np.cumsum(out, axis=1)[:, :n_slots]
    np.add.at(out, (pools, h0), -u * (t0 / HOUR_S - slot0 - h0))
    np.add.at(out, (pools, h1 - 1), -u * (h1 + slot0 - t1 / HOUR_S))
    return np.maximum(out, 0.0)


class Bookings:
    """Unit-hours planned per pool and absolute slot, and which job planned what."""

    def __init__(self, n_pools: int, slot0: int, n_slots: int,
                 booked: np.ndarray | None = None) -> None:
        self.slot0 = slot0
        self.booked = np.zeros((n_pools, n_slots)) if booked is None else booked.copy()
        self._of: dict[str, tuple[int, int, np.ndarray]] = {}

    @staticmethod
    def profile(t0_s: float, t1_s: float) -> tuple[int, np.ndarray]:
        """(first absolute slot, hours of each slot inside [t0, t1))."""
        h0 = math.floor(t0_s / HOUR_S)
        h1 = max(math.ceil(t1_s / HOUR_S), h0 + 1)
        edges = np.arange(h0, h1 + 1) * HOUR_S
        return h0, (np.minimum(edges[1:], t1_s) - np.maximum(edges[:-1], t0_s)) / HOUR_S

    def _slice(self, h0: int, n: int) -> tuple[int, int, int]:
        lo = h0 - self.slot0
        a, b = max(lo, 0), min(lo + n, self.booked.shape[1])
        return a, b, a - lo

    def fits(self, pool: int, t0_s: float, t1_s: float, units: float,
             capacity_unit_h: float) -> bool:
        h0, hours = self.profile(t0_s, t1_s)
        a, b, skip = self._slice(h0, len(hours))
        if b <= a:
            return True
        add = units * hours[skip:skip + b - a]
        return bool(np.all(self.booked[pool, a:b] + add <= capacity_unit_h * (1 + 1e-9)))

    def add(self, key: str, pool: int, t0_s: float, t1_s: float, units: float) -> None:
        self.remove(key)
        h0, hours = self.profile(t0_s, t1_s)
        a, b, skip = self._slice(h0, len(hours))
        if b > a:
            add = units * hours[skip:skip + b - a]
            self.booked[pool, a:b] += add
            self._of[key] = (pool, a, add)

    def remove(self, key: str) -> None:
        entry = self._of.pop(key, None)
        if entry is not None:
            pool, a, add = entry
            self.booked[pool, a:a + len(add)] -= add

    def __contains__(self, key: str) -> bool:
        return key in self._of


@dataclass(frozen=True, slots=True)
class Choice:
    cand: Candidate
    start_s: float  # compute start
    placed_s: float  # start - transfer: when the units are taken
    cost: float  # objective + capacity price, objective units
    now: bool  # placed at the decision time
    late: bool  # no option meets the deadline: this one is the least bad


def choose(job: Job, cands: Sequence[Candidate], now_s: float, book: PriceBook,
           bookings: Bookings | None, free_units: Sequence[int], drained: set[int],
           latest_end_s: float = math.inf) -> Choice | None:
    """The cheapest option with room for `job` (decided at `now_s`), or None if no pool can
    take it now and no later option has room. `latest_end_s` caps the compute end of later
    options (a planning horizon); starting now is always considered."""
    usable = [c for c in cands if c.site not in drained]
    if not usable:
        return None
    release = max(job.submit_s, now_s)
    d = job.duration_s
    u = float(job.units)
    pools = np.array([c.pool for c in usable], dtype=np.int64)
    transfer = np.array([c.transfer_s(job.data_gb) for c in usable])
    earliest = release + transfer
    if job.deadline_s is not None and job.rtt_bound_ms is None:
        by_deadline = job.deadline_s - d - earliest  # slack of each pool, s
        timely = by_deadline >= -1e-6
        # later starts must also end within the horizon; starting now is always allowed
        latest = earliest + np.clip(np.minimum(by_deadline, latest_end_s - d - earliest),
                                    0.0, None)
    else:  # real-time, or no deadline: starts on arrival
        timely = np.ones(len(usable), dtype=bool)
        latest = earliest.copy()
    # option times: earliest, latest, and every start or end on an hour boundary in between
    lo, hi = float(earliest.min()), float(latest.max())
    grid = np.arange(math.floor(lo / HOUR_S) + 1, math.floor(hi / HOUR_S) + 1) * HOUR_S
    ends = np.arange(math.floor((lo + d) / HOUR_S) + 1, math.floor((hi + d) / HOUR_S) + 1) * HOUR_S
    times = np.concatenate([grid, ends - d])
    opt = np.concatenate([earliest[:, None], latest[:, None],
                          np.broadcast_to(times, (len(usable), len(times)))], axis=1)
    inside = (opt >= earliest[:, None] - 1e-6) & (opt <= latest[:, None] + 1e-6)
    inside &= timely[:, None]
    inside[:, 0] = True  # starting now is always an option (late if not timely)
    cost = u * (book.integral(pools[:, None], opt + d) - book.integral(pools[:, None], opt))
    is_now = np.zeros(opt.shape, dtype=bool)
    is_now[:, 0] = earliest - transfer <= now_s + 1e-6
    free = np.array([free_units[p] for p in pools])
    room_now = free >= job.units
    allowed = inside & (~is_now | room_now[:, None])
    late_now = ~timely
    allowed[late_now, 0] = room_now[late_now] & is_now[late_now, 0]
    # late options come last; then cost (ties: earliest start, nearest pool)
    scale = max(float(np.abs(cost[allowed]).max()) if allowed.any() else 1.0, 1e-300)
    rank = np.where(late_now[:, None], 1.0, 0.0) * 1e6 + np.round(cost / scale / TIE) * TIE
    r_idx, c_idx = np.nonzero(allowed)
    if len(r_idx) == 0:
        return None
    rtt = np.array([c.rtt_ms for c in usable])
    order = np.lexsort((rtt[r_idx], opt[r_idx, c_idx], rank[r_idx, c_idx]))
    for o in order.tolist():
        r, k = int(r_idx[o]), int(c_idx[o])
        a = float(opt[r, k])
        now = bool(is_now[r, k])
        if not now:
            if a - transfer[r] <= now_s + 1e-6:
                continue  # a "later" option that is really now, without free units
            if bookings is not None and not bookings.fits(
                    int(pools[r]), a - transfer[r], a + d, u, usable[r].capacity_units):
                continue
        return Choice(usable[r], a, now_s if now else a - float(transfer[r]),
                      float(cost[r, k]), now, bool(late_now[r]))
    return None
