"""The executor worker role (`suanwang worker`): claims the runs the scheduler placed on its
bindings, runs them on its backend and reports what they do.

Each step (every `poll_s`): renew the leases held (a run missing from the renewal was taken
over by another worker after this one's lease expired: it is dropped here, never reported),
stop the runs whose cancel was asked, claim new runs (at most `CLAIM_PER_STEP`, up to
`max_runs` held), start each claimed run on the backend and store the handles (one
transaction), or, for a run a dead worker had started (its handle is in the row), adopt it
without starting it again, poll the backend for every run held, and report `started` once the
backend says it started and `ended` once it ended (with exit code, times and log tail; the
scheduler computes energy and cost from the times, as it does for its own executors), all the
step's reports in one transaction.

A run claimed without a handle whose previous holder died between starting it and storing the
handle is still not started twice on the local backend: its wrapper records the attempt in the
job's working directory, and `LocalExecutor.submit` adopts that run (so workers serving a local
site share its data directory, on that machine).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

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
from suanwang.service.work_queue import (
    ENDED,
    LEASE_S,
    STARTED,
    Claim,
    WorkQueue,
    default_worker_id,
)
from suanwang.service.worker_dispatch import served_by_workers

log = logging.getLogger("suanwang.worker")
POLL_S = 0.2
MAX_RUNS = 10_000
CLAIM_PER_STEP = 100  # runs claimed and started in one step at most

# a report to send: (run, kind, status, what ran it)
_Out = tuple[tuple[str, int], str, ExecStatus, str]


@dataclass
class _Held:
    spec: RunSpec
    binding: str
    handle: str | None = None
    recorded: bool = False  # the handle is in the run's row (else stored at the next step)
    started_reported: bool = False
    cancelling: bool = False


class ExecutorWorker:
    def __init__(self, queue: WorkQueue, executors: dict[str, Executor], worker_id: str,
                 lease_s: float = LEASE_S, poll_s: float = POLL_S,
                 max_runs: int = MAX_RUNS) -> None:
        if not executors:
            raise ValueError("an executor worker needs at least one binding to serve")
        self.queue = queue
        self.executors = executors  # binding (site, or site/provider) -> its backend
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_runs = max_runs
        self.held: dict[tuple[str, int], _Held] = {}
        self.adopted = 0  # runs found already started on the backend at a takeover
        self.started = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        names = sorted({e.name for e in executors.values()})
        # leases an earlier process with this id left (it died): claimed again, and watched
        queue.release(worker_id)
        queue.register(worker_id, sorted(executors), ",".join(names), os.getpid())

    # ---- one step ----------------------------------------------------------------------------

    def step(self) -> None:
        """Renew, cancel, claim and start (at most `CLAIM_PER_STEP`, so that a step stays
        well within a lease), poll, report: a few transactions whatever the number of runs."""
        renewed = self.queue.heartbeat(self.worker_id, self.lease_s)
        for key in [k for k in self.held if k not in renewed]:
            log.warning("run %s/%d was taken over by another worker; dropped", *key)
            self.held.pop(key)
        reports: list[_Out] = []
        for key, cancel in renewed.items():
            h = self.held.get(key)
            if cancel and h is not None and not h.cancelling:
                self._cancel(key, h, reports)
        room = min(self.max_runs - len(self.held), CLAIM_PER_STEP)
        for c in self.queue.claim(self.worker_id, sorted(self.executors), room, self.lease_s):
            if self._stop.is_set():  # stopping: what is claimed and not started is given back
                break
            self._take(c, reports)
        # the handles of the runs just started (and of any a failed step did not store)
        started = [(k, h.handle) for k, h in self.held.items()
                   if h.handle is not None and not h.recorded]
        stored = self.queue.record_starts(self.worker_id, started)
        for key, _ in started:
            if key in stored:
                self.held[key].recorded = True
            else:
                # taken over in between: the new holder finds this run on the backend (the
                # local executor's started file), it does not start another
                log.warning("run %s/%d was taken over while it started; dropped", *key)
                self.held.pop(key, None)
        self._poll(reports)
        self._send(reports)

    def _take(self, c: Claim, reports: list[_Out]) -> None:
        key = (c.job_id, c.attempt)
        h = _Held(c.spec, c.binding, c.backend_handle, recorded=c.backend_handle is not None)
        self.held[key] = h
        if c.cancel_requested:
            reports.append((key, ENDED, ExecStatus(ExecState.CANCELLED, reason="cancelled"), ""))
            return
        if h.handle is not None:
            self.adopted += 1
            log.info("run %s/%d was started by a worker that died (%s): adopted, not started "
                     "again", c.job_id, c.attempt, h.handle)
            return
        try:
            h.handle = self.executors[c.binding].submit(c.spec)
        except BackendUnavailable as exc:
            log.warning("%s unavailable (%s); run %s/%d given back", c.binding, exc, *key)
            self.held.pop(key)
            self.queue.release(self.worker_id, [key])
            return
        self.started += 1

    def _cancel(self, key: tuple[str, int], h: _Held, reports: list[_Out]) -> None:
        h.cancelling = True
        if h.handle is None:
            reports.append((key, ENDED, ExecStatus(ExecState.CANCELLED, reason="cancelled"), ""))
            return
        try:
            self.executors[h.binding].cancel(h.handle)
        except BackendUnavailable as exc:
            h.cancelling = False  # asked again at the next step
            log.warning("cancel of %s/%d failed: %s", *key, exc)

    def _poll(self, reports: list[_Out]) -> None:
        by_executor: dict[int, list[tuple[str, int]]] = {}
        for key, h in self.held.items():
            if h.handle is not None:
                by_executor.setdefault(id(self.executors[h.binding]), []).append(key)
        for keys in by_executor.values():
            executor = self.executors[self.held[keys[0]].binding]
            try:
                statuses = executor.poll([self.held[k].handle or "" for k in keys])
            except BackendUnavailable as exc:
                log.warning("poll of %s failed: %s", self.held[keys[0]].binding, exc)
                continue
            for key in keys:
                h = self.held[key]
                st = statuses.get(h.handle or "")
                if st is None:
                    continue
                how = f"{executor.name} {h.handle} on worker {self.worker_id}"
                if st.started_wall_s is not None and not h.started_reported:
                    reports.append((key, STARTED, ExecStatus(
                        ExecState.RUNNING, started_wall_s=st.started_wall_s), how))
                if st.ended:
                    reports.append((key, ENDED, st, how))

    def _send(self, reports: list[_Out]) -> None:
        accepted = self.queue.report_many(self.worker_id, reports)
        for key, kind, _, _ in reports:
            h = self.held.get(key)
            if h is None:
                continue
            if key not in accepted:
                log.warning("run %s/%d: lease lost, %s not reported", *key, kind)
                self.held.pop(key)
            elif kind == STARTED:
                h.started_reported = True
            else:
                self.held.pop(key)
                forget = getattr(self.executors[h.binding], "forget", None)
                if forget is not None and h.handle is not None:
                    forget(h.handle)

    # ---- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep the worker alive; the error is logged with its trace
                log.exception("worker step failed")
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="suanwang-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop claiming and give the leases back: the runs go on on the backend and another
        worker adopts them at once."""
        self._stop.set()
        if self._thread is not None:
            # the step under way ends first (a thread left running at exit could hold a lock
            # the interpreter's shutdown waits for)
            self._thread.join(timeout=60)
        self.queue.release(self.worker_id, retire=True)
        for executor in {id(e): e for e in self.executors.values()}.values():
            executor.close()


def worker_executors(configs: dict[str, ExecutorConfig], bindings: list[str], log_dir: Path,
                     backend: str | None = None) -> dict[str, Executor]:
    """The backend of each binding a worker serves, from the deployment's settings (or
    `backend`'s defaults when given: `suanwang worker --backend local`)."""
    chosen = {}
    for key in bindings:
        cfg = configs[key]
        if backend is not None and backend != cfg.backend:
            cfg = ExecutorConfig(backend, {}, True)
        chosen[key] = cfg
    made = make_executors(chosen, log_dir)
    return {k: e for k, e in made.items() if e is not None}


def in_process_worker(configs: dict[str, ExecutorConfig], store: Store,
                      log_dir: Path) -> ExecutorWorker:
    """`suanwang serve --db postgresql://...` with bindings served by workers: one worker in
    the service's process serves them all (on the same leases as a `suanwang worker`)."""
    bindings = served_by_workers(configs)
    return ExecutorWorker(WorkQueue(store.engine, store.channel),
                          worker_executors(configs, bindings, log_dir),
                          f"{default_worker_id()}-serve")
