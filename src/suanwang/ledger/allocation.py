"""Green-power allocation: sharing a site-hour's finite green supply among the jobs drawing in it.

A site-hour's green supply is its metered facility energy times the hour's green share:

    supply_ukwh = floor(metered_ukwh x green_share_micro / 1e6)       (integers, µkWh)

(the green share as sites.csv prints it, six places). A rule hands out exactly that supply, in
whole µkWh, so that no kWh is counted green twice and every record's green part lies between 0
and its own draw. Floor: up to 1 µkWh of an hour's supply may stay unallocated, never more than
the supply is handed out.

Rules (pluggable: anything with `name` and `allocate`):

- `ProRata` (the default): each draw gets supply x draw / total draw. This is the rule jobs.csv
  charges (a job's green kWh = its power x the integral of the green share), so the ledger's sum
  over a job's records equals jobs.csv's green_kwh to rounding (1 µkWh a record, and the green
  share's sixth decimal).
- `ContractedFirst(tenants)`: tenants holding green-power contracts are served first (pro rata
  among them, up to their draws); what is left goes pro rata to the others.

Whole µkWh are handed out by the largest-remainder method (ties to the earlier record), one
vectorised pass over all groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class GroupedDraws:
    """Records sorted into contiguous groups (one group = one site-hour).

    `starts[g]` is the first record of group g; `starts[-1]` == number of records.
    """

    starts: np.ndarray  # int64, len(groups) + 1
    draw_ukwh: np.ndarray  # int64 per record: its facility energy
    supply_ukwh: np.ndarray  # int64 per group: green energy available, <= the group's draw
    tenant: Sequence[str]  # per record

    @property
    def group(self) -> np.ndarray:
        """Group index of each record."""
        counts = np.diff(self.starts)
        return np.repeat(np.arange(len(counts)), counts)


class GreenRule(Protocol):
    name: str
    description: str

    def allocate(self, draws: GroupedDraws) -> np.ndarray:
        """Green µkWh per record (int64): sums per group to its supply, 0 <= green <= draw."""
        ...


def apportion(weights: np.ndarray, starts: np.ndarray, totals: np.ndarray,
              cap: np.ndarray | None = None) -> np.ndarray:
    """Split integer `totals[g]` among group g's records in proportion to `weights`, in whole
    units (largest remainder), never giving a record more than `cap` (when given, with
    sum of caps >= total in every group). Groups whose weights sum to 0 split evenly."""
    n = len(weights)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    counts = np.diff(starts)
    group = np.repeat(np.arange(len(counts)), counts)
    w = np.asarray(weights, dtype=float)
    w_sum = np.add.reduceat(w, starts[:-1]) if len(counts) else np.zeros(0)
    empty = w_sum[group] <= 0
    w = np.where(empty, 1.0, w)
    w_sum = np.where(w_sum <= 0, counts.astype(float), w_sum)
    share = w * (np.asarray(totals, dtype=float) / w_sum)[group]
    if cap is not None:
        share = np.minimum(share, cap)
    floor = np.floor(share).astype(np.int64)
    rem = share - floor
    missing = np.asarray(totals, dtype=np.int64) - np.add.reduceat(floor, starts[:-1])
    order = np.lexsort((-rem, group))  # within each group, largest remainder first
    rank = np.arange(n) - starts[:-1][group[order]]
    bonus = rank < missing[group[order]]
    floor[order[bonus]] += 1
    return floor


@dataclass(frozen=True)
class ProRata:
    name: str = "pro-rata"
    description: str = ("each job drawing in a site-hour gets the hour's green supply in "
                        "proportion to its facility energy")

    def allocate(self, draws: GroupedDraws) -> np.ndarray:
        return apportion(draws.draw_ukwh, draws.starts, draws.supply_ukwh, cap=draws.draw_ukwh)


@dataclass(frozen=True)
class ContractedFirst:
    tenants: frozenset[str] = field(default_factory=frozenset)
    name: str = "contracted-first"
    description: str = ("tenants holding green-power contracts are served first, pro rata "
                        "among them up to their draws; the rest goes pro rata to the others")

    def allocate(self, draws: GroupedDraws) -> np.ndarray:
        contracted = np.fromiter((t in self.tenants for t in draws.tenant), dtype=bool,
                                 count=len(draws.draw_ukwh))
        draw = draws.draw_ukwh
        first_draw = np.where(contracted, draw, 0)
        other_draw = draw - first_draw
        starts = draws.starts[:-1]
        c_total = (np.add.reduceat(first_draw, starts) if len(starts)
                   else np.zeros(0, dtype=np.int64))
        first = np.minimum(c_total, draws.supply_ukwh)
        rest = draws.supply_ukwh - first
        return (apportion(first_draw, draws.starts, first, cap=first_draw)
                + apportion(other_draw, draws.starts, rest, cap=other_draw))


DEFAULT_RULE: GreenRule = ProRata()
