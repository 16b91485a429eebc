"""The live scheduler's log of inputs and decisions (issue 16 item 4), for deterministic
replay (`suanwang replay`).

Everything that changes the scheduling core's state reaches it through a handful of calls
(`Scheduler.submit`, `advance`, `release`, `requeue`, `cancel`, `drain_site`, `close_slice`,
`set_capacity`, `resume_running`, `resume_deferred`). `RecordingScheduler` stands in front
of the live service's `Scheduler`, forwards every call and appends a record of each input
call (its arguments and the core's clock `now_s` before it) to a list; the live listener
appends a record of each decision the core took (placed, deferred, queued, rejected, and the
units freed at an estimate). The list is written with the tick's transitions, in one
transaction (`Store.apply`), into `scheduler_log`, so the log and the jobs table never
disagree. Each start of a scheduler (a restart, a failover) begins with a `start` record: the
policy, seed, forecast error, the sites whose jobs end at their estimate and the network's
fingerprint.

An `advance` that has nothing due only moves the core's clock: it is not recorded (every
record carries the clock it saw, which replay restores), so the log grows with the work, not
with the ticks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from suanwang.core.policy import Decision
from suanwang.core.power_ceiling import Ceiling, FillLevel, PowerCalendar
from suanwang.core.scheduler import Scheduler
from suanwang.model import Job, Kind, Network

INPUTS = ("start", "submit", "advance", "release", "requeue", "cancel", "drain_site",
          "close_slice", "set_capacity", "resume_running", "resume_deferred", "place",
          "set_power")
DECISIONS = ("placed", "deferred", "queued", "rejected", "finished")


def network_fingerprint(network: Network) -> str:
    """A digest of the network as loaded (its repr: frozen dataclasses, stable)."""
    return hashlib.sha256(repr(network).encode("utf-8")).hexdigest()[:32]


class RecordingScheduler:
    """A `Scheduler` whose input calls are appended to `records` (see the module's doc)."""

    def __init__(self, inner: Scheduler, records: list[dict[str, Any]]) -> None:
        self._inner = inner
        self.records = records

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _rec(self, what: str, /, **body: Any) -> None:
        self.records.append({"kind": what, "clock": self._inner.now_s, "body": body})

    def submit(self, job: Job, now_s: float) -> None:
        self._rec("submit", job=job.job_id, now_s=now_s)
        self._inner.submit(job, now_s)

    def advance(self, until_s: float) -> None:
        due = self._inner.next_event_s()
        if due is not None and due <= until_s:
            self._rec("advance", until_s=until_s)
        self._inner.advance(until_s)

    def release(self, job_id: str, now_s: float, notify: bool = True) -> Any:
        self._rec("release", job=job_id, now_s=now_s, notify=notify)
        return self._inner.release(job_id, now_s, notify=notify)

    def requeue(self, job_id: str, now_s: float) -> bool:
        self._rec("requeue", job=job_id, now_s=now_s)
        return self._inner.requeue(job_id, now_s)

    def cancel(self, job_id: str, now_s: float) -> bool:
        self._rec("cancel", job=job_id, now_s=now_s)
        return self._inner.cancel(job_id, now_s)

    def drain_site(self, site_id: str, drained: bool, now_s: float) -> None:
        self._rec("drain_site", site=site_id, drained=drained, now_s=now_s)
        self._inner.drain_site(site_id, drained, now_s)

    def close_slice(self, sl: int, closed: bool, now_s: float) -> None:
        self._rec("close_slice", slice=sl, closed=closed, now_s=now_s)
        self._inner.close_slice(sl, closed, now_s)

    def set_capacity(self, site_id: str, kind: Kind, units: int, now_s: float) -> None:
        self._rec("set_capacity", site=site_id, kind=kind.value, units=units, now_s=now_s)
        self._inner.set_capacity(site_id, kind, units, now_s)

    def resume_running(self, job: Job, site_id: str, end_s: float,
                       provider_id: str = "") -> None:
        self._rec("resume_running", job=job.job_id, site=site_id, end_s=end_s,
                  provider=provider_id)
        self._inner.resume_running(job, site_id, end_s, provider_id)

    def resume_deferred(self, job: Job, until_s: float) -> None:
        self._rec("resume_deferred", job=job.job_id, until_s=until_s)
        self._inner.resume_deferred(job, until_s)

    def apply(self, decision: Decision, now_s: float) -> None:
        """A decision made outside the policy (the call auction's placements): recorded as
        one `place` input per placement."""
        for pl in decision.placed:
            self._rec("place", job=pl.job.job_id, site=pl.site_id, provider=pl.provider_id,
                      transfer_s=pl.transfer_s, reason=pl.reason, now_s=now_s)
        self._inner.apply(decision, now_s)
    def set_power(self, power: PowerCalendar | None, now_s: float) -> None:
        self._rec("set_power", now_s=now_s, **calendar_body(power))
        self._inner.set_power(power, now_s)


def calendar_body(power: PowerCalendar | None) -> dict[str, Any]:
    """A power calendar (grid events' ceilings and fill levels) as a log record's body."""
    if power is None:
        return {"ceilings": [], "fills": []}
    return {"ceilings": [[c.site, c.start_s, c.end_s, c.kw, c.hard, c.event_id, c.reserve_kw]
                         for c in power.ceilings],
            "fills": [[f.site, f.start_s, f.end_s, f.kw, f.event_id] for f in power.fills]}


def calendar_of(body: dict[str, Any]) -> PowerCalendar | None:
    cal = PowerCalendar([Ceiling(int(c[0]), c[1], c[2], c[3], bool(c[4]), c[5], c[6])
                         for c in body["ceilings"]],
                        [FillLevel(int(f[0]), f[1], f[2], f[3], f[4]) for f in body["fills"]])
    return cal if cal else None


def decision(what: str, job_id: str, at_s: float, /, **body: Any) -> dict[str, Any]:
    """The record of one decision of the core (appended by the live listener)."""
    return {"kind": what, "clock": at_s, "body": {"job": job_id, **body}}
