"""The hand-off between the scheduler and the executor workers (issue 16): PostgreSQL tables,
leases taken with `FOR UPDATE SKIP LOCKED`.

- `dispatches`: one row per run of a job (job id, attempt) the scheduler hands to the workers
  of its binding (a site, or `site/provider`), with the `RunSpec` to run. A worker claims rows
  of its bindings that nobody holds or whose lease has expired, and renews its leases with
  every heartbeat; the backend's handle (local `job@pid:ticks`, Slurm `job@slurm id`) is
  written as soon as the backend has it, so that whoever takes the lease over asks the backend
  about that run instead of starting it again.
- `worker_reports`: what a worker saw (`started`, `ended`), appended in the same transaction
  as a check that it still holds the lease (a worker that lost its lease reports nothing), at
  most once per (job, attempt, kind) (a unique key: a report sent again, by the same worker or
  by the one that took over, inserts nothing), with a `pg_notify` on the schema's channel that
  wakes the leading scheduler; the scheduler consumes them in id order.
- `workers`: each worker's heartbeat, so that the scheduler knows whether a binding is served.

Lease times are the database server's clock (`clock_timestamp()`), so workers on machines whose
clocks differ agree on when a lease has expired.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from suanwang.executors.base import ExecState, ExecStatus, RunSpec
from suanwang.model import Kind

LEASE_S = 10.0  # default lease: a dead worker's jobs are taken over this long after it died
NOW = "EXTRACT(EPOCH FROM clock_timestamp())"
STARTED, ENDED = "started", "ended"


def spec_json(spec: RunSpec) -> str:
    body = asdict(spec)
    body["kind"] = spec.kind.value
    return json.dumps(body)


def spec_of(raw: str) -> RunSpec:
    body = json.loads(raw)
    return RunSpec(**{**body, "kind": Kind(body["kind"]), "command": tuple(body["command"]),
                      "env": tuple(tuple(kv) for kv in body["env"])})


def status_json(st: ExecStatus, started_as: str = "") -> str:
    return json.dumps({"state": st.state.value, "started_wall_s": st.started_wall_s,
                       "ended_wall_s": st.ended_wall_s, "exit_code": st.exit_code,
                       "reason": st.reason, "log_tail": st.log_tail, "started_as": started_as})


def status_of(raw: str) -> ExecStatus:
    b = json.loads(raw)
    return ExecStatus(ExecState(b["state"]), b["started_wall_s"], b["ended_wall_s"],
                      b["exit_code"], b["reason"], b["log_tail"], b.get("started_as", ""))


@dataclass(frozen=True, slots=True)
class Claim:
    """A run a worker now holds the lease of."""

    job_id: str
    attempt: int
    binding: str
    spec: RunSpec
    backend_handle: str | None  # set: started before (by a worker that died): adopt it
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    job_id: str
    attempt: int
    kind: str
    status: ExecStatus


def default_worker_id() -> str:
    import os

    return f"{socket.gethostname()}-{os.getpid()}"


class WorkQueue:
    def __init__(self, engine: Engine, channel: str) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("executor workers need PostgreSQL")
        self.engine = engine
        self.channel = channel

    def _notify(self, conn: Connection) -> None:
        conn.exec_driver_sql("SELECT pg_notify(%s, '')", (self.channel,))

    # ---- the scheduler's side ------------------------------------------------------------

    def hand_over(self, binding: str, spec: RunSpec) -> None:
        """Queue a run for the workers of `binding` (a run handed over again, by a scheduler
        that took over before it had stored the first hand-over, stays the one row)."""
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO dispatches (job_id, attempt, binding, spec, created_wall_s, ended, "
                f"cancel_requested) VALUES (:j, :a, :b, :s, {NOW}, false, false) "
                "ON CONFLICT (job_id, attempt) DO NOTHING"),
                {"j": spec.job_id, "a": spec.attempt, "b": binding, "s": spec_json(spec)})

    def request_cancel(self, job_id: str, attempt: int) -> None:
        """Ask the holder to stop the run; a run nobody has claimed ends here."""
        with self.engine.begin() as conn:
            conn.execute(text(
                "UPDATE dispatches SET cancel_requested = true, "
                "ended = (ended OR worker IS NULL) WHERE job_id = :j AND attempt = :a"),
                {"j": job_id, "a": attempt})

    def take_reports(self, limit: int = 10_000) -> list[Report]:
        """Reports not consumed yet, in id order, marked consumed."""
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT id, job_id, attempt, kind, body FROM worker_reports WHERE NOT consumed "
                "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"), {"n": limit}).all()
            if rows:
                conn.execute(text("UPDATE worker_reports SET consumed = true "
                                  "WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]})
        return [Report(r.id, r.job_id, r.attempt, r.kind, status_of(r.body)) for r in rows]

    def reports_of(self, keys: Sequence[tuple[str, int]]) -> list[Report]:
        """Every report of these runs, consumed or not, in id order (a new leader's start)."""
        if not keys:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, job_id, attempt, kind, body FROM worker_reports "
                "WHERE job_id = ANY(:j) ORDER BY id"), {"j": [k[0] for k in keys]}).all()
        wanted = set(keys)
        return [Report(r.id, r.job_id, r.attempt, r.kind, status_of(r.body)) for r in rows
                if (r.job_id, r.attempt) in wanted]

    def served_bindings(self, within_s: float) -> set[str]:
        """Bindings some worker has heartbeated for in the last `within_s` seconds."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT bindings FROM workers WHERE heartbeat_wall_s > {NOW} - :w"),
                {"w": within_s}).scalars().all()
        return {b for raw in rows for b in json.loads(raw)}

    # ---- a worker's side -----------------------------------------------------------------

    def register(self, worker_id: str, bindings: Sequence[str], backend: str, pid: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO workers (id, bindings, backend, pid, host, started_wall_s, "
                f"heartbeat_wall_s) VALUES (:i, :b, :k, :p, :h, {NOW}, {NOW}) "
                "ON CONFLICT (id) DO UPDATE SET bindings = EXCLUDED.bindings, "
                "backend = EXCLUDED.backend, pid = EXCLUDED.pid, "
                "heartbeat_wall_s = EXCLUDED.heartbeat_wall_s"),
                {"i": worker_id, "b": json.dumps(list(bindings)), "k": backend, "p": pid,
                 "h": socket.gethostname()})

    def heartbeat(self, worker_id: str, lease_s: float) -> dict[tuple[str, int], bool]:
        """Renew this worker's leases; the runs it still holds -> whether their cancel was
        asked for (a run missing from the answer was taken over: its lease had expired)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"UPDATE workers SET heartbeat_wall_s = {NOW} WHERE id = :i"),
                         {"i": worker_id})
            rows = conn.execute(text(
                f"UPDATE dispatches SET lease_until_wall_s = {NOW} + :l "
                "WHERE worker = :i AND NOT ended RETURNING job_id, attempt, cancel_requested"),
                {"i": worker_id, "l": lease_s}).all()
        return {(r.job_id, r.attempt): bool(r.cancel_requested) for r in rows}

    def claim(self, worker_id: str, bindings: Sequence[str], limit: int,
              lease_s: float) -> list[Claim]:
        """Take up to `limit` runs of `bindings` that nobody holds or whose lease expired,
        oldest first; rows another worker is claiming at this moment are skipped."""
        if limit <= 0:
            return []
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                f"UPDATE dispatches d SET worker = :i, lease_until_wall_s = {NOW} + :l "
                "FROM (SELECT job_id, attempt FROM dispatches WHERE binding = ANY(:b) "
                "AND NOT ended AND (worker IS NULL OR lease_until_wall_s < "
                f"{NOW}) ORDER BY created_wall_s LIMIT :n FOR UPDATE SKIP LOCKED) AS free "
                "WHERE d.job_id = free.job_id AND d.attempt = free.attempt "
                "RETURNING d.job_id, d.attempt, d.binding, d.spec, d.backend_handle, "
                "d.cancel_requested"),
                {"i": worker_id, "l": lease_s, "b": list(bindings), "n": limit}).all()
        return [Claim(r.job_id, r.attempt, r.binding, spec_of(r.spec), r.backend_handle,
                      bool(r.cancel_requested)) for r in rows]

    def record_start(self, worker_id: str, job_id: str, attempt: int, handle: str) -> bool:
        """Store the backend's handle of a run just started; False if the lease is gone."""
        return bool(self.record_starts(worker_id, [((job_id, attempt), handle)]))

    def record_starts(self, worker_id: str, started: Sequence[tuple[tuple[str, int], str]]
                      ) -> set[tuple[str, int]]:
        """Store the backends' handles of runs just started, in one transaction; the runs
        whose lease this worker still held (the others were taken over meanwhile)."""
        if not started:
            return set()
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "UPDATE dispatches d SET backend_handle = v.h FROM "
                "unnest(CAST(:j AS text[]), CAST(:a AS int[]), CAST(:h AS text[])) AS v(j, a, h) "
                "WHERE d.job_id = v.j AND d.attempt = v.a AND d.worker = :i AND NOT d.ended "
                "RETURNING d.job_id, d.attempt"),
                {"j": [k[0] for k, _ in started], "a": [k[1] for k, _ in started],
                 "h": [h for _, h in started], "i": worker_id}).all()
        return {(r.job_id, r.attempt) for r in rows}

    def report(self, worker_id: str, job_id: str, attempt: int, kind: str,
               status: ExecStatus, started_as: str = "") -> bool:
        """Append a report if this worker holds the run's lease (an `ended` one ends the
        run's lease); False if it does not. A report already made inserts nothing."""
        return bool(self.report_many(worker_id, [((job_id, attempt), kind, status,
                                                  started_as)]))

    def report_many(self, worker_id: str,
                    reports: Sequence[tuple[tuple[str, int], str, ExecStatus, str]]
                    ) -> set[tuple[str, int]]:
        """Append reports ((job, attempt), kind, status, started_as) in order, in one
        transaction, for the runs whose lease this worker holds (an `ended` report ends its
        run's lease); the runs they were accepted for. A report already made inserts
        nothing (the unique key); one notification wakes the scheduler."""
        if not reports:
            return set()
        ends: dict[tuple[str, int], bool] = {}
        for key, kind, _, _ in reports:
            ends[key] = ends.get(key, False) or kind == ENDED
        with self.engine.begin() as conn:
            held = {(r.job_id, r.attempt) for r in conn.execute(text(
                "UPDATE dispatches d SET ended = (d.ended OR v.e) FROM "
                "unnest(CAST(:j AS text[]), CAST(:a AS int[]), CAST(:e AS boolean[])) "
                "AS v(j, a, e) WHERE d.job_id = v.j AND d.attempt = v.a AND d.worker = :i "
                "AND NOT d.ended RETURNING d.job_id, d.attempt"),
                {"j": [k[0] for k in ends], "a": [k[1] for k in ends],
                 "e": list(ends.values()), "i": worker_id}).all()}
            rows = [(key, kind, status_json(st, how)) for key, kind, st, how in reports
                    if key in held]
            if rows:
                conn.execute(text(
                    "INSERT INTO worker_reports (job_id, attempt, kind, body, worker, "
                    "created_wall_s, consumed) SELECT v.j, v.a, v.k, v.b, :i, "
                    f"{NOW}, false FROM unnest(CAST(:j AS text[]), CAST(:a AS int[]), "
                    "CAST(:k AS text[]), CAST(:b AS text[])) WITH ORDINALITY AS v(j, a, k, b, n) "
                    "ORDER BY v.n ON CONFLICT (job_id, attempt, kind) DO NOTHING"),
                    {"j": [r[0][0] for r in rows], "a": [r[0][1] for r in rows],
                     "k": [r[1] for r in rows], "b": [r[2] for r in rows], "i": worker_id})
                self._notify(conn)
        return held

    def release(self, worker_id: str, keys: Sequence[tuple[str, int]] | None = None,
                retire: bool = False) -> None:
        """Give leases back at once: those of `keys`, or all of them (a worker stopping
        cleanly, `retire`: its runs go on on the backend and another worker adopts them
        without waiting for the leases to expire; a worker starting under the id of one that
        died: its first claim takes them, watched this time)."""
        with self.engine.begin() as conn:
            q = ("UPDATE dispatches SET worker = NULL, lease_until_wall_s = NULL "
                 "WHERE worker = :i AND NOT ended")
            params: dict[str, Any] = {"i": worker_id}
            if keys is not None:
                q += " AND job_id = ANY(:j)"
                params["j"] = [k[0] for k in keys]
            conn.execute(text(q), params)
            if retire:
                conn.execute(text("DELETE FROM workers WHERE id = :i"), {"i": worker_id})
