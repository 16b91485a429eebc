"""Classes of the tight bound's configuration LP (`tight_bound`): identical jobs, or a grid.

`job_classes` merges only identical jobs (same windows per slice, units, duration, data and
slices): the class LP is the per-job LP. At 100,000 jobs almost no two jobs are identical, so
`grid_classes` merges jobs into classes of *interchangeable* members by a relaxation that
keeps the LP a lower bound. Within one window group (same slices, `demand.WindowGroup`), jobs
whose earliest start (over their slices) falls in the same `ClassGrid.window_s` bin, whose
latest start falls in the same bin, whose duration falls in the same geometric bucket
[r^k, r^(k+1)) of ratio r = `ClassGrid.duration_ratio` and whose feasible slices are the same
form one class c, with

    per slice p:  E_cp = min_j earliest_jp,   L_cp = max_j latest_jp   (the windows' hull)
    D_c = min of duration_j over all jobs in c's duration bucket       (the shortest run)
    weight n_c = sum_j units_j, and the column is one unit (units 1)   (unit-weighted)
    data per unit = min_j data_j / units_j
    tail_c = sum_j units_j (duration_j - D_c)                          (unit-seconds)

Why it stays a bound (objective per busy unit-hour r_p(t) >= 0 and egress per GB >= 0 — the
caller checks; with negative rates it uses `job_classes`): take any feasible point x of the
per-job LP (x_j(o) >= 0, sum_o x_j(o) = 1) and set y_c(o) = sum_j units_j x_j(o) / n_c, o =
(p, a) with a in [earliest_jp, latest_jp] inside [E_cp, L_cp], so every member's option is a
class option. Capacity: a member's run [a, a + d_j) contains the class run [a, a + D_c), so
the class uses at most the same unit-hours in every slot (and kWh under site caps): y is
feasible. Cost: units_j x integral of r_p over [a, a + d_j) >= units_j x (integral over [a,
a + D_c) + (d_j - D_c) x min_{t} r_p(t)) and data_j x egress_p >= units_j x (data per unit)
x egress_p, so the per-job cost of x >= the class cost of y + sum_c tail_c x rmin_g / 3600,
rmin_g the smallest rate of any slice of the group in any hour of the horizon. Hence class
LP optimum + that constant <= per-job LP optimum <= every feasible plan, and so is every
Lagrangian bound of the class LP plus the constant. When every job is its own class the hull
is its window, D its duration, the tail 0: the class LP is the per-job LP (a column scaled by
the job's units). Merging jobs that differ only in units is exact for any objective without
egress (use and cost are linear in units).

The Lagrangian (`tight_bound`: the value returned when the time limit ends column generation,
as at 100,000 jobs) counts the tails better than that constant: a member's tail t_j <= tau
(the longest of its bucket) follows its run in the same pool, so it costs at least t_j x the
pool's cheapest rate (objective plus capacity price) over [E_cp + D_c, L_cp + D_c + tau];
the member's best option is then at least h(t_j), h(t) = min_p (best_p + t x that rate),
concave in t, so at least the chord between h(0) and h(tau) (`tight_bound._tail_lagrangian`).

Coarser grids (larger `window_s`, larger `duration_ratio`) give fewer classes and options,
hence a faster and looser bound; `duration_ratio` 1 keeps durations exact. The default
(15-minute bins, durations within 5%) is the one measured in the README (Planning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suanwang.planning.demand import Windows


@dataclass(frozen=True)
class ClassGrid:
    """The granularity of `grid_classes`: window bins of `window_s` seconds, duration buckets
    of ratio `duration_ratio` (1: exact durations)."""

    window_s: float = 900.0
    duration_ratio: float = 1.05

    def __post_init__(self) -> None:
        if not (self.window_s > 0 and math.isfinite(self.window_s)):
            raise ValueError(f"ClassGrid.window_s must be > 0, got {self.window_s}")
        if not (self.duration_ratio >= 1 and math.isfinite(self.duration_ratio)):
            raise ValueError(f"ClassGrid.duration_ratio must be >= 1, got "
                             f"{self.duration_ratio}")

    def describe(self) -> str:
        d = ("exact durations" if self.duration_ratio == 1
             else f"durations in buckets of ratio {self.duration_ratio:g}")
        return f"class grid: windows in {self.window_s:g} s bins, {d}"


@dataclass(frozen=True)
class Classes:
    """Classes of interchangeable jobs; arrays per class (C) or per class and pool (C, k) of
    its group; `pools[g]` the pools of group g. A class stands for `count` copies of a run of
    `units` for `duration_s`; `tail_unit_s` is the work its members have beyond that (grid
    classes only; module docstring)."""

    pools: list[np.ndarray]
    group_rows: list[np.ndarray]  # class indices of each group
    units: np.ndarray  # (C,)
    duration_s: np.ndarray  # (C,)
    data_gb: np.ndarray  # (C,) input data of each copy
    count: np.ndarray  # (C,) copies in the class
    earliest_s: list[np.ndarray]  # per group (n_g, k_g)
    latest_s: list[np.ndarray]
    ok: list[np.ndarray]
    tail_unit_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (C,) or empty
    tail_max_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (C,): longest tail

    def __len__(self) -> int:
        return len(self.units)

    def tail_value(self, per_unit_h: np.ndarray) -> float:
        """sum_c tail_c x the smallest of `per_unit_h` (slices x hours) over its group's
        slices and hours, clipped at 0: a lower bound on the objective of the tails."""
        if not len(self.tail_unit_s) or not self.tail_unit_s.any():
            return 0.0
        total = 0.0
        for g, rows in enumerate(self.group_rows):
            rate = max(float(per_unit_h[self.pools[g]].min(initial=math.inf)), 0.0)
            if math.isfinite(rate):
                total += float(self.tail_unit_s[rows].sum()) / 3600.0 * rate
        return total


def _cat(a: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(a) if a else np.zeros(0)


def job_classes(windows: Windows) -> Classes:
    """Merge jobs whose windows, units, duration, data and pools are all equal."""
    pools, rows, units, dur, data, count, early, late, oks = ([] for _ in range(9))
    n = 0
    for g in windows.groups:
        key = np.concatenate([g.units[:, None], g.duration_s[:, None], g.data_gb[:, None],
                              g.earliest_s,
                              np.where(g.ok, g.latest_s, -1.0), g.ok.astype(float)], axis=1)
        uniq, first, cnt = np.unique(key, axis=0, return_index=True, return_counts=True)
        m = len(uniq)
        pools.append(g.pools)
        rows.append(np.arange(n, n + m))
        units.append(g.units[first])
        dur.append(g.duration_s[first])
        data.append(g.data_gb[first])
        count.append(cnt.astype(float))
        early.append(g.earliest_s[first])
        late.append(np.where(g.ok[first], g.latest_s[first], g.earliest_s[first]))
        oks.append(g.ok[first])
        n += m
    return Classes(pools, rows, _cat(units), _cat(dur), _cat(data), _cat(count), early, late,
                   oks)


def grid_classes(windows: Windows, grid: ClassGrid) -> Classes:
    """Merge the jobs of each group by `grid` (module docstring): unit-weighted classes over
    the hull of their members' windows, with their shortest duration and their tails."""
    pools, rows, dur, data, count, early, late, oks, tails, t_max = ([] for _ in range(10))
    n = 0
    # every class of a bucket runs the bucket's shortest duration over all groups (shared,
    # so that the pricing computes each duration's runs once: `tight_bound._price_shared`)
    all_d = _cat([g.duration_s for g in windows.groups])
    buckets, b_inv = np.unique(_bucket(all_d, grid), return_inverse=True)
    d_floor = np.full(len(buckets), np.inf)
    np.minimum.at(d_floor, b_inv.ravel(), all_d)
    for g in windows.groups:
        ok = g.ok
        e_min = np.where(ok, g.earliest_s, np.inf).min(axis=1)
        l_max = np.where(ok, g.latest_s, -np.inf).max(axis=1)
        d_bin = _bucket(g.duration_s, grid)
        d_job = d_floor[np.searchsorted(buckets, d_bin)]
        _, ok_id = np.unique(ok, axis=0, return_inverse=True)
        parts = [np.floor(e_min / grid.window_s), np.floor(l_max / grid.window_s),
                 np.searchsorted(buckets, d_bin), ok_id.ravel()]
        key = np.zeros(len(ok), dtype=np.int64)
        for part in parts:  # one integer per (window bins, bucket, feasible pools)
            _, idx = np.unique(part, return_inverse=True)
            key = key * (int(idx.max(initial=0)) + 1) + idx.ravel()
            key = np.unique(key, return_inverse=True)[1].ravel()  # < n: no overflow
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.ravel()
        m = len(first)
        order = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[order], np.arange(m))
        u = g.units[order]
        d = g.duration_s[order]
        d_min = d_job[order][starts]
        weight = np.add.reduceat(u, starts)
        e = np.where(ok, g.earliest_s, np.inf)[order]
        lt = np.where(ok, g.latest_s, -np.inf)[order]
        ok_c = ok[first]
        e_c = np.minimum.reduceat(e, starts, axis=0)
        l_c = np.maximum.reduceat(lt, starts, axis=0)
        # pools a class cannot use: as `job_classes`, latest = earliest (any finite value)
        e_any = g.earliest_s[first]
        e_c = np.where(ok_c, e_c, e_any)
        l_c = np.where(ok_c, l_c, e_any)
        pools.append(g.pools)
        rows.append(np.arange(n, n + m))
        dur.append(d_min)
        data.append(np.minimum.reduceat(g.data_gb[order] / u, starts))
        count.append(weight.astype(float))
        early.append(e_c)
        late.append(l_c)
        oks.append(ok_c)
        tails.append(np.add.reduceat(u * (d - d_min[inv[order]]), starts))
        t_max.append(np.maximum.reduceat(d - d_min[inv[order]], starts))
        n += m
    dur_a = _cat(dur)
    return Classes(pools, rows, np.ones(len(dur_a)), dur_a, _cat(data), _cat(count), early,
                   late, oks, _cat(tails), _cat(t_max))


def _bucket(duration_s: np.ndarray, grid: ClassGrid) -> np.ndarray:
    """The duration bucket of each job: floor(log_r d), or d itself for r = 1."""
    if grid.duration_ratio == 1:
        return duration_s
    return np.floor(np.log(np.maximum(duration_s, 1e-9)) / math.log(grid.duration_ratio))


def option_count(windows: Windows, slot_s: float) -> int:
    """About how many (job, slice, start) options `job_classes` gives: per feasible slice the
    window's ends and every slot boundary a start or an end crosses inside it."""
    total = 0.0
    for g in windows.groups:
        span = np.where(g.ok, np.maximum(g.latest_s - g.earliest_s, 0.0), 0.0)
        total += float((g.ok * (1.0 + (span > 0)) + 2.0 * np.floor(span / slot_s)).sum())
    return int(total)
