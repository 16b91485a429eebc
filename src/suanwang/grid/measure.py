"""Measurement and verification of grid events: what each event asked and what the run
delivered, against the baseline (`grid.calendar`: the same run without the events).

Per site and 15-minute interval: baseline kW, actual kW, requested kW, delivered kW
(shed and cap: baseline - actual; fill: actual - baseline). Settled per interval over the
event's sites together (the grid sees their sum): the credited kWh are the sites' delivered kWh
up to their requested (never below 0), the missed kWh the rest of the requested; credit =
credited kWh x price, penalty = missed kWh x penalty. Jobs moved / waited: the jobs the
baseline ran at the event's sites during its window that ran at another site, or started
later, with the events (`pulled`: a fill site started them earlier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.grid.calendar import EventPlan
from suanwang.grid.event import EventKind
from suanwang.grid.power import mean_kw, peak_kw
from suanwang.sim.result import SimResult


@dataclass(frozen=True)
class SiteDelivery:
    site_id: str
    edges_s: np.ndarray
    baseline_kw: np.ndarray
    actual_kw: np.ndarray
    requested_kw: np.ndarray
    delivered_kw: np.ndarray
    limit_kw: np.ndarray
    peak_kw: float  # the highest instantaneous power during the window


@dataclass(frozen=True)
class EventReport:
    plan: EventPlan
    sites: tuple[SiteDelivery, ...]
    requested_kwh: float
    delivered_kwh: float  # credited: per interval, delivered up to requested
    jobs_moved: int
    jobs_waited: int
    wait_h: float
    jobs_pulled: int

    @property
    def hours(self) -> float:
        return (self.plan.end_s - self.plan.start_s) / 3600.0

    @property
    def requested_kw(self) -> float:
        return self.requested_kwh / self.hours

    @property
    def delivered_kw(self) -> float:
        return self.delivered_kwh / self.hours

    @property
    def delivered_share(self) -> float | None:
        return self.delivered_kwh / self.requested_kwh if self.requested_kwh > 0 else None

    @property
    def credit_yuan(self) -> float:
        return self.delivered_kwh * self.plan.event.price_yuan_per_kwh

    @property
    def penalty_yuan(self) -> float:
        return (self.requested_kwh - self.delivered_kwh) * self.plan.event.penalty_yuan_per_kwh

    @property
    def cap_exceeded(self) -> bool:
        return self.plan.event.kind == EventKind.CAP and any(
            s.peak_kw > float(s.limit_kw.max()) + 1e-6 for s in self.sites)

    def as_dict(self) -> dict[str, Any]:
        ev = self.plan.event
        return {
            "event": ev.id, "kind": ev.kind.value, "sites": list(ev.sites),
            "start": ev.start.isoformat(), "end": ev.end.isoformat(),
            "requested_kw": self.requested_kw, "delivered_kw": self.delivered_kw,
            "delivered_share": self.delivered_share, "requested_kwh": self.requested_kwh,
            "delivered_kwh": self.delivered_kwh, "credit_yuan": self.credit_yuan,
            "penalty_yuan": self.penalty_yuan, "jobs_moved": self.jobs_moved,
            "jobs_waited": self.jobs_waited, "wait_h": self.wait_h,
            "jobs_pulled": self.jobs_pulled, "cap_exceeded": self.cap_exceeded,
            "baseline": "the same run without the events, mean kW per 15-minute interval",
            "intervals": [
                {"site": s.site_id, "start_s": float(a), "end_s": float(b),
                 "baseline_kw": float(bk), "actual_kw": float(ak), "requested_kw": float(rk),
                 "delivered_kw": float(dk), "limit_kw": float(lk)}
                for s in self.sites
                for a, b, bk, ak, rk, dk, lk in zip(s.edges_s[:-1], s.edges_s[1:],
                                                    s.baseline_kw, s.actual_kw,
                                                    s.requested_kw, s.delivered_kw,
                                                    s.limit_kw, strict=True)],
        }


def measure(plans: list[EventPlan], baseline: SimResult, result: SimResult) -> list[EventReport]:
    out = []
    for plan in plans:
        fill = plan.event.kind == EventKind.FILL
        sites = []
        hours = np.diff(plan.sites[0].edges_s) / 3600.0
        req_sum = np.zeros(len(hours))
        change_sum = np.zeros(len(hours))
        for sp in plan.sites:
            actual = mean_kw(result, sp.site, sp.edges_s)
            change = actual - sp.baseline_kw if fill else sp.baseline_kw - actual
            req_sum += sp.requested_kw
            change_sum += change
            sites.append(SiteDelivery(sp.site_id, sp.edges_s, sp.baseline_kw, actual,
                                      sp.requested_kw, change, sp.limit_kw,
                                      peak_kw(result, sp.site, plan.start_s, plan.end_s)))
        requested = float((req_sum * hours).sum())
        delivered = float((np.clip(change_sum, 0.0, req_sum) * hours).sum())
        moved, waited, wait_h, pulled = _moves(plan, baseline, result)
        out.append(EventReport(plan, tuple(sites), requested, delivered, moved, waited,
                               wait_h, pulled))
    return out


def _moves(plan: EventPlan, baseline: SimResult,
           result: SimResult) -> tuple[int, int, float, int]:
    idx = [sp.site for sp in plan.sites]
    at = np.isin(baseline.site, idx) & (baseline.start_s < plan.end_s) & (
        baseline.end_s > plan.start_s)
    ran = result.site >= 0
    moved = int(np.sum(at & ran & (result.site != baseline.site)))
    later = np.nan_to_num(result.start_s - baseline.start_s, nan=0.0)
    waited_mask = at & ran & (later > 1.0)
    pulled = int(np.sum(np.isin(result.site, idx) & (baseline.site >= 0) & (later < -1.0)))
    return moved, int(waited_mask.sum()), float(later[waited_mask].sum() / 3600.0), pulled
