"""Persistence of the live service: tenants, jobs, lifecycle events, site state, meta.

Every write is one transaction. A job's acceptance is committed before the API answers; the
scheduler's transitions are committed, a tick's worth at a time, before anything outside the
process can see them.
"""

from __future__ import annotations

import hashlib
import json
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from suanwang.model import Job, Kind
from suanwang.service.account_store import AccountRefused, AccountStore, Admission
from suanwang.service.db import (
    CommandRow,
    JobEventRow,
    JobRow,
    MetaRow,
    SiteStateRow,
    TenantRow,
)
from suanwang.service.grid_store import GridStore
from suanwang.service.market_store import MarketStore
from suanwang.service.migrations import upgrade
from suanwang.service.states import (  # noqa: F401  (the lifecycle states, kept here too)
    ACTIVE_STATES,
    CANCELLED,
    DEFERRED,
    FAILED,
    FINISHED,
    PLACED,
    QUEUED,
    REJECTED,
    RUNNING,
    SUBMITTED,
    TERMINAL_STATES,
)


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
    env: dict[str, str] | None = None
    workdir: str | None = None
    max_retries: int = 0
    # what the tenant asks of the providers (all optional)
    max_price_yuan_per_unit_h: float | None = None
    max_bill_yuan: float | None = None
    providers_allow: tuple[str, ...] = ()
    providers_deny: tuple[str, ...] = ()
    providers_prefer: tuple[str, ...] = ()
    # a job the call auction placed (`service.market_desk`): its bid, round, clearing price
    market_bid: str | None = None
    market_round: str | None = None
    market_price_yuan_per_unit_h: float | None = None

    def providers_json(self) -> dict[str, list[str]] | None:
        """The provider lists as stored (None when the job names no provider)."""
        lists = {"allow": list(self.providers_allow), "deny": list(self.providers_deny),
                 "prefer": list(self.providers_prefer)}
        return lists if any(lists.values()) else None


@dataclass(slots=True)
class Transition:
    """A change to one job, with the lifecycle event that records it."""

    job_id: str
    state: str
    at_s: float
    reason: str = ""
    fields: dict[str, Any] | None = None
    # for the tenant's account, not the job's row: at placement `hold_yuan` (the provider's
    # worst case); at the end `unit_h` and `carbon_market_kg` (see `AccountStore`)
    account: dict[str, float] | None = None


_JOB_COLUMNS = ("id", "seq", "tenant", "idempotency_key", "origin", "kind", "units",
                "duration_s", "submit_s", "rtt_bound_ms", "deadline_s", "data_gb", "workload",
                "command", "state", "reason", "site", "rtt_ms", "placed_s", "start_s", "end_s",
                "defer_until_s", "energy_kwh", "green_kwh", "carbon_kg", "cost_yuan",
                "baseline_site", "baseline_carbon_kg", "baseline_cost_yuan", "env", "workdir",
                "max_retries", "attempts", "exec_handle", "exit_code", "log_tail",
                "provider", "bill_yuan", "egress_yuan", "max_price_yuan_per_unit_h",
                "max_bill_yuan", "providers", "market_bid", "market_round",
                "market_price_yuan_per_unit_h")
_JSON_COLUMNS = ("command", "env", "providers")
_EVENT_COLUMNS = ("job_id", "at_s", "state", "reason", "site")
_UNSET_COLUMNS = {c: None for c in ("site", "rtt_ms", "placed_s", "start_s", "end_s",
                                     "defer_until_s", "energy_kwh", "green_kwh", "carbon_kg",
                                     "cost_yuan", "baseline_site", "baseline_carbon_kg",
                                     "baseline_cost_yuan", "exec_handle", "exit_code",
                                     "log_tail", "provider", "bill_yuan", "egress_yuan")}


class JobRecord(SimpleNamespace):
    """A job's row as just written (the columns of `JobRow` as attributes), without the cost
    of an ORM object: what `add_jobs` returns."""


def row_to_job(row: Any) -> Job:
    lists = row.providers or {}
    return Job(job_id=row.id, tenant=row.tenant, origin=row.origin, kind=Kind(row.kind),
               units=row.units, duration_s=row.duration_s, submit_s=row.submit_s,
               rtt_bound_ms=row.rtt_bound_ms, deadline_s=row.deadline_s, data_gb=row.data_gb,
               workload=row.workload,
               max_price_yuan_per_unit_h=row.max_price_yuan_per_unit_h,
               max_bill_yuan=row.max_bill_yuan,
               providers_allow=tuple(lists.get("allow", ())),
               providers_deny=tuple(lists.get("deny", ())),
               providers_prefer=tuple(lists.get("prefer", ())))


def spec_job(tenant: str, spec: JobSpec, now_s: float, job_id: str = "") -> Job:
    """The job a submission makes (before it has an id), as placement sees it."""
    return Job(job_id=job_id, tenant=tenant, origin=spec.origin, kind=spec.kind,
               units=spec.units, duration_s=spec.duration_s, submit_s=now_s,
               rtt_bound_ms=spec.rtt_bound_ms,
               deadline_s=now_s + spec.deadline_in_s if spec.deadline_in_s is not None
               else None, data_gb=spec.data_gb, workload=spec.workload,
               max_price_yuan_per_unit_h=spec.max_price_yuan_per_unit_h,
               max_bill_yuan=spec.max_bill_yuan, providers_allow=spec.providers_allow,
               providers_deny=spec.providers_deny, providers_prefer=spec.providers_prefer)


@dataclass(eq=False)
class _PendingWrite:
    tenant: str
    specs: list[JobSpec]
    now_s: float
    idempotency_key: str | None
    admission: Admission | None = None  # what its jobs would hold on the tenant's account
    # run in the transaction that inserts the rows, after them (the market's holds and bids)
    then: Callable[[Connection, list[dict[str, Any]]], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    rows: list[dict[str, Any]] | None = None
    error: Exception | None = None


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade(engine)
        self.accounts = AccountStore(engine)
        self.market = MarketStore(engine, self.accounts)
        self.grid = GridStore(engine)  # grid events (issue 14)
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._writes: queue.Queue[_PendingWrite | None] = queue.Queue()  # None: close
        self._writer_thread = threading.Thread(target=self._writer, name="suanwang-store-writer",
                                               daemon=True)
        self._closed = False
        self._writer_thread.start()
        self._tenant_cache: dict[str, Tenant] = {}  # token hash -> tenant (tokens set here)
        # PostgreSQL: several API replicas may accept jobs, so the acceptance order comes
        # from a database sequence and each commit notifies the scheduler (LISTEN/NOTIFY)
        self.postgres = engine.dialect.name == "postgresql"
        self.channel = ""
        with self._session() as s:
            self._next_seq = (s.scalar(select(func.max(JobRow.seq))) or 0) + 1
            if self.postgres:
                schema = str(s.scalar(text("SELECT current_schema()")))
                self.channel = "suanwang_" + "".join(c if c.isalnum() else "_"
                                                     for c in schema.lower())

    def _seqs(self, conn: Connection, n: int) -> list[int]:
        """`n` new acceptance numbers (increasing; PostgreSQL: shared by all replicas, and
        not given back if the transaction fails: a gap, never a repeat)."""
        if not self.postgres:
            seq0, self._next_seq = self._next_seq, self._next_seq + n
            return list(range(seq0, seq0 + n))
        return list(conn.exec_driver_sql(
            "SELECT nextval('jobs_seq_gen') FROM generate_series(1, %s)", (n,)).scalars())

    def notify(self, conn: Connection) -> None:
        """Wake the leading scheduler when `conn`'s transaction commits (PostgreSQL)."""
        if self.postgres:
            conn.exec_driver_sql("SELECT pg_notify(%s, '')", (self.channel,))

    def session(self) -> Session:
        return self._session()

    # ---- tenants ---------------------------------------------------------------------------

    def ensure_tenant(self, tenant_id: str, role: str, token: str) -> None:
        try:
            self._ensure_tenant(tenant_id, role, token)
        except IntegrityError:  # another role starting on this database wrote it first
            self._ensure_tenant(tenant_id, role, token)

    def _ensure_tenant(self, tenant_id: str, role: str, token: str) -> None:
        self._tenant_cache.clear()
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
        digest = token_hash(token)
        found = self._tenant_cache.get(digest)
        if found is not None:
            return found
        with self._session() as s:
            row = s.scalar(select(TenantRow).where(TenantRow.token_sha256 == digest))
            if row is None:
                return None
            found = self._tenant_cache[digest] = Tenant(row.id, row.role)
            return found

    # ---- jobs ------------------------------------------------------------------------------

    def add_jobs(self, tenant: str, specs: Sequence[JobSpec], now_s: float,
                 idempotency_key: str | None = None,
                 admission: Admission | None = None,
                 then: Callable[[Connection, list[dict[str, Any]]], None] | None = None
                 ) -> tuple[list[Any], bool]:
        """Accept `specs` for `tenant` at run time `now_s`, committed before returning.

        With an `admission` (what each job would hold), a tenant with an account is checked
        against it in the same transaction (`AccountStore.admit`) and the jobs' holds are
        written with them; a request over a limit raises `AccountRefused` and adds nothing.

        With an idempotency key already used by this tenant, nothing is added and the jobs of
        the first request come back; the flag says whether they were created now.

        Writes go through one writer thread that commits whatever requests are waiting in
        one transaction (group commit): each caller still returns only after its own rows
        are committed, and concurrent requests do not queue on a lock one commit at a time.
        """
        if idempotency_key is not None:
            existing = self._by_idempotency(tenant, idempotency_key)
            if existing:
                return existing, False
        pending = _PendingWrite(tenant, list(specs), now_s, idempotency_key, admission, then)
        self._hand_over(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        if pending.rows is None:  # lost an idempotency race: answer with the winner's jobs
            return self._by_idempotency(tenant, idempotency_key or ""), False
        return [JobRecord(**r) for r in pending.rows], True

    def add_jobs_many(self, requests: Sequence[tuple[str, Sequence[JobSpec], float, str,
                                                     Callable[[Connection,
                                                               list[dict[str, Any]]], None]]]
                      ) -> list[list[Any]]:
        """Several requests (tenant, specs, now_s, idempotency key, `then`) handed to the
        writer at once, so that they share its transactions (group commit); the jobs of each
        (a key used already: the first request's jobs, and its `then` is not run again)."""
        pendings = [_PendingWrite(t, list(specs), now, key, None, then)
                    for t, specs, now, key, then in requests]
        for p in pendings:
            self._hand_over(p)
        out: list[list[Any]] = []
        for p in pendings:
            p.done.wait()
        for p in pendings:
            if p.error is not None:
                raise p.error
            if p.rows is None:  # the key was used already (a round cleared again)
                out.append(self._by_idempotency(p.tenant, p.idempotency_key or ""))
            else:
                out.append([JobRecord(**r) for r in p.rows])
        return out

    def _rows_for(self, p: _PendingWrite, seqs: list[int]) -> list[dict[str, Any]]:
        key0 = p.idempotency_key
        return [{
            "id": f"j{seqs[k]:08d}-{secrets.token_hex(2)}", "seq": seqs[k],
            "tenant": p.tenant,
            "idempotency_key": (key0 if k == 0 else f"{key0}#{k}") if key0 is not None
            else None,
            "origin": spec.origin, "kind": spec.kind.value, "units": spec.units,
            "duration_s": spec.duration_s, "submit_s": p.now_s,
            "rtt_bound_ms": spec.rtt_bound_ms,
            "deadline_s": (p.now_s + spec.deadline_in_s
                           if spec.deadline_in_s is not None else None),
            "data_gb": spec.data_gb, "workload": spec.workload, "command": spec.command,
            "env": spec.env, "workdir": spec.workdir, "max_retries": spec.max_retries,
            "attempts": 0, "state": SUBMITTED, "reason": "", **_UNSET_COLUMNS,
            "max_price_yuan_per_unit_h": spec.max_price_yuan_per_unit_h,
            "max_bill_yuan": spec.max_bill_yuan, "providers": spec.providers_json(),
            "market_bid": spec.market_bid, "market_round": spec.market_round,
            "market_price_yuan_per_unit_h": spec.market_price_yuan_per_unit_h,
        } for k, spec in enumerate(p.specs)]

    def _insert(self, batch: list[_PendingWrite]) -> None:
        """Commit `batch` in one transaction (its rows numbered first, unless a failed
        attempt numbered them already)."""
        with self.engine.begin() as conn:
            # accounts first (the first statement takes their write lock): every attempt
            # checks again, in the state it commits on
            asks = [p for p in batch if p.admission is not None]
            with_account: set[str] = set()
            if asks:
                verdicts, with_account = self.accounts.admit(
                    conn, [p.admission for p in asks if p.admission is not None])
                for p, refused in zip(asks, verdicts, strict=True):
                    p.error = refused
                batch = [p for p in batch if not isinstance(p.error, AccountRefused)]
            fresh = [p for p in batch if p.rows is None]
            seqs = self._seqs(conn, sum(len(p.specs) for p in fresh))
            k = 0
            for p in fresh:
                p.rows = self._rows_for(p, seqs[k:k + len(p.specs)])
                k += len(p.specs)
            rows = [r for p in batch for r in p.rows or []]
            self._insert_rows(conn, "jobs", _JOB_COLUMNS,
                              [tuple(json.dumps(r[c]) if c in _JSON_COLUMNS and r[c] is not None
                                     else r[c] for c in _JOB_COLUMNS) for r in rows])
            self._insert_rows(conn, "job_events", _EVENT_COLUMNS,
                              [(r["id"], r["submit_s"], SUBMITTED, "accepted", None)
                               for r in rows])
            for p in batch:
                if p.admission is not None and p.tenant in with_account:
                    self.accounts.write_holds(conn, p.tenant, [r["id"] for r in p.rows or []],
                                              p.admission.needs, p.admission.month, p.now_s)
            for p in batch:
                if p.then is not None:
                    p.then(conn, p.rows or [])
            self.notify(conn)

    def _placeholder(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _insert_rows(self, conn: Connection, table: str, columns: tuple[str, ...],
                     rows: list[tuple[Any, ...]]) -> None:
        """executemany at the driver level: SQLAlchemy's per-row parameter processing costs
        more than the database's work for bulk writes of plain values."""
        if rows:
            ph = self._placeholder()
            conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) "
                                 f"VALUES ({', '.join([ph] * len(columns))})", rows)

    def _hand_over(self, pending: _PendingWrite) -> None:
        if self._closed:
            raise RuntimeError("the store is closed: its service has stopped")
        self._writes.put(pending)

    def close(self, timeout_s: float = 10.0) -> None:
        """Commit what was handed to the writer, end its thread and let the engine's
        connections go. Writes handed over after this fail (the writer is gone)."""
        self._closed = True
        if self._writer_thread.is_alive():
            self._writes.put(None)
            self._writer_thread.join(timeout_s)
        self.engine.dispose()

    def _writer(self) -> None:
        while True:
            # one call per batch: its requests are not referenced while the writer waits (a
            # request holds its admission, and that its service, long after a test or a
            # restart has stopped it)
            first = self._writes.get()
            if first is None or not self._commit_waiting(first):
                return

    def _commit_waiting(self, first: _PendingWrite) -> bool:
        """Commit `first` and whatever requests are waiting behind it (up to 1,000), then
        wake each; False if a close was asked behind them."""
        batch = [first]
        closing = False
        while len(batch) < 1000:
            try:
                p = self._writes.get_nowait()
            except queue.Empty:
                break
            if p is None:
                closing = True
                break
            batch.append(p)
        try:
            self._insert(batch)
        except IntegrityError:
            # some request in the batch lost an idempotency race: commit one by one
            for p in batch:
                try:
                    self._insert([p])
                except IntegrityError as exc:
                    if p.idempotency_key is None:
                        p.error = exc
                    p.rows = None
                except Exception as exc:  # handed to the waiting request, which raises
                    p.error = exc
        except Exception as exc:  # handed to the waiting requests, which raise it
            for p in batch:
                p.error = exc
        for p in batch:
            p.done.set()
        return not closing

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
                  limit: int = 100, newest_first: bool = False) -> list[JobRow]:
        q = select(JobRow)
        if newest_first:
            if after_seq:
                q = q.where(JobRow.seq < after_seq)
        else:
            q = q.where(JobRow.seq > after_seq)
        if tenant is not None:
            q = q.where(JobRow.tenant == tenant)
        for col, value in ((JobRow.state, state), (JobRow.origin, origin),
                           (JobRow.kind, kind), (JobRow.site, site)):
            if value is not None:
                q = q.where(col == value)
        with self._session() as s:
            order = JobRow.seq.desc() if newest_first else JobRow.seq
            return list(s.scalars(q.order_by(order).limit(limit)))

    def events(self, job_id: str) -> list[JobEventRow]:
        with self._session() as s:
            return list(s.scalars(select(JobEventRow).where(JobEventRow.job_id == job_id)
                                  .order_by(JobEventRow.id)))

    def submitted_jobs(self, limit: int = 10000) -> list[JobRow]:
        """Jobs accepted and not yet decided, in acceptance order (what the scheduler of
        another process has still to take in)."""
        with self._session() as s:
            return list(s.scalars(select(JobRow).where(JobRow.state == SUBMITTED)
                                  .order_by(JobRow.seq).limit(limit)))

    def active_jobs(self) -> list[JobRow]:
        with self._session() as s:
            return list(s.scalars(select(JobRow).where(JobRow.state.in_(ACTIVE_STATES))
                                  .order_by(JobRow.seq)))

    def apply(self, transitions: Iterable[Transition],
              log: Sequence[dict[str, Any]] = ()) -> None:
        """Persist a batch of transitions in one transaction: one lifecycle event each, and
        each job's row updated once to its latest state (executemany, grouped by the set of
        columns that change); with them, the scheduler's log records of the same decisions
        (`scheduler_log`)."""
        ts = list(transitions)
        if not ts:
            if log:
                with self.engine.begin() as conn:
                    self._append_log(conn, log)
            return
        latest: dict[str, dict[str, Any]] = {}
        for t in ts:
            row = latest.setdefault(t.job_id, {})
            row.update(t.fields or {})
            row["state"] = t.state
            row["reason"] = t.reason
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for job_id, values in latest.items():
            cols = tuple(sorted(values))
            groups.setdefault(cols, []).append(
                {"b_id": job_id, **{f"b_{c}": v for c, v in values.items()}})
        events = [(t.job_id, t.at_s, t.state, t.reason, (t.fields or {}).get("site"))
                  for t in ts]
        ph = self._placeholder()
        ends: dict[str, dict[str, Any]] = {}
        placed: dict[str, float] = {}
        ended_at: dict[str, float] = {}
        for t in ts:
            if t.state in TERMINAL_STATES:
                ends[t.job_id] = {**latest[t.job_id], **(t.account or {})}
                ended_at[t.job_id] = t.at_s
            elif t.account is not None and "hold_yuan" in t.account:
                placed[t.job_id] = t.account["hold_yuan"]
        with self.engine.begin() as conn:
            for cols, params in groups.items():
                sets = ", ".join(f"{c} = {ph}" for c in cols)
                conn.exec_driver_sql(
                    f"UPDATE jobs SET {sets} WHERE id = {ph}",
                    [(*(p[f"b_{c}"] for c in cols), p["b_id"]) for p in params])
            self._insert_rows(conn, "job_events", _EVENT_COLUMNS, events)
            if ends or placed:  # the accounts' holds settle with the jobs' ends
                self.accounts.on_transitions(conn, ends, placed, ended_at)
            if log:
                self._append_log(conn, log)

    def _append_log(self, conn: Connection, log: Sequence[dict[str, Any]]) -> None:
        self._insert_rows(conn, "scheduler_log", ("kind", "clock", "body"),
                          [(r["kind"], r["clock"], json.dumps(r["body"])) for r in log])

    def scheduler_log(self, after_seq: int = 0, limit: int = 100_000
                      ) -> list[tuple[int, str, float, dict[str, Any]]]:
        """(seq, kind, clock, body) of the scheduler's log from `after_seq` on."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT seq, kind, clock, body FROM scheduler_log WHERE seq > :a "
                "ORDER BY seq LIMIT :n"), {"a": after_seq, "n": limit}).all()
        return [(int(r[0]), r[1], float(r[2]), json.loads(r[3])) for r in rows]

    def totals(self, tenant: str | None = None) -> dict[str, Any]:
        cols = (func.count(JobRow.id), func.sum(JobRow.energy_kwh), func.sum(JobRow.green_kwh),
                func.sum(JobRow.carbon_kg), func.sum(JobRow.cost_yuan),
                func.sum(JobRow.baseline_carbon_kg), func.sum(JobRow.baseline_cost_yuan))
        with self._session() as s:
            by_state = dict(s.execute(
                (select(JobRow.state, func.count(JobRow.id)).where(JobRow.tenant == tenant)
                 if tenant else select(JobRow.state, func.count(JobRow.id)))
                .group_by(JobRow.state)).all())
            q = select(*cols).where(JobRow.state == FINISHED)
            if tenant:
                q = q.where(JobRow.tenant == tenant)
            n, energy, green, carbon, cost, base_carbon, base_cost = s.execute(q).one()
        return {"jobs_by_state": by_state, "finished": n or 0,
                "energy_kwh": energy or 0.0, "green_kwh": green or 0.0,
                "carbon_kg": carbon or 0.0, "cost_yuan": cost or 0.0,
                "baseline_carbon_kg": base_carbon or 0.0,
                "baseline_cost_yuan": base_cost or 0.0,
                "carbon_saved_kg": (base_carbon or 0.0) - (carbon or 0.0),
                "cost_saved_yuan": (base_cost or 0.0) - (cost or 0.0)}

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

    def init_meta(self, key: str, value: str) -> str:
        """The value of `key`, set to `value` first if it has none (whoever sets it first,
        among roles starting together, wins)."""
        found = self.meta(key)
        if found is not None:
            return found
        try:
            with self._session.begin() as s:
                s.add(MetaRow(key=key, value=value))
        except IntegrityError:
            pass
        return self.meta(key) or value

    # ---- operator commands (API replica -> leading scheduler) -------------------------------

    def append_command(self, kind: str, body: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            cid = conn.execute(CommandRow.__table__.insert().values(
                kind=kind, body=json.dumps(body), created_wall_s=time.time())
                .returning(CommandRow.__table__.c.id)).scalar_one()
            self.notify(conn)
        return int(cid)

    def pending_commands(self) -> list[CommandRow]:
        with self._session() as s:
            return list(s.scalars(select(CommandRow).where(CommandRow.applied_wall_s.is_(None))
                                  .order_by(CommandRow.id)))

    def finish_command(self, command_id: int, result: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(CommandRow).where(CommandRow.id == command_id).values(
                applied_wall_s=time.time(), result=json.dumps(result)))

    def command_result(self, command_id: int) -> dict[str, Any] | None:
        with self._session() as s:
            row = s.get(CommandRow, command_id)
            return json.loads(row.result) if row is not None and row.result else None

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
