"""Multi-cloud monitoring (issue 12 item 5): per provider at each site, the units busy and
installed per kind, its jobs, its revenue, and the measured service level beside the promised
one.

- **Units** come from the live scheduler's view (`live_state`: per site, per provider slice),
  so an API replica shows the leader's figures.
- **Jobs** count the jobs table by (site, provider, state): `placed`, `running`, `finished`.
- **Revenue** is the sum of the bills stored with the provider's jobs (`bill_yuan`: finished
  jobs, and failed jobs for the time they ran).
- **Measured availability** is the share of run time [0, now) during which the backend the
  provider is reached through (its own binding in the deployment file, else its site's
  executor) answered, from the health transitions the scheduler records (`health_log`, keyed
  by site or "site/provider"). Sites run on the clock backend never go down.
- **Measured time-to-start** is, per job that started, the run seconds from its placement (the
  first `placed` event of its last placement) to its `running` event, over the latest
  `START_SAMPLE_JOBS` started jobs of the service; reported as p50 and p95 (nearest rank: an
  observed value) and the share within the promised `start_s`.

The figures are computed here from plain inputs (`provider_rows`); `gather` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from suanwang.core.sla import start_figures
from suanwang.model import Network
from suanwang.service import health_log
from suanwang.service.db import JobEventRow, JobRow
from suanwang.service.store import (
    DEFERRED,
    FAILED,
    FINISHED,
    PLACED,
    QUEUED,
    RUNNING,
    SUBMITTED,
    Store,
)

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

START_SAMPLE_JOBS = 5000
JOB_STATES = (PLACED, RUNNING, FINISHED)
STARTED_STATES = (RUNNING, FINISHED, FAILED)
_RESET_STATES = (SUBMITTED, QUEUED, DEFERRED)  # a placement ended without a start


@dataclass(frozen=True, slots=True)
class JobFigures:
    counts: dict[str, int]  # state -> jobs
    revenue_yuan: float


def time_to_start(events: Iterable[tuple[str, str, float]]) -> dict[str, float]:
    """Per job, run seconds from its last placement to its start, from its events
    `(job_id, state, at_s)` in the order they happened."""
    placed_at: dict[str, float] = {}
    out: dict[str, float] = {}
    for job_id, state, at_s in events:
        if state == PLACED:
            placed_at.setdefault(job_id, at_s)
        elif state == RUNNING:
            if job_id in placed_at:
                out[job_id] = max(0.0, at_s - placed_at.pop(job_id))
        elif state in _RESET_STATES or state == FAILED:
            placed_at.pop(job_id, None)
    return out


def provider_rows(network: Network, live_sites: Sequence[dict[str, Any]],
                  jobs: dict[tuple[str, str], JobFigures],
                  starts: dict[tuple[str, str], list[float]],
                  log: list[health_log.HealthTransition], now_s: float,
                  backends: dict[str, str]) -> list[dict[str, Any]]:
    """One row per (site, provider), in network order."""
    units: dict[tuple[str, str], list[dict[str, Any]]] = {}
    healthy: dict[str, bool] = {}
    binding: dict[tuple[str, str], dict[str, Any]] = {}  # its own backend, where it has one
    for s in live_sites:
        healthy[s["site"]] = bool(s.get("healthy", True))
        for u in s.get("providers", []):
            units.setdefault((s["site"], u["provider"]), []).append(
                {"kind": u["kind"], "installed_units": u["installed_units"],
                 "offered_units": u["offered_units"], "busy_units": u["busy_units"]})
            if u.get("binding", s["site"]) != s["site"]:
                binding[(s["site"], u["provider"])] = u
    out = []
    for site in network.sites:
        for p in site.providers:
            key = (site.id, p.id)
            own = binding.get(key)
            reached = own["binding"] if own is not None else site.id
            avail = health_log.availability(log, reached, 0.0, now_s)
            down = health_log.down_s(log, reached, 0.0, now_s)
            figures = jobs.get(key, JobFigures({}, 0.0))
            out.append({
                "id": f"{site.id}/{p.id}", "site": site.id, "provider": p.id,
                "name_zh": p.name_zh, "name_en": p.name_en, "docking": p.docking.value,
                "executor": p.executor,
                "backend": own["backend"] if own is not None
                else backends.get(site.id, "clock"),
                "healthy": bool(own["healthy"]) if own is not None
                else healthy.get(site.id, True),
                "units": units.get(key, []),
                "jobs": {st: figures.counts.get(st, 0) for st in JOB_STATES},
                "revenue_yuan": figures.revenue_yuan,
                "sla": {
                    "promised": {"availability": p.sla.availability, "start_s": p.sla.start_s},
                    "measured": {"availability": avail, "window_s": max(0.0, now_s),
                                 "down_s": down,
                                 **start_figures(starts.get(key, []), p.sla.start_s)}},
            })
    return out


def national_rows(rows: Sequence[dict[str, Any]],
                  starts: dict[tuple[str, str], list[float]]) -> list[dict[str, Any]]:
    """One row per provider id across the sites it sells at: units and jobs summed, revenue
    summed, availability averaged over its sites (the same window at each), time-to-start
    pooled; the promised figures as the range over its sites."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["provider"], []).append(r)
    out = []
    for pid, rs in by.items():
        kinds: dict[str, dict[str, int]] = {}
        for r in rs:
            for u in r["units"]:
                k = kinds.setdefault(u["kind"], {"installed_units": 0, "offered_units": 0,
                                                 "busy_units": 0})
                for f in k:
                    k[f] += u[f]
        avails = [r["sla"]["measured"]["availability"] for r in rs
                  if r["sla"]["measured"]["availability"] is not None]
        promised_start = [r["sla"]["promised"]["start_s"] for r in rs]
        pooled = [x for r in rs for x in starts.get((r["site"], pid), [])]
        within = sum(1 for r in rs for x in starts.get((r["site"], pid), [])
                     if x <= r["sla"]["promised"]["start_s"])
        figs = start_figures(pooled, 0.0)
        figs["start_within_share"] = within / len(pooled) if pooled else None
        out.append({
            "provider": pid, "name_zh": rs[0]["name_zh"], "name_en": rs[0]["name_en"],
            "sites": [r["site"] for r in rs],
            "units": [{"kind": k, **v} for k, v in kinds.items()],
            "jobs": {st: sum(r["jobs"][st] for r in rs) for st in JOB_STATES},
            "revenue_yuan": sum(r["revenue_yuan"] for r in rs),
            "sla": {"promised": {
                        "availability_min": min(r["sla"]["promised"]["availability"] for r in rs),
                        "availability_max": max(r["sla"]["promised"]["availability"] for r in rs),
                        "start_s_min": min(promised_start), "start_s_max": max(promised_start)},
                    "measured": {"availability": sum(avails) / len(avails) if avails else None,
                                 **figs}},
        })
    return out


# ---- reading the inputs ------------------------------------------------------------------------

def job_figures(store: Store) -> dict[tuple[str, str], JobFigures]:
    q = (select(JobRow.site, JobRow.provider, JobRow.state, func.count(JobRow.id),
                func.sum(JobRow.bill_yuan))
         .where(JobRow.provider.is_not(None), JobRow.site.is_not(None))
         .group_by(JobRow.site, JobRow.provider, JobRow.state))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    revenue: dict[tuple[str, str], float] = {}
    with store.engine.connect() as conn:
        for site, provider, state, n, bills in conn.execute(q):
            counts.setdefault((site, provider), {})[state] = int(n)
            revenue[(site, provider)] = revenue.get((site, provider), 0.0) + float(bills or 0.0)
    return {k: JobFigures(v, revenue.get(k, 0.0)) for k, v in counts.items()}


def start_samples(store: Store, limit: int = START_SAMPLE_JOBS
                  ) -> dict[tuple[str, str], list[float]]:
    """Time-to-start of the latest `limit` started jobs, by (site, provider)."""
    latest = (select(JobRow.id).where(JobRow.provider.is_not(None),
                                      JobRow.state.in_(STARTED_STATES))
              .order_by(JobRow.seq.desc()).limit(limit))
    with store.engine.connect() as conn:  # one statement: one consistent view
        events = conn.execute(
            select(JobEventRow.job_id, JobEventRow.state, JobEventRow.at_s, JobRow.site,
                   JobRow.provider)
            .join(JobRow, JobRow.id == JobEventRow.job_id)
            .where(JobEventRow.job_id.in_(latest)).order_by(JobEventRow.id)).all()
    where = {e[0]: (e[3], e[4]) for e in events}
    out: dict[tuple[str, str], list[float]] = {}
    for job_id, s in time_to_start((e[0], e[1], e[2]) for e in events).items():
        out.setdefault(where[job_id], []).append(s)
    return out


@dataclass
class ProviderView:
    rows: list[dict[str, Any]]
    national: list[dict[str, Any]]
    now_s: float


def gather(network: Network, live: LiveScheduler) -> ProviderView:
    """The figures of every provider now."""
    state = live.live_state()[0]
    now_s = float(state["now_s"])
    starts = start_samples(live.store)
    backends = {s["site"]: s.get("backend", "clock") for s in state["sites"]}
    rows = provider_rows(network, state["sites"], job_figures(live.store), starts,
                         health_log.read_log(live.store), now_s, backends)
    return ProviderView(rows, national_rows(rows, starts), now_s)
