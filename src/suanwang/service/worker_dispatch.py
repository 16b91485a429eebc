"""The scheduler's executor for a binding served by executor workers (`suanwang worker`).

To the live scheduler it is one more `Executor`: `submit` queues the run in `dispatches` (a
worker claims it, `work_queue`), `poll` answers from the workers' reports, `cancel` asks the
lease holder to stop the run. So placement, retries, accounting, the ledger and the
scheduler's log are the same whoever runs the job; only where the backend is called changes.

All the bindings of one scheduler share one `WorkerReports`, which consumes the reports in id
order and keeps, per run, the latest status (an `ended` report wins over a `started` one
whatever order they are read in; a report read twice folds to the same status). A new leader
reads every report of the runs it reloads (the old leader may have consumed some before it
had stored what they meant).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from suanwang.errors import InputError
from suanwang.executors.base import (
    BackendUnavailable,
    ExecState,
    ExecStatus,
    Executor,
    ExecutorConfig,
    RunSpec,
)
from suanwang.executors.registry import make_executors
from suanwang.service.store import Store
from suanwang.service.work_queue import ENDED, LEASE_S, Report, WorkQueue

SERVED_TTL_S = 1.0  # wall seconds the set of served bindings is reused
# the polls of one tick (one per binding) read the new reports once
TAKE_EVERY_S = 0.02
HANDLE_PREFIX = "workers:"


def run_handle(job_id: str, attempt: int) -> str:
    return f"{HANDLE_PREFIX}{job_id}:{attempt}"


def run_key(handle: str) -> tuple[str, int] | None:
    if not handle.startswith(HANDLE_PREFIX):
        return None
    job_id, _, attempt = handle[len(HANDLE_PREFIX):].rpartition(":")
    return (job_id, int(attempt)) if job_id and attempt.isdigit() else None


class WorkerReports:
    """The reports of every worker, consumed in order, folded per run."""

    def __init__(self, queue: WorkQueue, lease_s: float = LEASE_S) -> None:
        self.queue = queue
        self.lease_s = lease_s
        self._status: dict[tuple[str, int], ExecStatus] = {}
        self._known: set[tuple[str, int]] = set()  # runs whose earlier reports were read
        self._served: set[str] = set()
        self._served_at = float("-inf")
        self._taken_at = float("-inf")
        self._lock = threading.Lock()

    def _fold(self, reports: Sequence[Report]) -> None:
        for r in reports:
            key = (r.job_id, r.attempt)
            if key not in self._known:
                continue  # not (or no longer) asked about: a first poll reads all of its own
            before = self._status.get(key)
            if before is not None and before.ended and r.kind != ENDED:
                continue  # a `started` read after the `ended`: the end stands
            self._status[key] = r.status

    def statuses(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], ExecStatus]:
        with self._lock:
            new = [k for k in keys if k not in self._known]
            if new:
                self._known.update(new)
                self._fold(self.queue.reports_of(new))
            wall = time.monotonic()
            if wall - self._taken_at >= TAKE_EVERY_S:
                self._taken_at = wall
                self._fold(self.queue.take_reports())
            return {k: self._status[k] for k in keys if k in self._status}

    def forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._status.pop(key, None)
            self._known.discard(key)

    def served(self, binding: str) -> bool:
        wall = time.monotonic()
        if wall - self._served_at >= SERVED_TTL_S:
            self._served = self.queue.served_bindings(self.lease_s)
            self._served_at = wall
        return binding in self._served


class WorkerDispatch:
    """One binding's runs, handed to the workers that serve it."""

    def __init__(self, reports: WorkerReports, binding: str, backend: str) -> None:
        self.reports = reports
        self.binding = binding
        self.backend = backend
        self.name = backend  # the engine the jobs run on (the workers call it)
        self.via_workers = True

    def submit(self, spec: RunSpec) -> str:
        if not self.reports.served(self.binding):
            raise BackendUnavailable(
                f"no executor worker serves {self.binding} (none heartbeated in the last "
                f"{self.reports.lease_s:g} s; start `suanwang worker --site "
                f"{self.binding.split('/')[0]}`)")
        self.reports.queue.hand_over(self.binding, spec)
        return run_handle(spec.job_id, spec.attempt)

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        keys = {h: run_key(h) for h in handles}
        found = self.reports.statuses([k for k in keys.values() if k is not None])
        out: dict[str, ExecStatus] = {}
        for h, key in keys.items():
            if key is None:
                out[h] = ExecStatus(ExecState.UNKNOWN, reason=f"not a worker run: {h}")
            else:
                out[h] = found.get(key, ExecStatus(ExecState.PENDING,
                                                   reason="waiting for a worker"))
        return out

    def cancel(self, handle: str) -> None:
        key = run_key(handle)
        if key is not None:
            self.reports.queue.request_cancel(*key)
            self.reports.forget(key)  # the scheduler has let the job go

    def forget(self, handle: str) -> None:
        key = run_key(handle)
        if key is not None:
            self.reports.forget(key)

    def healthy(self) -> bool:
        return self.reports.served(self.binding)

    def close(self) -> None:
        return None


def served_by_workers(configs: dict[str, ExecutorConfig]) -> list[str]:
    """The bindings the deployment hands to executor workers."""
    return sorted(k for k, c in configs.items() if c.workers)


def scheduler_executors(configs: dict[str, ExecutorConfig], store: Store, log_dir: Path,
                        source: str = "deployment file") -> dict[str, Executor | None]:
    """The scheduler's executor of each binding: the backend itself, or, for a binding the
    deployment says workers serve, a `WorkerDispatch` (PostgreSQL only)."""
    served = served_by_workers(configs)
    out = make_executors({k: c for k, c in configs.items() if not c.workers}, log_dir)
    if not served:
        return out
    if not store.postgres:
        raise InputError(source, "workers", f"true (for {served[0]})",
                         "executor workers need PostgreSQL (--db postgresql://HOST/DB); on "
                         "SQLite one process runs every site: drop `workers`")
    reports = WorkerReports(WorkQueue(store.engine, store.channel))
    for key in served:
        out[key] = WorkerDispatch(reports, key, configs[key].backend)
    return out
