"""From grid events and a baseline run to the power ceilings and fill levels of a run.

Baseline method: the same run (same demand, weather, forecasts and policy) without the events;
its mean facility power per site per 15-minute interval of each event's window is what the
site would have drawn had the event not been called. A shed asks for power `target` below the
baseline in each interval (ceiling = baseline - target, at least 0); a cap is a ceiling of
`target` kW (or `target_share` x the baseline's mean over the window); a fill asks for power
`target` above the baseline (level = baseline + target). Of each ceiling, the baseline's
real-time power in the interval is kept for real-time work (it cannot wait, and within its
latency bound often cannot move): deferrable work is held under the rest, so that real-time
work arriving later fits under the ceiling.

A kW target of a shed naming several sites is split among them in proportion to their
baseline energy over the window, of a fill in proportion to their room to absorb it (installed
facility power less the baseline's mean); equally if that is 0 everywhere. `target_share`
applies to each site's own baseline in each interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from suanwang.core.power_ceiling import Ceiling, FillLevel, PowerCalendar
from suanwang.grid.event import EventKind, GridEvent
from suanwang.grid.power import mean_kw, slot_edges
from suanwang.sim.result import SimResult


@dataclass(frozen=True)
class SitePlan:
    """One site's part of an event: per 15-minute interval, the baseline, what is asked, and
    the ceiling (shed, cap) or level (fill) the scheduler holds it to."""

    site: int
    site_id: str
    edges_s: np.ndarray  # interval bounds on the run's clock
    baseline_kw: np.ndarray
    requested_kw: np.ndarray  # the change asked for: reduction (shed, cap) or increase (fill)
    limit_kw: np.ndarray  # ceiling (shed, cap) or fill level
    realtime_kw: np.ndarray  # the baseline's real-time part: kept for real-time work


@dataclass(frozen=True)
class EventPlan:
    event: GridEvent
    start_s: float
    end_s: float
    sites: tuple[SitePlan, ...]


def run_seconds(t: datetime, start_utc: datetime) -> float:
    return (t - start_utc).total_seconds()


def plan_events(events: tuple[GridEvent, ...], baseline: SimResult) -> list[EventPlan]:
    site_ids = baseline.topology.site_ids
    realtime = np.fromiter((j.realtime for j in baseline.jobs), dtype=bool,
                           count=len(baseline.jobs))
    start_utc = baseline.series.start_utc
    plans: list[EventPlan] = []
    for ev in events:
        t0, t1 = run_seconds(ev.start, start_utc), run_seconds(ev.end, start_utc)
        edges = slot_edges(t0, t1)
        widths = np.diff(edges)
        idx = [site_ids.index(s) for s in ev.sites]
        base = [mean_kw(baseline, i, edges) for i in idx]
        rt_base = [mean_kw(baseline, i, edges, realtime) for i in idx]
        mean_base = np.array([float((b * widths).sum() / widths.sum()) for b in base])
        if ev.kind == EventKind.FILL:
            topo = baseline.topology
            installed = np.array([sum(topo.pool_capacity[p] * topo.pool_kw_facility[p]
                                      for p in range(len(topo.pools)) if topo.pool_site[p] == i)
                                  for i in idx])
            share_of = np.maximum(installed - mean_base, 0.0)
        else:
            share_of = mean_base
        weight = (share_of / share_of.sum() if share_of.sum() > 0
                  else np.full(len(idx), 1 / len(idx)))
        parts: list[SitePlan] = []
        for k, (i, b) in enumerate(zip(idx, base, strict=True)):
            mean_b = float((b * widths).sum() / widths.sum())
            if ev.kind == EventKind.CAP:
                cap = ev.target_kw if ev.target_kw is not None else (ev.target_share or 0) * mean_b
                limit = np.full(len(b), cap)
                req = np.maximum(b - cap, 0.0)
            else:
                req = (np.full(len(b), (ev.target_kw or 0.0) * weight[k])
                       if ev.target_kw is not None else (ev.target_share or 0.0) * b)
                limit = np.maximum(b - req, 0.0) if ev.kind == EventKind.SHED else b + req
            parts.append(SitePlan(i, site_ids[i], edges, b, req, limit,
                                  np.minimum(rt_base[k], limit)))
        plans.append(EventPlan(ev, t0, t1, tuple(parts)))
    return plans


def power_calendar(plans: list[EventPlan]) -> PowerCalendar:
    ceilings: list[Ceiling] = []
    fills: list[FillLevel] = []
    for plan in plans:
        ev = plan.event
        for sp in plan.sites:
            for a, b, kw, rt in zip(sp.edges_s[:-1], sp.edges_s[1:], sp.limit_kw,
                                    sp.realtime_kw, strict=True):
                if ev.kind == EventKind.FILL:
                    fills.append(FillLevel(sp.site, float(a), float(b), float(kw), ev.id))
                else:
                    ceilings.append(Ceiling(sp.site, float(a), float(b), float(kw),
                                            ev.kind == EventKind.CAP, ev.id, float(rt)))
    return PowerCalendar(ceilings, fills)
