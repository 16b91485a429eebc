"""Power ceilings and fill levels per site and time: the grid's side of the capacity view.

A `Ceiling` holds a site's facility power (units busy x kW per unit x PUE, as
`core.accounting` counts it; a job counts from its placement, its data transfer included, so
the check is never looser than the accounting) at or below `kw` over [start_s, end_s) on the
run's clock (`reserve_kw` of it kept for real-time work: deferrable work is held under the
rest). `hard` ceilings (有序用电, a cap) are never exceeded; soft ones (a demand-response
shed) yield to a real-time job that has nowhere else to go and to a deadline that cannot wait.
A `FillLevel` asks for facility power up to `kw` over its window: the scheduler pulls deferred
work forward to a site below it.

The scheduler (`core.scheduler`) turns the ceilings active now into fewer units offered by the
site's pools (every policy sees the same reduced free capacity) and checks each placement over
its whole run against the ceilings it will meet.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ceiling:
    site: int  # site index (Topology.sites)
    start_s: float
    end_s: float
    kw: float  # the most facility power allowed at the site in the window
    hard: bool  # a cap (never exceeded) or a shed (yields to real time and deadlines)
    event_id: str  # the grid event it comes from, for reasons
    reserve_kw: float = 0.0  # of `kw`, held for real-time work: deferrable work stays under
    # kw - reserve_kw (real-time work cannot wait or, within its bound, often move)

    def limit_kw(self, realtime: bool) -> float:
        return self.kw if realtime else max(self.kw - self.reserve_kw, 0.0)

    def describe(self, site_id: str) -> str:
        what = "hard cap 有序用电" if self.hard else "shed 削峰"
        return (f"grid event {self.event_id}: {what} at {site_id} holds facility power at or "
                f"below {self.kw:,.1f} kW until t={self.end_s:,.0f} s")


@dataclass(frozen=True, slots=True)
class FillLevel:
    site: int
    start_s: float
    end_s: float
    kw: float  # facility power asked for (the baseline plus the fill target)
    event_id: str


class PowerCalendar:
    """The ceilings and fill levels of a run, by site, with the instants they change."""

    def __init__(self, ceilings: Sequence[Ceiling] = (), fills: Sequence[FillLevel] = ()) -> None:
        for c in ceilings:
            if not c.end_s > c.start_s or c.kw < 0:
                raise ValueError(f"bad ceiling {c}: needs end_s > start_s and kw >= 0")
        self.ceilings = tuple(sorted(ceilings, key=lambda c: (c.site, c.start_s)))
        self.fills = tuple(sorted(fills, key=lambda f: (f.site, f.start_s)))
        self._by_site: dict[int, list[Ceiling]] = {}
        for c in self.ceilings:
            self._by_site.setdefault(c.site, []).append(c)
        self._starts = {s: [c.start_s for c in cs] for s, cs in self._by_site.items()}
        self._longest = {s: max(c.end_s - c.start_s for c in cs)
                         for s, cs in self._by_site.items()}
        self.sites = frozenset(self._by_site)
        self.fill_sites = frozenset(f.site for f in self.fills)

    def __bool__(self) -> bool:
        return bool(self.ceilings or self.fills)

    def change_times(self) -> list[float]:
        """Every instant a ceiling or fill level begins or ends, sorted."""
        out = {t for c in self.ceilings for t in (c.start_s, c.end_s)}
        out |= {t for f in self.fills for t in (f.start_s, f.end_s)}
        return sorted(out)

    def overlapping(self, site: int, start_s: float, end_s: float) -> list[Ceiling]:
        """The site's ceilings whose window meets [start_s, end_s), by start."""
        cs = self._by_site.get(site)
        if not cs:
            return []
        lo = bisect.bisect_left(self._starts[site], start_s - self._longest[site])
        hi = bisect.bisect_left(self._starts[site], end_s)
        return [c for c in cs[lo:hi] if c.end_s > start_s]

    def active(self, site: int, t: float) -> Ceiling | None:
        """The lowest of the site's ceilings in force at `t`."""
        now = [c for c in self.overlapping(site, t, t + 1e-9) if c.start_s <= t]
        return min(now, key=lambda c: (c.kw, not c.hard)) if now else None

    def fill_at(self, site: int, t: float) -> FillLevel | None:
        for f in self.fills:
            if f.site == site and f.start_s <= t < f.end_s:
                return f
        return None
