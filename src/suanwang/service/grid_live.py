"""Grid events in the live service (issue 14): notice, baseline, ceilings, settlement.

**Notice.** An event posted through the API is stored (`grid_store`, state `posted`) and
handed to the scheduler (at once in the one-process service; through the `commands` table to
the leader in the split one). Under the scheduler's lock, before the event changes anything:

- **baseline, frozen at notice**: a projection of the work the scheduler knows
  (`core.projection`: the jobs running and placed until their estimated ends, the deferred,
  queued and just-submitted jobs decided by the same policy as they wake or capacity frees,
  under the power calendar of the events already notified; no arrival after notice). Its
  facility power per site per 15-minute interval of the window (units x kW x PUE from compute
  start to end, as `grid.power` counts it) is the baseline. The ceilings and fill levels follow
  from it by the simulator's rules (`grid.calendar.plan_events`: shed = baseline - target,
  cap = target, fill = baseline + target; the baseline's real-time power kept for real-time
  work);
- the plan (per site and interval: baseline, requested, limit, real-time reserve) and the
  projection's jobs are stored (state `notified`), then every notified event's ceilings go
  into the scheduler's `PowerCalendar` (`Scheduler.set_power`): the decision taken next (this
  tick) sees them. Nothing placed is preempted.

**Settlement**, at the first tick after the window's end (every transition up to then is
stored): the actual power per interval is that of the jobs the database has at the event's
sites (placed, running, finished or failed; compute start to end), and `grid.measure` settles
it against the frozen baseline exactly as in the simulator (delivered per interval up to the
requested, credit and penalty; jobs moved, waited and by how long, pulled forward: the
projection's placement of each job known at notice against where and when it ran). Work that
arrived after notice is in the actual and not in the baseline: a shed's credit is never more
than the meter would show against the baseline (conservative); a fill's counts arrivals the
event drew to its sites. The settlement is stored, becomes a record of the ledger's hash chain
(`settlement_record`, kind `grid_settlement`) and is reported per event and per month.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from suanwang.accounts.account import month_of
from suanwang.core.power_ceiling import PowerCalendar
from suanwang.core.projection import Projected, project
from suanwang.core.scheduler import Scheduler
from suanwang.core.state import Topology
from suanwang.grid.calendar import EventPlan, SitePlan, plan_events, power_calendar
from suanwang.grid.event import EventKind, GridEvent
from suanwang.grid.measure import EventReport, measure
from suanwang.service.grid_store import (
    CANCELLED,
    NOTIFIED,
    POSTED,
    SETTLED,
    GridEventRow,
    dumps,
)
from suanwang.sim.result import SimResult

if TYPE_CHECKING:
    from suanwang.service.live import LiveScheduler

log = logging.getLogger("suanwang.service")
BASELINE_METHOD = (
    "frozen at notice: the facility power per site and 15-minute interval that the work the "
    "scheduler knew at notice implies (running and placed jobs to their estimated ends; "
    "deferred, queued and submitted jobs as the same policy would place them; no later "
    "arrival), projected before the event was applied")
SETTLEMENT_KIND = "grid_settlement"
PROJECT_BEYOND_S = 24 * 3600.0  # the baseline's projection runs this far past the window


@dataclass
class PowerRecord:
    """Jobs at sites over time, in the form `grid.calendar` and `grid.measure` read of a
    `SimResult` (jobs, site and pool per job, compute start and end, the topology, the
    series' start)."""

    topology: Topology
    series: Any
    jobs: list[Any]
    site: np.ndarray
    pool: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    def as_result(self) -> SimResult:
        return cast(SimResult, self)


def power_record(topology: Topology, start_utc: datetime,
                 rows: list[tuple[Any, int, int, float, float]]) -> PowerRecord:
    """From (job: has `units` and `realtime`, site, pool, start_s, end_s) per job."""
    return PowerRecord(
        topology, SimpleNamespace(start_utc=start_utc), [r[0] for r in rows],
        np.array([r[1] for r in rows], dtype=int), np.array([r[2] for r in rows], dtype=int),
        np.array([r[3] for r in rows], dtype=float), np.array([r[4] for r in rows],
                                                             dtype=float))


# ---- (de)serialising an event and its plan ---------------------------------------------------

def event_json(ev: GridEvent) -> dict[str, Any]:
    return {"kind": ev.kind.value, "area": ev.area, "sites": list(ev.sites),
            "start": ev.start.isoformat(), "end": ev.end.isoformat(),
            "target_kw": ev.target_kw, "target_share": ev.target_share,
            "price_yuan_per_kwh": ev.price_yuan_per_kwh,
            "penalty_yuan_per_kwh": ev.penalty_yuan_per_kwh, "source": ev.source,
            "assumption": ev.assumption}


def event_of(event_id: str, body: dict[str, Any]) -> GridEvent:
    return GridEvent(id=event_id, sites=tuple(body["sites"]), kind=EventKind(body["kind"]),
                     start=datetime.fromisoformat(body["start"]),
                     end=datetime.fromisoformat(body["end"]), target_kw=body["target_kw"],
                     target_share=body["target_share"],
                     price_yuan_per_kwh=body["price_yuan_per_kwh"],
                     penalty_yuan_per_kwh=body["penalty_yuan_per_kwh"], source=body["source"],
                     assumption=body["assumption"], area=body["area"])


def plan_json(plan: EventPlan) -> dict[str, Any]:
    return {"start_s": plan.start_s, "end_s": plan.end_s, "method": BASELINE_METHOD,
            "sites": [{"site": sp.site, "site_id": sp.site_id,
                       "edges_s": sp.edges_s.tolist(), "baseline_kw": sp.baseline_kw.tolist(),
                       "requested_kw": sp.requested_kw.tolist(),
                       "limit_kw": sp.limit_kw.tolist(),
                       "realtime_kw": sp.realtime_kw.tolist()} for sp in plan.sites]}


def plan_of(event: GridEvent, body: dict[str, Any]) -> EventPlan:
    return EventPlan(event, body["start_s"], body["end_s"], tuple(
        SitePlan(s["site"], s["site_id"], np.array(s["edges_s"]), np.array(s["baseline_kw"]),
                 np.array(s["requested_kw"]), np.array(s["limit_kw"]),
                 np.array(s["realtime_kw"])) for s in body["sites"]))


def settlement_record(event_id: str, settlement: dict[str, Any],
                      plan: dict[str, Any]) -> dict[str, Any]:
    """The payload of a settlement's ledger record (kind `grid_settlement`): what was asked,
    delivered, credited and charged, the jobs moved and waited, and the digests of the frozen
    baseline and of the full settlement (both kept in the `grid_events` table), so that the
    record proves them."""
    s = settlement
    return {"event": event_id, "kind": s["kind"], "sites": s["sites"], "start": s["start"],
            "end": s["end"], "requested_kwh": round(s["requested_kwh"], 6),
            "delivered_kwh": round(s["delivered_kwh"], 6),
            "credit_yuan": round(s["credit_yuan"], 6),
            "penalty_yuan": round(s["penalty_yuan"], 6), "jobs_moved": s["jobs_moved"],
            "jobs_waited": s["jobs_waited"], "wait_h": round(s["wait_h"], 6),
            "jobs_pulled": s["jobs_pulled"], "cap_exceeded": s["cap_exceeded"],
            "baseline_sha256": hashlib.sha256(dumps(plan).encode()).hexdigest(),
            "settlement_sha256": hashlib.sha256(dumps(s).encode()).hexdigest()}


# ---- the scheduler's side --------------------------------------------------------------------

class LiveGrid:
    """The grid events a `LiveScheduler` holds (see the module's doc)."""

    def __init__(self, live: LiveScheduler) -> None:
        self.live = live
        self.store = live.store.grid
        self.plans: dict[str, EventPlan] = {}
        self.settled_total = 0
        self.ledger_pending: list[str] = []  # settled events whose ledger record is to come

    def core(self) -> Scheduler:
        sched = self.live.scheduler
        return cast(Scheduler, getattr(sched, "_inner", sched))

    def recover(self) -> None:
        """On start: the notified events' plans back into the calendar; posted ones notified
        now (the service stopped between storing one and freezing its baseline)."""
        posted = []
        for row in self.store.live():
            if row.state == NOTIFIED and row.plan:
                self.plans[row.id] = plan_of(event_of(row.id, _loads(row.event)),
                                             _loads(row.plan))
            elif row.state == POSTED:
                posted.append(row.id)
        self.ledger_pending = [r.id for r in self.store.list(state=SETTLED)
                               if r.ledger_seq is None]
        if self.plans:
            self._apply(self.live.clock.now_s())
        for event_id in posted:
            self.notify(event_id)

    def _starts(self) -> dict[str, float]:
        live = self.live
        out = dict(live._started)
        out.update({job_id: s for s, job_id in live._starts})
        return out

    def projection(self, until_s: float) -> list[Projected]:
        """The projection of the known work to `until_s` (caller holds the lock)."""
        live = self.live
        with live._inbox_lock:
            pending = list(live._inbox)
        return project(self.core(), until_s, pending, self._starts())

    def notify(self, event_id: str) -> dict[str, Any]:
        """Freeze the event's baseline and put its ceilings into the calendar (idempotent:
        an event no longer `posted` is left as it is). The event's stored view."""
        live = self.live
        with live.lock:
            row = self.store.get(event_id)
            if row is None:
                raise KeyError(event_id)
            if row.state != POSTED:
                return {"state": row.state}
            now = live.clock.now_s()
            live.scheduler.advance(now)
            if row.end_s <= now:
                self.store.set(event_id, state=CANCELLED, notice_s=now)
                return {"state": CANCELLED, "why": "its window ended before the scheduler "
                                                   "took it in"}
            event = event_of(event_id, _loads(row.event))
            # past the window too: where and when the work the event moves would have run
            # (jobs moved, waited, pulled forward are counted against it)
            proj = self.projection(row.end_s + PROJECT_BEYOND_S)
            topo = live.topology
            placed = [p for p in proj if p.site >= 0]
            baseline = power_record(topo, live.clock.start_utc,
                                    [(p.job, p.site, p.pool, p.start_s, p.end_s)
                                     for p in placed])
            plan = plan_events((event,), baseline.as_result())[0]
            jobs = [[p.job.job_id, p.site, p.pool, p.job.units, int(p.job.realtime),
                     p.start_s, p.end_s] for p in placed]
            self.store.set(event_id, state=NOTIFIED, notice_s=now, plan=dumps(plan_json(plan)),
                           baseline_jobs=dumps(jobs))
            self.plans[event_id] = plan
            self._apply(now)
            live._flush()
            log.info("grid event %s (%s at %s) notified: baseline frozen at t=%.0f s",
                     event_id, event.kind.value, ",".join(event.sites), now)
            return {"state": NOTIFIED}

    def cancel(self, event_id: str) -> bool:
        """Withdraw an event before its start; False if it has started or ended."""
        live = self.live
        with live.lock:
            now = live.clock.now_s()
            if not self.store.cancel(event_id, now):
                return False
            if self.plans.pop(event_id, None) is not None:
                live.scheduler.advance(now)
                self._apply(now)
                live._flush()
            return True

    def calendar(self) -> PowerCalendar:
        return power_calendar(list(self.plans.values()))

    def _apply(self, now: float) -> None:
        cal = self.calendar()
        self.live.scheduler.set_power(cal if cal else None, now)

    # ---- settlement -------------------------------------------------------------------------

    def settle_due(self, now: float) -> int:
        """Settle every event whose window has ended (after the tick's flush)."""
        due = [e for e, p in self.plans.items() if p.end_s <= now]
        for event_id in due:
            try:
                self.settle(event_id, now)
            except Exception:  # the next tick tries again; the service carries on
                log.exception("settling grid event %s failed", event_id)
        if self.ledger_pending:
            try:
                self._append_ledger()
            except Exception:  # e.g. another writer moved the head: the next tick again
                log.exception("the ledger record of a grid settlement failed")
        return len(due)

    def settle(self, event_id: str, now: float) -> dict[str, Any]:
        plan = self.plans[event_id]
        row = self.store.get(event_id)
        assert row is not None and row.baseline_jobs is not None and row.plan is not None
        report = self.measure(plan, _loads(row.baseline_jobs))
        settlement = {**report.as_dict(), "baseline": BASELINE_METHOD,
                      "notice_s": row.notice_s, "settled_s": now,
                      "window_s": [plan.start_s, plan.end_s],
                      "peak_kw": {s.site_id: s.peak_kw for s in report.sites}}
        self.store.set(event_id, state=SETTLED, settled_s=now, settlement=dumps(settlement))
        self.plans.pop(event_id)
        with self.live.lock:
            self.live.scheduler.advance(now)
            self._apply(now)
        self.settled_total += 1
        self.ledger_pending.append(event_id)
        log.info("grid event %s settled: %.1f of %.1f kWh delivered", event_id,
                 report.delivered_kwh, report.requested_kwh)
        return settlement

    def measure(self, plan: EventPlan, baseline_jobs: list[list[Any]]) -> EventReport:
        """The event's settlement against its frozen baseline (see the module's doc)."""
        live = self.live
        topo = live.topology
        pool_of = {(topo.site_ids[topo.pool_site[p]], topo.pool_kind[p].value): p
                   for p in range(len(topo.pools))}
        site_ids = [sp.site_id for sp in plan.sites]
        known = {j[0]: j for j in baseline_jobs}
        rows = self.store.jobs_by_id(list(known))
        for r in self.store.jobs_at(site_ids, plan.start_s, plan.end_s):
            rows.setdefault(r.id, r)
        order = list(known) + [i for i in rows if i not in known]
        base_rows: list[tuple[Any, int, int, float, float]] = []
        actual_rows: list[tuple[Any, int, int, float, float]] = []
        for job_id in order:
            b = known.get(job_id)
            r = rows.get(job_id)
            units = b[3] if b is not None else r.units  # type: ignore[union-attr]
            who = SimpleNamespace(units=units)
            if b is not None:
                base_rows.append((who, b[1], b[2], b[5], b[6]))
            else:
                base_rows.append((who, -1, -1, math.nan, math.nan))
            ran = (r is not None and r.site is not None and r.start_s is not None
                   and r.state in ("placed", "running", "finished", "failed"))
            if ran:
                assert r is not None
                end = r.end_s if r.end_s is not None else math.inf
                actual_rows.append((who, topo.site_ids.index(r.site),
                                    pool_of[(r.site, r.kind)], r.start_s, end))
            else:
                actual_rows.append((who, -1, -1, math.nan, math.nan))
        start = live.clock.start_utc
        base = power_record(topo, start, base_rows).as_result()
        actual = power_record(topo, start, actual_rows).as_result()
        return measure([plan], base, actual)[0]

    def _append_ledger(self) -> None:
        """Each settlement as a record of the ledger's hash chain (`DbLedger.append_event`),
        in settlement order; kept to try again if the ledger cannot take it now."""
        append = self.live.ledger.ledger.append_event
        while self.ledger_pending:
            event_id = self.ledger_pending[0]
            row = self.store.get(event_id)
            if row is None or row.settlement is None or row.plan is None:
                self.ledger_pending.pop(0)
                continue
            if row.ledger_seq is None:
                payload = settlement_record(event_id, _loads(row.settlement), _loads(row.plan))
                entry = append(SETTLEMENT_KIND, event_id, int(row.settled_s or 0), payload)
                self.store.set(event_id, ledger_seq=int(entry.seq))
            self.ledger_pending.pop(0)


def new_row(event: GridEvent, run_start: datetime, posted_by: str,
            posted_s: float) -> GridEventRow:
    t0 = (event.start - run_start).total_seconds()
    t1 = (event.end - run_start).total_seconds()
    return GridEventRow(id=event.id, kind=event.kind.value, state=POSTED, start_s=t0, end_s=t1,
                        month=month_of(event.start), posted_by=posted_by, posted_s=posted_s,
                        event=dumps(event_json(event)))


def _loads(text: str) -> Any:
    return json.loads(text)

