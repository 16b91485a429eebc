"""Choosing jobs' slices and starts by their objective plus the price of capacity.

The planning unit is a provider slice of a site's pool (`rates`; arrays named `pools` here
index slices), so an option is (site, provider, pool, start). The slot model (`model`) prices
capacity: `price[p, h]` is what one more unit-hour in slice p during slot h would save the
plan. A job of `units` computing over [a, a + d) in slice p, with `data_gb` of input, then
costs

    units x ( integral of objective_per_unit_h[p] over [a, a + d)
              + integral of price[p] over [a, a + d) )
    + data_gb x egress objective per GB of p

(its own objective, plus what its capacity denies others). Both integrals come from one
cumulative curve per slice, so an option costs two interpolations. Because the rates are
constant within an hour, a job's cost is linear in its start between the times where its
start or its end crosses an hour boundary; so the options worth looking at are its earliest
start, its latest, and every start or end on an hour boundary in between. Among those with
room, the cheapest wins (ties: the smaller objective of its own, the smaller bill for the
tenant, the earliest start, the nearest site).

The tenant's asks are those of the greedy policies (`suanwang.core.provider_choice`): the
allow and deny lists decide the slices offered (`Topology.offers`); an option whose expected
unit price or bill is over the job's cap is no option (`within_price_caps`, on the bill
curve); and its preferred providers come first, in its order (`preference_rank`), before
the cost: a job overflows to the cheapest other provider only when its preferred ones have
no room. A job that can meet its deadline nowhere may only start at once (it will be
late); a later start must also end within `latest_end_s` (a planning horizon). Options are
priced for a whole batch of jobs at once (`price_options`, vectorised per candidate list);
then each job in turn takes its best option that still has room (`pick`).

"Room": starting now needs free units now (the live capacity); a later start needs room in
`Bookings`, the units already planned per pool at every instant (running work and other jobs'
planned starts), so that planned jobs do not all crowd into the same green hour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanwang.core.provider_choice import preference_rank, within_price_caps
from suanwang.core.state import GB_TO_GBIT, Offer, Topology
from suanwang.energy.series import HOUR_S, EnergySeries
from suanwang.model import Job
from suanwang.planning.objective import Objective
from suanwang.planning.rates import egress_objective_per_gb, objective_per_unit_h, trace_rates

TIE = 1e-9  # relative cost difference below which options count as tied


def _cum(a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)


@dataclass(frozen=True)
class PriceBook:
    """Rates and capacity prices of the slices over absolute hours [slot0, slot0 + n); past
    the end the last hour's values hold. `phi[p, k]` = integral over hours slot0 ..
    slot0+k-1 of slice p's objective per busy unit plus its capacity price; `own_*` the same
    without the price (ties in price go to the option with the smaller objective of its own);
    `bill_*` the tenant's yuan per unit-hour (price caps, and ties). Per slice, a job's input
    data costs `egress_per_gb` objective units and `egress_yuan_per_gb` yuan of bill per GB."""

    slot0: int
    per_unit_h: np.ndarray  # (slices, n): objective + capacity price of one busy unit-hour
    phi: np.ndarray  # (slices, n + 1)
    own_per_unit_h: np.ndarray  # (slices, n): objective of one busy unit-hour
    own_phi: np.ndarray  # (slices, n + 1)
    bill_per_unit_h: np.ndarray  # (slices, n): the tenant's yuan per busy unit-hour
    bill_phi: np.ndarray  # (slices, n + 1)
    egress_per_gb: np.ndarray  # (slices,) objective units per GB of input
    egress_yuan_per_gb: np.ndarray  # (slices,)

    @classmethod
    def build(cls, slot0: int, objective_per_unit_h: np.ndarray,
              price_per_unit_h: np.ndarray | None = None,
              bill_per_unit_h: np.ndarray | None = None,
              egress_per_gb: np.ndarray | None = None,
              egress_yuan_per_gb: np.ndarray | None = None) -> PriceBook:
        """From the objective per busy unit-hour (slices x hours; `rates`), and optionally
        capacity prices, the tenant's bill (default: none) and egress (default: none)."""
        own = np.asarray(objective_per_unit_h, dtype=float)
        per = own if price_per_unit_h is None else own + price_per_unit_h
        bill = np.zeros_like(own) if bill_per_unit_h is None else bill_per_unit_h
        none = np.zeros(own.shape[0])
        return cls(slot0, per, _cum(per), own, _cum(own), bill, _cum(bill),
                   none if egress_per_gb is None else np.asarray(egress_per_gb, dtype=float),
                   none if egress_yuan_per_gb is None
                   else np.asarray(egress_yuan_per_gb, dtype=float))

    @classmethod
    def of(cls, topo: Topology, objective: Objective, slot0: int,
           intensity_g_per_kwh: np.ndarray, price_yuan_per_kwh: np.ndarray,
           bill_per_unit_h: np.ndarray, capacity_price: np.ndarray | None = None) -> PriceBook:
        """The book of `objective` on hourly site rates and slice bills from `slot0`."""
        return cls.build(slot0, objective_per_unit_h(topo, objective, intensity_g_per_kwh,
                                                     price_yuan_per_kwh, bill_per_unit_h),
                         capacity_price, bill_per_unit_h,
                         egress_objective_per_gb(topo, objective),
                         np.asarray(topo.slice_egress, dtype=float))

    @classmethod
    def of_trace(cls, topo: Topology, objective: Objective, series: EnergySeries,
                 n_slots: int) -> PriceBook:
        """The book of `objective` on the series' actual rates, hours 0 .. n_slots - 1."""
        intensity, price, bill, _ = trace_rates(topo, series, objective, n_slots)
        return cls.of(topo, objective, 0, intensity, price, bill)

    def with_prices(self, price_per_unit_h: np.ndarray | None) -> PriceBook:
        """The same rates with other capacity prices."""
        per = self.own_per_unit_h if price_per_unit_h is None else (
            self.own_per_unit_h + price_per_unit_h)
        return PriceBook(self.slot0, per, _cum(per), self.own_per_unit_h, self.own_phi,
                         self.bill_per_unit_h, self.bill_phi, self.egress_per_gb,
                         self.egress_yuan_per_gb)

    @property
    def end_s(self) -> float:
        return (self.slot0 + self.per_unit_h.shape[1]) * HOUR_S

    def integral(self, pools: np.ndarray, t_s: np.ndarray, own: bool = False) -> np.ndarray:
        """Integral of `per_unit_h` (`own_per_unit_h` if `own`) of `pools` from slot0 to `t_s`
        (broadcast), per unit."""
        x = t_s / HOUR_S - self.slot0
        k = np.floor(x).astype(np.int64)
        np.minimum(k, self.per_unit_h.shape[1] - 1, out=k)
        np.maximum(k, 0, out=k)
        if own:
            return self.own_phi[pools, k] + self.own_per_unit_h[pools, k] * (x - k)
        return self.phi[pools, k] + self.per_unit_h[pools, k] * (x - k)

    def cost(self, pools: np.ndarray, start_s: np.ndarray, duration_s: np.ndarray,
             units: np.ndarray, own: bool = False) -> np.ndarray:
        """units x the integral over [start, start + duration) (broadcast)."""
        return units * (self.integral(pools, start_s + duration_s, own)
                        - self.integral(pools, start_s, own))

    def costs(self, pools: np.ndarray, start_s: np.ndarray, duration_s: np.ndarray,
              units: np.ndarray, parts: tuple[int, ...] = (0, 1, 2)) -> tuple[np.ndarray, ...]:
        """(`cost`, `cost` with `own`, the compute bill in yuan) at once (without egress);
        `parts` picks some of the three, in that order."""
        n = self.per_unit_h.shape[1]
        flat = self._flat()
        base = np.asarray(pools, dtype=np.int64) * (n + 1)
        ends = []
        for t in (start_s + duration_s, start_s):
            x = t / HOUR_S - self.slot0
            k = np.floor(x)
            np.clip(k, 0, n - 1, out=k)
            f = x - k
            idx = base + k.astype(np.int64)
            ends.append([flat[2 * i].take(idx) + flat[2 * i + 1].take(idx) * f for i in parts])
        return tuple(units * (a - b) for a, b in zip(ends[0], ends[1], strict=True))

    def twins(self, pools: np.ndarray, bandwidth_gbps: np.ndarray) -> np.ndarray | None:
        """For offers in slices `pools` over links of `bandwidth_gbps`: the index of the first
        offer each one prices exactly like (same objective and capacity price in every hour,
        same transfer), or None if no two do. Provider slices of one pool are twins unless
        the objective weighs their bills or the model priced their capacity apart."""
        cache = self.__dict__.setdefault("_twins", {})
        hit = cache.get(id(pools))
        if hit is not None and hit[0] is pools:
            return hit[1]
        rows = self.__dict__.get("_row_ids")
        if rows is None:
            both = np.concatenate([self.per_unit_h, self.own_per_unit_h], axis=1)
            rows = np.unique(both, axis=0, return_inverse=True)[1].ravel()
            object.__setattr__(self, "_row_ids", rows)
        first: dict[tuple[int, float], int] = {}
        rep = np.array([first.setdefault((int(r), float(b)), i) for i, (r, b) in
                        enumerate(zip(rows[pools].tolist(), bandwidth_gbps.tolist(),
                                      strict=True))], dtype=np.int64)
        out = None if len(first) == len(rep) else rep
        if len(cache) > 4096:
            cache.clear()
        cache[id(pools)] = (pools, out)
        return out

    def _flat(self) -> tuple[np.ndarray, ...]:
        """phi, per_unit_h, own_phi, own_per_unit_h, bill_phi, bill_per_unit_h as flat
        arrays of (slices, n + 1) (the rates padded by a zero column), for `take`."""
        cached = self.__dict__.get("_flat_cache")
        if cached is None:
            pad = np.zeros((self.per_unit_h.shape[0], 1))
            cached = tuple(np.ascontiguousarray(a).ravel() for a in (
                self.phi, np.hstack([self.per_unit_h, pad]), self.own_phi,
                np.hstack([self.own_per_unit_h, pad]), self.bill_phi,
                np.hstack([self.bill_per_unit_h, pad])))
            object.__setattr__(self, "_flat_cache", cached)
        return cached


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
    """Units planned per pool at every instant, at `step_s` resolution, and which job planned
    what.

    A job holding `units` over [t0, t1) counts its units in every step it touches, so a plan
    that fits here never has a pool over capacity at any instant (it may leave a little
    capacity unused at the ends of jobs: at most one step each). Steps are absolute (step i
    covers [i x step_s, (i + 1) x step_s)) and the table grows as needed.
    """

    def __init__(self, n_pools: int, step_s: float = 300.0) -> None:
        self.step_s = step_s
        self.booked = np.zeros((n_pools, 1024))
        self._of: dict[str, tuple[int, int, int, float]] = {}

    def _steps(self, t0_s: float, t1_s: float) -> tuple[int, int]:
        i0 = max(math.floor(t0_s / self.step_s + 1e-9), 0)
        i1 = max(math.ceil(t1_s / self.step_s - 1e-9), i0 + 1)
        if i1 > self.booked.shape[1]:
            more = max(i1, 2 * self.booked.shape[1]) - self.booked.shape[1]
            self.booked = np.concatenate([self.booked, np.zeros((len(self.booked), more))],
                                         axis=1)
        return i0, i1

    def fit_mask(self, pools: np.ndarray, t0_s: np.ndarray, t1_s: np.ndarray, units: float,
                 capacity_units: np.ndarray) -> np.ndarray:
        """For each interval [t0, t1) (row r in pools[r]): would `units` more held there keep
        the pool within capacity at every step?"""
        i0 = np.maximum(np.floor(t0_s / self.step_s + 1e-9).astype(np.int64), 0)
        i1 = np.maximum(np.ceil(t1_s / self.step_s - 1e-9).astype(np.int64), i0 + 1)
        lo, hi = int(i0.min()), int(i1.max())
        self._steps(0.0, hi * self.step_s)
        # units and bookings are whole numbers: booked + units > cap + eps, one pass less
        over = (self.booked[pools, lo:hi]
                > (np.asarray(capacity_units, dtype=float) + 1e-9 - units)[:, None])
        width = hi - lo + 1
        cum = np.zeros((len(pools), width), dtype=np.int32)
        np.cumsum(over, axis=1, out=cum[:, 1:])
        flat = cum.ravel()
        base = (np.arange(len(pools)) * width - lo)[:, None]
        return flat.take(base + i1) == flat.take(base + i0)

    def first_fit(self, pool: int, t0_s: float, t1_s: float, units: float,
                  capacity_units: float, within_s: float) -> float | None:
        """The least shift in (0, within_s], in whole steps, after which [t0, t1) fits."""
        i0, i1 = self._steps(t0_s, t1_s)
        n = int(within_s // self.step_s)
        if n < 1:
            return None
        self._steps(t0_s, t1_s + n * self.step_s)
        row = self.booked[pool, i0 + 1:i1 + n]
        peak = np.lib.stride_tricks.sliding_window_view(row, i1 - i0).max(axis=1)
        ok = np.flatnonzero(peak + units <= capacity_units + 1e-9)
        return None if len(ok) == 0 else (int(ok[0]) + 1) * self.step_s

    def add(self, key: str, pool: int, t0_s: float, t1_s: float, units: float) -> None:
        self.remove(key)
        i0, i1 = self._steps(t0_s, t1_s)
        self.booked[pool, i0:i1] += units
        self._of[key] = (pool, i0, i1, units)

    def remove(self, key: str) -> None:
        entry = self._of.pop(key, None)
        if entry is not None:
            pool, i0, i1, units = entry
            self.booked[pool, i0:i1] -= units

    def __contains__(self, key: str) -> bool:
        return key in self._of


@dataclass(frozen=True, slots=True)
class Choice:
    cand: Offer  # the slice: site, provider and pool
    start_s: float  # compute start
    placed_s: float  # start - transfer: when the units are taken
    cost: float  # objective + capacity price, objective units
    now: bool  # placed at the decision time
    late: bool  # no option meets the deadline: this one is the least bad


@dataclass(frozen=True)
class Options:
    """One job's options, best first: rows are its usable slices; column 0 starts at once."""

    cands: list[Offer]
    pools: np.ndarray  # (K,) slice index of each row
    caps: np.ndarray  # (K,) capacity units of each slice
    start_s: np.ndarray  # (K, M) compute start
    placed_s: np.ndarray  # (K, M)
    cost: np.ndarray  # (K, M)
    timely: np.ndarray  # (K,) the slice can still meet the deadline
    order: np.ndarray  # flat indices into (K, M) of the valid options, best first
    data_gb: float = 0.0  # the job's input data (egress at a slid start)


CHUNK_JOBS = 512
MAX_SLIDES = 2  # later starts tried for sliding, per pick (each costs a scan of the bookings)


def price_options(jobs: Sequence[Job], cands: Sequence[Sequence[Offer]],
                  now_s: float | None, book: PriceBook, drained: set[int],
                  latest_end_s: float = math.inf, margin_s: float = 0.0,
                  margin_fraction: float = 0.0) -> list[Options | None]:
    """Options of each job over its offered slices (`Topology.offers`; None where every
    site is drained), decided at `now_s` (None: each job at its own submission).
    `latest_end_s` caps the compute end of later options (a planning horizon); a later start
    must also leave max(`margin_s`, `margin_fraction` x duration) before the deadline (room
    to recover if the slice is full then); starting at once is an option unless it is over
    the job's price caps."""
    out: list[Options | None] = [None] * len(jobs)
    groups: dict[int, tuple[list[Offer], list[int]]] = {}
    for i, c in enumerate(cands):
        entry = groups.get(id(c))
        if entry is None:
            groups[id(c)] = (c if isinstance(c, list) else list(c), [i])
        else:
            entry[1].append(i)
    for group_cands, idx in groups.values():
        arrays = _arrays(group_cands, drained)
        if arrays is None:
            continue
        for lo in range(0, len(idx), CHUNK_JOBS):
            chunk = idx[lo:lo + CHUNK_JOBS]
            for i, opt in zip(chunk, _price_group([jobs[i] for i in chunk], arrays, now_s,
                                                  book, latest_end_s, margin_s,
                                                  margin_fraction), strict=True):
                out[i] = opt
    return out


_Arrays = tuple[list[Offer], np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_ARRAYS: dict[tuple[int, frozenset[int]], tuple[list[Offer], _Arrays | None]] = {}


def _arrays(cands: list[Offer], drained: set[int]) -> _Arrays | None:
    """(usable offers, their slices, bandwidths, round trips, capacities), cached per offer
    list (the cache holds the list, so its id is not reused while cached)."""
    key = (id(cands), frozenset(drained))
    hit = _ARRAYS.get(key)
    if hit is not None and hit[0] is cands:
        return hit[1]
    usable = [c for c in cands if c.site not in drained]
    arrays = None if not usable else (
        usable, np.array([c.slice for c in usable], dtype=np.int64),
        np.array([c.bandwidth_gbps for c in usable]), np.array([c.rtt_ms for c in usable]),
        np.array([c.capacity_units for c in usable], dtype=float))
    if len(_ARRAYS) > 4096:
        _ARRAYS.clear()
    _ARRAYS[key] = (cands, arrays)
    return arrays


def _asks(jobs: list[Job], usable: list[Offer], valid: np.ndarray, bill: np.ndarray,
          egress_yuan: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Each job's preference rank per slice (n, k), 0 for jobs without preferences; `valid`
    (n, k, m) loses the options over a job's price caps (`provider_choice`'s rule on the
    option's expected unit price and bill)."""
    n, k = len(jobs), len(usable)
    pref = np.zeros((n, k))
    for j, job in enumerate(jobs):
        if job.providers_prefer:
            pref[j] = [preference_rank(job, c.provider) for c in usable]
        if job.max_price_yuan_per_unit_h is not None or job.max_bill_yuan is not None:
            unit_h = job.units * d[j] / HOUR_S
            total = bill[j] + egress_yuan[j][:, None]
            valid[j] &= within_price_caps(job, bill[j] / unit_h, total)
    return pref


def _price_group(jobs: list[Job], arrays: _Arrays, now_s: float | None,
                 book: PriceBook, latest_end_s: float, margin_s: float,
                 margin_fraction: float) -> list[Options]:
    usable, pools, bw, rtt, caps = arrays
    n, k = len(jobs), len(usable)
    u = np.fromiter((j.units for j in jobs), dtype=float, count=n)
    d = np.fromiter((j.duration_s for j in jobs), dtype=float, count=n)
    data = np.fromiter((j.data_gb for j in jobs), dtype=float, count=n)
    submit = np.fromiter((j.submit_s for j in jobs), dtype=float, count=n)
    now = submit if now_s is None else np.full(n, now_s)
    deadline = np.fromiter(
        (j.deadline_s if j.deadline_s is not None and j.rtt_bound_ms is None else np.nan
         for j in jobs), dtype=float, count=n)
    transfer = np.where(data[:, None] > 0, data[:, None] * GB_TO_GBIT / bw[None, :], 0.0)
    earliest = np.maximum(submit, now)[:, None] + transfer  # (n, k)
    egress = data[:, None] * book.egress_per_gb[pools][None, :]  # (n, k) objective units
    egress_yuan = data[:, None] * book.egress_yuan_per_gb[pools][None, :]
    waits = ~np.isnan(deadline)
    if not waits.any():  # every job starts on arrival: one option per slice
        cost, own, bill = book.costs(pools[None, :], earliest, d[:, None], u[:, None])
        valid = np.ones((n, k, 1), dtype=bool)
        pref = _asks(jobs, usable, valid, bill[:, :, None], egress_yuan, d)
        cost += egress
        own += egress
        bill += egress_yuan
        scale = np.maximum(np.abs(cost).max(axis=1), 1e-300)[:, None]
        bscale = np.maximum(np.abs(bill).max(axis=1), 1e-300)[:, None]
        order = np.lexsort((np.broadcast_to(rtt, (n, k)), np.round(bill / bscale / TIE),
                            np.round(own / scale / TIE), np.round(cost / scale / TIE), pref),
                           axis=1)
        ones = np.ones(k, dtype=bool)
        placed = earliest - transfer
        return [Options(usable, pools, caps, earliest[j][:, None], placed[j][:, None],
                        cost[j][:, None], ones,
                        order[j][valid[j, order[j], 0]], float(data[j])) for j in range(n)]
    # twin offers (provider slices of one pool, priced alike: `PriceBook.twins`) have the
    # same starts, validity, cost and own objective: those are computed once per twin set,
    # the bill (and the tenant's asks) per offer
    twin = book.twins(pools, bw)
    inv = None
    if twin is None:
        r_pools, r_earliest, r_transfer = pools, earliest, transfer
    else:
        ridx, inv = np.unique(twin, return_inverse=True)
        r_pools, r_earliest, r_transfer = pools[ridx], earliest[:, ridx], transfer[:, ridx]
    by_deadline = np.where(waits[:, None], (deadline - d)[:, None] - r_earliest, 0.0)
    timely = by_deadline >= -1e-6
    margin = np.maximum(margin_s, margin_fraction * d)[:, None]
    room = np.clip(np.minimum(by_deadline - margin, (latest_end_s - d)[:, None] - r_earliest),
                   0.0, None)
    latest = r_earliest + np.where(waits[:, None] & timely, room, 0.0)
    # column 0 starts at once; 1 is the latest start; then starts and ends on hour boundaries
    lo = r_earliest.min(axis=1)
    hi = latest.max(axis=1)
    g0 = np.floor(lo / HOUR_S)
    n_grid = (np.floor(hi / HOUR_S) - g0).astype(np.int64)
    e0 = np.floor((lo + d) / HOUR_S)
    n_ends = (np.floor((hi + d) / HOUR_S) - e0).astype(np.int64)
    gi = np.arange(max(int(n_grid.max()), 0))
    ei = np.arange(max(int(n_ends.max()), 0))
    grid = np.where(gi[None, :] < n_grid[:, None], (g0[:, None] + 1 + gi[None, :]) * HOUR_S,
                    np.nan)
    ends = np.where(ei[None, :] < n_ends[:, None],
                    (e0[:, None] + 1 + ei[None, :]) * HOUR_S - d[:, None], np.nan)
    m = 2 + len(gi) + len(ei)
    start = np.empty((n, len(r_pools), m))
    start[:, :, 0] = r_earliest
    start[:, :, 1] = latest
    start[:, :, 2:] = np.concatenate([grid, ends], axis=1)[:, None, :]
    placed = start - r_transfer[:, :, None]
    with np.errstate(invalid="ignore"):
        valid = ((start >= r_earliest[:, :, None] - 1e-6)
                 & (start <= latest[:, :, None] + 1e-6)
                 & timely[:, :, None] & (placed > now[:, None, None] + 1e-6))
    valid[:, :, 0] = True
    start_f = np.where(valid, start, r_earliest[:, :, None])
    placed = start_f - r_transfer[:, :, None]
    cost, own = book.costs(r_pools[None, :, None], start_f, d[:, None, None],
                           u[:, None, None], parts=(0, 1))
    if inv is not None:
        timely, valid, start_f, placed, cost, own = (
            a.take(inv, axis=1) for a in (timely, valid, start_f, placed, cost, own))
    (bill,) = book.costs(pools[None, :, None], start_f, d[:, None, None], u[:, None, None],
                         parts=(2,))
    pref = _asks(jobs, usable, valid, bill, egress_yuan, d)
    cost += egress[:, :, None]
    own += egress[:, :, None]
    bill += egress_yuan[:, :, None]
    # sort key: deadline-missing last; then the tenant's preferred providers; then cost
    # (ties: own objective, bill, earliest start, then nearest site)
    scale = np.maximum(np.abs(np.where(valid, cost, 0.0)).max(axis=(1, 2)), 1e-300)
    bscale = np.maximum(np.abs(np.where(valid, bill, 0.0)).max(axis=(1, 2)), 1e-300)
    rank = np.round(cost / scale[:, None, None] / TIE)
    first = np.broadcast_to((pref + np.where(timely, 0.0, 1e6))[:, :, None], (n, k, m))
    own = np.round(own / scale[:, None, None] / TIE)
    bill = np.round(bill / bscale[:, None, None] / TIE)
    # (first, rank) and (own, bill) packed into one integer key each when they fit (they
    # do unless an objective is negative): the same order from four sort passes, not six
    packed = _packed_keys(first, rank, own, bill, valid)
    out = []
    for j in range(n):
        flat = np.flatnonzero(valid[j])
        if packed is not None:
            keys = (rtt[flat // m], start_f[j].ravel()[flat], packed[1][j].ravel()[flat],
                    packed[0][j].ravel()[flat])
        else:
            keys = (rtt[flat // m], start_f[j].ravel()[flat], bill[j].ravel()[flat],
                    own[j].ravel()[flat], rank[j].ravel()[flat], first[j].ravel()[flat])
        order = flat[np.lexsort(keys)]
        out.append(Options(usable, pools, caps, start_f[j], placed[j], cost[j], timely[j],
                           order, float(data[j])))
    return out


PACK_BITS = 31  # rounded ranks are within +-1/TIE = 1e9 < 2**30 of zero


def _packed_keys(first: np.ndarray, rank: np.ndarray, own: np.ndarray, bill: np.ndarray,
                 valid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """int64 keys ordering the valid options as (first, rank) and as (own, bill) do, or None
    if some valid value does not fit in PACK_BITS bits (with an offset) or `first` is large."""
    half = float(1 << (PACK_BITS - 1))
    lim = half - 1
    for a in (rank, own, bill):
        if not (np.abs(np.where(valid, a, 0.0)).max(initial=0.0) <= lim):
            return None
    if not (np.where(valid, first, 0.0).max(initial=0.0) < float(1 << 30)
            and np.where(valid, first, 0.0).min(initial=0.0) >= 0):
        return None
    k1 = (first.astype(np.int64) << PACK_BITS) + (rank + half).astype(np.int64)
    k2 = ((own + half).astype(np.int64) << PACK_BITS) + (bill + half).astype(np.int64)
    return k1, k2


def pick(job: Job, opt: Options, now_s: float, free_units: Sequence[int] | None,
         bookings: Bookings | None, book: PriceBook | None = None) -> Choice | None:
    """The best of `opt` that has room: starting at once needs the units free now in the
    slice (`free_units` per slice; with None, room in `bookings`); a later start needs room
    in `bookings`. With `book`, a later start that lacks room may slide later (in booking
    steps, within its window and the hour) to where it has room, if it then beats the best
    option with room: jobs then follow one another in a slice instead of waiting for the
    next hour (tried for the first `MAX_SLIDES` options without room; a slid start keeps the
    option's place in the tenant's preference order, and is not tried for a job with price
    caps, whose option set is checked at the listed starts only)."""
    m = opt.start_s.shape[1]
    order = opt.order
    if len(order) == 0:
        return None
    rows, cols = np.divmod(order, m)
    d, u = job.duration_s, float(job.units)
    caps = opt.caps
    if bookings is None or (m == 1 and free_units is not None):  # nothing needs a booking
        ok = np.ones(len(order), dtype=bool)
    else:
        fit = bookings.fit_mask(opt.pools, opt.placed_s, opt.start_s + d, u, caps)
        ok = fit.ravel()[order]
    if free_units is not None:
        room = np.fromiter((free_units[p] >= job.units for p in opt.pools.tolist()),
                           dtype=bool, count=len(opt.pools))
        ok = np.where(cols == 0, room[rows], ok)
    best = int(np.argmax(ok)) if ok.any() else len(order)
    capped = job.max_price_yuan_per_unit_h is not None or job.max_bill_yuan is not None
    if book is not None and bookings is not None and not capped:
        tries = np.flatnonzero(~ok[:best] & (cols[:best] > 0) & opt.timely[rows[:best]])
        limit = float(opt.cost.ravel()[order[best]]) if best < len(order) else math.inf
        start, placed = opt.start_s.ravel(), opt.placed_s.ravel()
        for i in tries[:MAX_SLIDES].tolist():
            flat, r = int(order[i]), int(rows[i])
            pool = int(opt.pools[r])
            room_s = float(opt.start_s[r, 1]) - start[flat]  # up to the latest start
            shift = bookings.first_fit(pool, placed[flat], start[flat] + d, u, float(caps[r]),
                                       min(room_s, HOUR_S))
            if shift is None:
                continue
            a = start[flat] + shift
            c = float(book.cost(np.array([pool]), np.array([a]), np.array([d]),
                                np.array([u]))[0]) + opt.data_gb * float(book.egress_per_gb[pool])
            if c <= limit * (1 + TIE) or (best < len(order) and _preferred_over(
                    job, opt.cands[r], opt.cands[int(rows[best])])):
                return Choice(opt.cands[r], a, placed[flat] + shift, c, False, False)
    return None if best == len(order) else _choice(job, opt, int(order[best]), now_s)


def _preferred_over(job: Job, a: Offer, b: Offer) -> bool:
    return bool(job.providers_prefer) and (
        preference_rank(job, a.provider) < preference_rank(job, b.provider))


def _choice(job: Job, opt: Options, flat: int, now_s: float) -> Choice:
    m = opt.start_s.shape[1]
    r, k = divmod(flat, m)
    now = k == 0
    return Choice(opt.cands[r], float(opt.start_s[r, k]),
                  now_s if now else float(opt.placed_s[r, k]), float(opt.cost[r, k]), now,
                  not bool(opt.timely[r]))


def choose(job: Job, cands: Sequence[Offer], now_s: float, book: PriceBook,
           bookings: Bookings | None, free_units: Sequence[int] | None, drained: set[int],
           latest_end_s: float = math.inf) -> Choice | None:
    """`pick` on the options of one job (`free_units` per slice)."""
    (opt,) = price_options([job], [cands], now_s, book, drained, latest_end_s)
    return None if opt is None else pick(job, opt, now_s, free_units, bookings, book)
