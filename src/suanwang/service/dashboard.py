"""The operator's dashboard: the page at `/` and the read-only views it polls.

The page (`suanwang/web/`: HTML, JS, CSS, and the vendored ECharts, China map and font) is
static and public: it holds no data. Everything it shows comes from the API with the operator's
bearer token, which the page asks for once and keeps in the browser's localStorage (or takes
from a `#token=...` link, which never reaches the server). The views here need the operator
role, like the job list across tenants that they summarise: they show every tenant's jobs.

- `GET /v1/dashboard/overview`: the network now (power, green share, carbon and cost per hour,
  P busy) and the flows from demand regions to sites (jobs holding units, by origin and site).
- `GET /v1/dashboard/placements`: the latest placements with latency and deadline violations
  flagged, and the violation counts since the start.
- `GET /v1/dashboard/series`: per site, the last hours' actual green share, carbon intensity,
  price, busy units per pool and power, and the forecast ahead (the forecaster's view, as the
  policy sees it, with the units already committed by placed and running jobs).

Busy units and power over past hours are time-averaged, as in the simulator's `sites.csv`: a
job holds its units from placement to its end and draws power from its start (its data
arrived) to its end; the hour in progress is averaged over its elapsed part. They are read from
the jobs table, so they survive restarts; cancelled jobs are left out.

(No `from __future__ import annotations` here: FastAPI resolves the routes' annotations, which
name a local alias.)
"""

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select

from suanwang.energy.series import HOUR_S
from suanwang.service.api_responses import OPERATOR, errors
from suanwang.service.db import JobEventRow, JobRow
from suanwang.service.schemas import MAX_CAPACITY_FACTOR
from suanwang.service.store import FINISHED, PLACED, REJECTED, RUNNING, Tenant

if TYPE_CHECKING:
    from suanwang.service.app import Service

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# the page loads nothing from anywhere but this server
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data: blob:; "
                           "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
HOLDING_STATES = (PLACED, RUNNING)  # jobs holding units now
HELD_STATES = (PLACED, RUNNING, FINISHED)  # jobs that held units (cancelled ones left out)
MAX_HOURS_BACK = 7 * 24


# ---- pure helpers (no I/O) -------------------------------------------------------------------

def interval_means(edges_s: np.ndarray, start_s: np.ndarray, end_s: np.ndarray,
                   weight: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Time-averaged sum of `weight` over each bin [edges[k], edges[k+1]), per group.

    Interval i contributes weight[i] for the part of [start_s[i], end_s[i]) inside a bin,
    divided by the bin's width: (n_groups, len(edges) - 1). A bin of zero width takes the
    weights of the intervals active at its instant.
    """
    edges = np.asarray(edges_s, dtype=float)
    out = np.zeros((n_groups, len(edges) - 1))
    if len(start_s) == 0:
        return out
    for k in range(len(edges) - 1):
        a, b = edges[k], edges[k + 1]
        if b > a:
            overlap = np.clip(np.minimum(end_s, b) - np.maximum(start_s, a), 0.0, None)
            np.add.at(out[:, k], group, weight * overlap / (b - a))
        else:
            active = (start_s <= a) & (end_s > a)
            np.add.at(out[:, k], group[active], weight[active])
    return out


def network_now(sites: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The network's rates now from `/v1/live`'s sites: facility power, the power-weighted
    green share, carbon (kg CO2 per hour) and cost (yuan per hour) at this hour's values."""
    power = sum(s["power_kw"] for s in sites)
    green_kw = sum(s["power_kw"] * s["green_share"] for s in sites)
    return {
        "power_kw": power,
        "green_share": green_kw / power if power > 0 else 0.0,
        "carbon_kg_per_h": sum(s["power_kw"] * s["intensity_g_per_kwh"] for s in sites) / 1000,
        "cost_yuan_per_h": sum(s["power_kw"] * s["price_yuan_per_kwh"] for s in sites),
    }


# The placement reasons the policies write (policies/base.py, planning/priced.py), so that the
# page can say them in the reader's language and name the site; other reasons are shown as is.
# A reason names "site/provider" (or just the site, before providers), and may carry further
# clauses after "; " (expected bill, preferred provider, overflow, price cap, lateness).
_NUMBER = r"(?P<score>[-+0-9.eE]+|inf|nan)"
_AT = r"(?P<site>[\w-]+)(?:/(?P<provider>[\w.-]+))?"
REASON_FORMS = (
    ("ranked", re.compile(rf"(?P<policy>[\w-]+): {_AT} best of (?P<feasible>\d+) "
                          rf"feasible \({_NUMBER} (?P<unit>g CO2/unit-h|yuan/unit-h|ms)\)")),
    ("priced", re.compile(rf"(?P<policy>[\w-]+): {_AT} \({_NUMBER} "
                          r"incl\. capacity price\)")),
)
LATE_CLAUSE = "deadline cannot be met"
REASON_UNITS = {"g CO2/unit-h": "g_co2_per_unit_h", "yuan/unit-h": "yuan_per_unit_h",
                "ms": "ms"}


def reason_parts(reason: str) -> dict[str, Any] | None:
    """A policy's placement reason as data: {"form": "ranked", "policy", "site", "provider",
    "feasible", "score", "unit", "late", "notes"} or {"form": "priced", "policy", "site",
    "provider", "score", "late", "notes"}; `notes` are the further clauses as written. None
    for a reason of another form (the page then shows the text)."""
    head, _, rest = reason.partition("; ")
    clauses = [c for c in rest.split("; ") if c] if rest else []
    late = LATE_CLAUSE in clauses
    for form, pattern in REASON_FORMS:
        m = pattern.fullmatch(head)
        if m is None:
            continue
        out: dict[str, Any] = {"form": form, "policy": m["policy"], "site": m["site"],
                               "provider": m["provider"], "score": float(m["score"]),
                               "late": late,
                               "notes": [c for c in clauses if c != LATE_CLAUSE]}
        if form == "ranked":
            out["feasible"] = int(m["feasible"])
            out["unit"] = REASON_UNITS[m["unit"]]
        return out
    return None


def placement_out(row: Any, placed_s: float, reason: str) -> dict[str, Any]:
    latency = (row.rtt_bound_ms is not None and row.rtt_ms is not None
               and row.rtt_ms > row.rtt_bound_ms)
    late = row.deadline_s is not None and row.end_s is not None and row.end_s > row.deadline_s
    return {"job": row.id, "tenant": row.tenant, "origin": row.origin, "site": row.site,
            "kind": row.kind, "units": row.units, "state": row.state, "placed_s": placed_s,
            "start_s": row.start_s, "end_s": row.end_s, "rtt_ms": row.rtt_ms,
            "rtt_bound_ms": row.rtt_bound_ms, "deadline_s": row.deadline_s,
            "workload": row.workload, "reason": reason, "reason_parts": reason_parts(reason),
            "latency_violation": latency, "late": late}


# ---- the views -------------------------------------------------------------------------------

class DashboardViews:
    """What the page polls, computed from the store, the live scheduler and its series."""

    def __init__(self, service: "Service") -> None:
        self.service = service

    def _pool_facts(self) -> dict[tuple[str, str], tuple[int, float, float, int]]:
        """(site id, kind) -> (pool index, PFLOPS per unit, facility kW per unit, capacity)."""
        topo = self.service.live.topology
        return {(topo.site_ids[topo.pool_site[p]], topo.pool_kind[p].value):
                (p, topo.pools[p].pflops_per_unit, topo.pool_kw_facility[p],
                 topo.pool_capacity[p]) for p in range(len(topo.pools))}

    def overview(self) -> dict[str, Any]:
        svc = self.service
        live = svc.live.live_state()[0]
        facts = self._pool_facts()
        with svc.store.session() as s:
            rows = s.execute(
                select(JobRow.origin, JobRow.site, JobRow.kind, JobRow.state,
                       func.count(JobRow.id), func.sum(JobRow.units))
                .where(JobRow.state.in_(HOLDING_STATES), JobRow.site.is_not(None))
                .group_by(JobRow.origin, JobRow.site, JobRow.kind, JobRow.state)).all()
        flows: dict[tuple[str, str], dict[str, Any]] = {}
        # what the network file installs, and the most the operator may set (PATCH's bound)
        per_site: dict[str, dict[str, Any]] = {
            site.id: {"site": site.id, "placed_jobs": 0, "running_jobs": 0, "pflops_busy": 0.0,
                      "installed_units": {p.kind.value: p.units for p in site.pools},
                      "max_capacity_units": {p.kind.value: MAX_CAPACITY_FACTOR * max(p.units, 1)
                                             for p in site.pools}}
            for site in svc.network.sites}
        for origin, site, kind, state, n, units in rows:
            fact = facts.get((site, kind))
            if fact is None or site not in per_site:
                continue  # a site or pool no longer in the network
            _, pflops_per_unit, kw_per_unit, _ = fact
            f = flows.setdefault((origin, site), {"origin": origin, "site": site, "jobs": 0,
                                                  "units_by_kind": {}, "pflops": 0.0,
                                                  "power_kw": 0.0})
            f["jobs"] += n
            f["units_by_kind"][kind] = f["units_by_kind"].get(kind, 0) + int(units)
            f["pflops"] += units * pflops_per_unit
            if state == RUNNING:
                f["power_kw"] += units * kw_per_unit
            per_site[site]["placed_jobs" if state == PLACED else "running_jobs"] += n
            per_site[site]["pflops_busy"] += units * pflops_per_unit
        capacity_pflops = sum(c * ppu for _, ppu, _, c in facts.values())
        return {
            "now_s": live["now_s"], "policy": svc.settings.policy,
            "clock": {"start_utc_ms": svc.clock.origin_epoch_s * 1000.0,
                      "speed": svc.clock.speed},
            "now": {**network_now(live["sites"]),
                    "pflops_busy": sum(v["pflops_busy"] for v in per_site.values()),
                    "pflops_capacity": capacity_pflops},
            "flows": sorted(flows.values(), key=lambda f: -f["pflops"]),
            "sites": list(per_site.values()),
        }

    def placements(self, limit: int) -> dict[str, Any]:
        """The latest placement decisions, newest first. A job's decision is the first
        `placed` event of a run of them (an executor's hand-off adds another after it, with
        its own reason); a job placed again after a requeue shows its latest decision."""
        store = self.service.store
        with store.session() as s:
            recent = s.scalars(select(JobEventRow.job_id).where(JobEventRow.state == PLACED)
                               .order_by(JobEventRow.id.desc()).limit(limit * 4)).all()
            ids = list(dict.fromkeys(recent))[:limit]
            decided: dict[str, tuple[int, float, str]] = {}  # job -> (event id, at_s, reason)
            previous: dict[str, str] = {}
            for e in s.scalars(select(JobEventRow).where(JobEventRow.job_id.in_(ids))
                               .order_by(JobEventRow.id)):
                if e.state == PLACED and previous.get(e.job_id) != PLACED:
                    decided[e.job_id] = (e.id, e.at_s, e.reason)
                previous[e.job_id] = e.state
            jobs = {r.id: r for r in s.scalars(select(JobRow).where(JobRow.id.in_(ids)))}
            latency = s.scalar(select(func.count(JobRow.id)).where(
                JobRow.rtt_bound_ms.is_not(None), JobRow.rtt_ms > JobRow.rtt_bound_ms))
            late = s.scalar(select(func.count(JobRow.id)).where(
                JobRow.deadline_s.is_not(None), JobRow.end_s > JobRow.deadline_s,
                JobRow.state.in_(HELD_STATES)))
            rejected = s.scalar(select(func.count(JobRow.id)).where(JobRow.state == REJECTED))
        order = sorted((i for i in ids if i in jobs and i in decided),
                       key=lambda i: -decided[i][0])
        return {"placements": [placement_out(jobs[i], decided[i][1], decided[i][2])
                               for i in order],
                "violations": {"latency": latency or 0, "late": late or 0,
                               "rejected": rejected or 0}}

    def series(self, hours_back: int, hours_ahead: int) -> dict[str, Any]:
        svc = self.service
        live = svc.live
        now = svc.clock.now_s()
        series = live.series
        view = live.scheduler.state.forecaster.view(now)
        hours_ahead = min(hours_ahead, view.horizon_h)
        now_h = int(now // HOUR_S)
        h0 = max(0, now_h - hours_back)
        past_hours = np.arange(h0, now_h + 1)
        ahead_hours = np.arange(now_h, now_h + hours_ahead)
        # history bins end at now; forecast bins start at now (the hour in progress is split)
        past_edges = np.append(past_hours * HOUR_S, now)
        ahead_edges = np.concatenate([[now], (ahead_hours[1:]) * HOUR_S,
                                      [(now_h + hours_ahead) * HOUR_S]])
        facts = self._pool_facts()
        site_ids = [site.id for site in svc.network.sites]
        site_index = {sid: i for i, sid in enumerate(site_ids)}
        with svc.store.session() as s:
            rows = s.execute(
                select(JobRow.site, JobRow.kind, JobRow.state, JobRow.units, JobRow.placed_s,
                       JobRow.start_s, JobRow.end_s)
                .where(JobRow.state.in_(HELD_STATES), JobRow.site.is_not(None),
                       JobRow.placed_s.is_not(None), JobRow.end_s > h0 * HOUR_S,
                       JobRow.placed_s < now + hours_ahead * HOUR_S)).all()
        rows = [r for r in rows if (r.site, r.kind) in facts]
        pool = np.array([facts[(r.site, r.kind)][0] for r in rows], dtype=np.int64)
        site = np.array([site_index[r.site] for r in rows], dtype=np.int64)
        units = np.array([r.units for r in rows], dtype=float)
        kw = units * np.array([facts[(r.site, r.kind)][2] for r in rows], dtype=float)
        placed = np.array([r.placed_s for r in rows], dtype=float)
        start = np.array([r.start_s if r.start_s is not None else r.placed_s for r in rows],
                         dtype=float)
        end = np.array([r.end_s for r in rows], dtype=float)
        n_pools = len(live.topology.pools)
        busy_past = interval_means(past_edges, placed, end, units, pool, n_pools)
        power_past = interval_means(past_edges, start, end, kw, site, len(site_ids))
        # what placed and running jobs hold from now on (finished ones hold nothing ahead)
        holding = np.array([r.state in HOLDING_STATES for r in rows], dtype=bool)
        busy_ahead = interval_means(ahead_edges, np.maximum(placed, now)[holding],
                                    end[holding], units[holding], pool[holding], n_pools)
        power_ahead = interval_means(ahead_edges, np.maximum(start, now)[holding],
                                     end[holding], kw[holding], site[holding], len(site_ids))
        last = series.hours - 1
        past_idx = np.minimum(past_hours, last)
        out_sites = []
        for sid in site_ids:
            i = series.site_index(sid)
            j = site_index[sid]
            pools = sorted((kind, p, cap) for (s_id, kind), (p, _, _, cap) in facts.items()
                           if s_id == sid)
            out_sites.append({
                "site": sid,
                "history": {
                    "green_share": series.green_share[i, past_idx].tolist(),
                    "intensity_g_per_kwh": series.intensity_g_per_kwh[i, past_idx].tolist(),
                    "price_yuan_per_kwh": series.price_yuan_per_kwh[i, past_idx].tolist(),
                    "power_kw": power_past[j].tolist(),
                },
                "forecast": {
                    "green_share": view.green_share[i][:hours_ahead],
                    "intensity_g_per_kwh": view.intensity_g_per_kwh[i][:hours_ahead],
                    "intensity_sd_g_per_kwh": view.intensity_sd_g_per_kwh[i][:hours_ahead],
                    "price_yuan_per_kwh": view.price_yuan_per_kwh[i][:hours_ahead],
                    "power_kw": power_ahead[j].tolist(),
                },
                "pools": [{"kind": kind, "capacity_units": cap,
                           "busy_units": busy_past[p].tolist(),
                           "committed_units": busy_ahead[p].tolist()}
                          for kind, p, cap in pools],
            })
        return {"now_s": now, "hour_s": HOUR_S,
                "start_utc_ms": series.start_utc.timestamp() * 1000.0,
                "history_hours": past_hours.tolist(), "forecast_hours": ahead_hours.tolist(),
                "forecast_issued_hour": view.issued_hour, "sites": out_sites}


# ---- wiring ----------------------------------------------------------------------------------

def mount_dashboard(app: FastAPI, service: "Service", operator: Callable[..., Tenant]) -> None:
    """The page at `/`, its files under `/web/`, and the views under `/v1/dashboard`.
    `operator` is the app's dependency that admits only the operator role."""
    views = DashboardViews(service)
    Operator = Annotated[Tenant, Depends(operator)]
    router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])

    @router.get("/overview", responses=errors(OPERATOR))
    def overview(who: Operator) -> dict[str, Any]:
        """The network now and the flows from demand regions to sites (jobs holding units)."""
        return views.overview()

    @router.get("/placements", responses=errors(OPERATOR))
    def placements(who: Operator,
                   limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        """The latest placements, newest first, with violations flagged."""
        return views.placements(limit)

    @router.get("/series", responses=errors(OPERATOR))
    def series(who: Operator,
               hours_back: Annotated[int, Query(ge=0, le=MAX_HOURS_BACK)] = 24,
               hours_ahead: Annotated[int, Query(ge=1, le=MAX_HOURS_BACK)] = 24,
               ) -> dict[str, Any]:
        """Per site: the last hours (actual) and the forecast ahead."""
        return views.series(hours_back, hours_ahead)

    app.include_router(router)
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html",
                            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                                     "Cache-Control": "no-cache"})
