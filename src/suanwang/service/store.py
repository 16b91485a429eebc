"""Persistence of the live service: tenants, jobs, lifecycle events, site state, meta.

Every write is one transaction. A job's acceptance is committed before the API answers; the
scheduler's transitions are committed, a tick's worth at a time, before anything outside the
process can see them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from suanwang.model import Job, Kind
from suanwang.service.db import JobEventRow, JobRow, MetaRow, SiteStateRow, TenantRow
from suanwang.service.migrations import upgrade

# lifecycle states
SUBMITTED, QUEUED, DEFERRED = "submitted", "queued", "deferred"
PLACED, RUNNING = "placed", "running"
FINISHED, FAILED, CANCELLED, REJECTED = "finished", "failed", "cancelled", "rejected"
ACTIVE_STATES = (SUBMITTED, QUEUED, DEFERRED, PLACED, RUNNING)
TERMINAL_STATES = (FINISHED, FAILED, CANCELLED, REJECTED)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    role: str  # "tenant" or "operator"

    @property
    def operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A validated submission (the API's body, trusted from here on)."""

    origin: str
    kind: Kind
    units: int
    duration_s: float
    rtt_bound_ms: float | None
    deadline_in_s: float | None
    data_gb: float
    workload: str
    command: list[str] | None


@dataclass(slots=True)
class Transition:
    """A change to one job, with the lifecycle event that records it."""

    job_id: str
    state: str
    at_s: float
    reason: str = ""
    fields: dict[str, Any] | None = None


def row_to_job(row: JobRow) -> Job:
    return Job(job_id=row.id, tenant=row.tenant, origin=row.origin, kind=Kind(row.kind),
               units=row.units, duration_s=row.duration_s, submit_s=row.submit_s,
               rtt_bound_ms=row.rtt_bound_ms, deadline_s=row.deadline_s, data_gb=row.data_gb,
               workload=row.workload)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade(engine)
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._seq_lock = threading.Lock()
        with self._session() as s:
            self._next_seq = (s.scalar(select(func.max(JobRow.seq))) or 0) + 1

    def session(self) -> Session:
        return self._session()

    # ---- tenants ---------------------------------------------------------------------------

    def ensure_tenant(self, tenant_id: str, role: str, token: str) -> None:
        with self._session.begin() as s:
            row = s.get(TenantRow, tenant_id)
            if row is None:
                s.add(TenantRow(id=tenant_id, role=role, token_sha256=token_hash(token)))
            else:
                row.role = role
                row.token_sha256 = token_hash(token)

    def tenant_by_id(self, tenant_id: str) -> Tenant | None:
        with self._session() as s:
            row = s.get(TenantRow, tenant_id)
            return Tenant(row.id, row.role) if row is not None else None

    def tenant_by_token(self, token: str) -> Tenant | None:
        with self._session() as s:
            row = s.scalar(select(TenantRow).where(TenantRow.token_sha256 == token_hash(token)))
            return Tenant(row.id, row.role) if row is not None else None

    # ---- jobs ------------------------------------------------------------------------------

    def add_jobs(self, tenant: str, specs: Sequence[JobSpec], now_s: float,
                 idempotency_key: str | None = None) -> tuple[list[JobRow], bool]:
        """Accept `specs` for `tenant` at run time `now_s`, committed before returning.

        With an idempotency key already used by this tenant, nothing is added and the jobs of
        the first request come back; the flag says whether they were created now.
        """
        if idempotency_key is not None:
            existing = self._by_idempotency(tenant, idempotency_key)
            if existing:
                return existing, False
        with self._seq_lock:
            seq0 = self._next_seq
            rows = []
            for k, spec in enumerate(specs):
                seq = seq0 + k
                key = (idempotency_key if k == 0 else f"{idempotency_key}#{k}") \
                    if idempotency_key is not None else None
                rows.append(JobRow(
                    id=f"j{seq:08d}-{secrets.token_hex(2)}", seq=seq, tenant=tenant,
                    idempotency_key=key, origin=spec.origin, kind=spec.kind.value,
                    units=spec.units, duration_s=spec.duration_s, submit_s=now_s,
                    rtt_bound_ms=spec.rtt_bound_ms,
                    deadline_s=(now_s + spec.deadline_in_s
                                if spec.deadline_in_s is not None else None),
                    data_gb=spec.data_gb, workload=spec.workload, command=spec.command,
                    state=SUBMITTED, reason="",
                ))
            try:
                with self._session.begin() as s:
                    s.add_all(rows)
                    s.flush()
                    s.add_all([JobEventRow(job_id=r.id, at_s=now_s, state=SUBMITTED,
                                           reason="accepted") for r in rows])
            except IntegrityError:
                if idempotency_key is None:
                    raise
                # a concurrent retry with the same key won the race: answer with its jobs
                return self._by_idempotency(tenant, idempotency_key), False
            self._next_seq = seq0 + len(rows)
        return rows, True

    def _by_idempotency(self, tenant: str, key: str) -> list[JobRow]:
        with self._session() as s:
            first = s.scalar(select(JobRow).where(JobRow.tenant == tenant,
                                                  JobRow.idempotency_key == key))
            if first is None:
                return []
            rows = [first]
            k = 1
            while True:
                nxt = s.scalar(select(JobRow).where(JobRow.tenant == tenant,
                                                    JobRow.idempotency_key == f"{key}#{k}"))
                if nxt is None:
                    return rows
                rows.append(nxt)
                k += 1

    def get_job(self, job_id: str) -> JobRow | None:
        with self._session() as s:
            return s.get(JobRow, job_id)

    def list_jobs(self, tenant: str | None, *, state: str | None = None,
                  origin: str | None = None, kind: str | None = None,
                  site: str | None = None, after_seq: int = 0,
                  limit: int = 100) -> list[JobRow]:
        q = select(JobRow).where(JobRow.seq > after_seq)
        if tenant is not None:
            q = q.where(JobRow.tenant == tenant)
        for col, value in ((JobRow.state, state), (JobRow.origin, origin),
                           (JobRow.kind, kind), (JobRow.site, site)):
            if value is not None:
                q = q.where(col == value)
        with self._session() as s:
            return list(s.scalars(q.order_by(JobRow.seq).limit(limit)))

    def events(self, job_id: str) -> list[JobEventRow]:
        with self._session() as s:
            return list(s.scalars(select(JobEventRow).where(JobEventRow.job_id == job_id)
                                  .order_by(JobEventRow.id)))

    def active_jobs(self) -> list[JobRow]:
        with self._session() as s:
            return list(s.scalars(select(JobRow).where(JobRow.state.in_(ACTIVE_STATES))
                                  .order_by(JobRow.seq)))

    def apply(self, transitions: Iterable[Transition]) -> None:
        """Persist a batch of transitions in one transaction."""
        ts = list(transitions)
        if not ts:
            return
        with self._session.begin() as s:
            for t in ts:
                values: dict[str, Any] = {"state": t.state, "reason": t.reason}
                if t.fields:
                    values.update(t.fields)
                s.execute(update(JobRow).where(JobRow.id == t.job_id).values(**values))
            s.add_all([JobEventRow(job_id=t.job_id, at_s=t.at_s, state=t.state,
                                   reason=t.reason,
                                   site=(t.fields or {}).get("site")) for t in ts])

    def totals(self, tenant: str | None = None) -> dict[str, Any]:
        cols = (func.count(JobRow.id), func.sum(JobRow.energy_kwh), func.sum(JobRow.green_kwh),
                func.sum(JobRow.carbon_kg), func.sum(JobRow.cost_yuan))
        with self._session() as s:
            by_state = dict(s.execute(
                (select(JobRow.state, func.count(JobRow.id)).where(JobRow.tenant == tenant)
                 if tenant else select(JobRow.state, func.count(JobRow.id)))
                .group_by(JobRow.state)).all())
            q = select(*cols).where(JobRow.state == FINISHED)
            if tenant:
                q = q.where(JobRow.tenant == tenant)
            n, energy, green, carbon, cost = s.execute(q).one()
        return {"jobs_by_state": by_state, "finished": n or 0,
                "energy_kwh": energy or 0.0, "green_kwh": green or 0.0,
                "carbon_kg": carbon or 0.0, "cost_yuan": cost or 0.0}

    # ---- sites and meta --------------------------------------------------------------------

    def drained_sites(self) -> set[str]:
        with self._session() as s:
            return set(s.scalars(select(SiteStateRow.site_id).where(SiteStateRow.drained)))

    def set_drained(self, site_id: str, drained: bool) -> None:
        with self._session.begin() as s:
            row = s.get(SiteStateRow, site_id)
            if row is None:
                s.add(SiteStateRow(site_id=site_id, drained=drained))
            else:
                row.drained = drained

    def meta(self, key: str) -> str | None:
        with self._session() as s:
            row = s.get(MetaRow, key)
            return row.value if row is not None else None

    def set_meta(self, key: str, value: str) -> None:
        with self._session.begin() as s:
            row = s.get(MetaRow, key)
            if row is None:
                s.add(MetaRow(key=key, value=value))
            else:
                row.value = value
