"""The scheduler role (`suanwang scheduler`): the leader's loop, fed from the database.

The API replicas commit submissions (jobs in state `submitted`, numbered by the database
sequence) and operator actions (the `commands` table, numbered by its id), each commit with a
`pg_notify` on the schema's channel. The leader LISTENs on that channel and, when woken (or
every `poll_s` if no notification came: the fallback), takes in the jobs still `submitted` in
acceptance order and applies the pending commands in id order, then ticks the same
`LiveScheduler` as the one-process service. Taking in is idempotent: a job is taken once
(the ids taken and not yet decided are remembered; once decided, its state is no longer
`submitted`). Every `PUBLISH_EVERY_S` the leader writes its live view (`live_state`, counts,
totals, site health) to the meta table, where the API replicas read it.

Only the holder of the leader lock (`instance_lock.PostgresLock`) runs this loop; it checks the
lock's connection as often as it publishes and stops deciding if it is gone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from typing import Any

import psycopg

from suanwang.executors.base import BackendUnavailable
from suanwang.model import Kind
from suanwang.service.instance_lock import PostgresLock
from suanwang.service.live import ExecInfo, LiveScheduler
from suanwang.service.store import row_to_job

log = logging.getLogger("suanwang.service")
SNAPSHOT_KEY = "live_snapshot"
PUBLISH_EVERY_S = 0.5  # wall seconds between the live views written for the API replicas


def live_snapshot(live: LiveScheduler) -> dict[str, Any]:
    """What the API replicas show of the scheduler (`replica.LiveReplica`)."""
    return {"wall_s": time.time(), "live_state": live.live_state()[0],
            "counts": live.counts(), "totals": dataclasses.asdict(live.totals),
            "unhealthy": dict(live.unhealthy),
            "backends": {sid: getattr(e, "name", "clock") for sid, e in live.executors.items()}}


class Leader:
    def __init__(self, live: LiveScheduler, lock: PostgresLock | None, db_url: str,
                 tick_s: float = 0.1, poll_s: float = 1.0) -> None:
        self.live = live
        self.store = live.store
        self.lock = lock
        self.db_url = db_url
        self.tick_s = tick_s
        self.poll_s = poll_s
        self._known = live.inbox_ids()  # taken in (the recovered ones too), not yet decided
        self._stop = threading.Event()
        self.lost = threading.Event()  # set if the leader lock was lost
        self._thread: threading.Thread | None = None
        self._listener: psycopg.Connection[Any] | None = None

    # ---- the log ----------------------------------------------------------------------------

    def take_in(self) -> int:
        """Jobs committed by the API replicas since the last call, in acceptance order."""
        rows = self.store.submitted_jobs()
        new = [r for r in rows if r.id not in self._known]
        if new:
            self.live.accept([row_to_job(r) for r in new], [ExecInfo.of(r) for r in new])
        self._known = {r.id for r in rows}
        return len(new)

    def apply_commands(self) -> int:
        """Operator actions made on the API replicas, in the order they were committed."""
        done = 0
        for c in self.store.pending_commands():
            body = json.loads(c.body)
            result: dict[str, Any]
            try:
                if c.kind == "cancel":
                    result = {"ok": self.live.cancel(body["job_id"])}
                elif c.kind == "capacity":
                    self.live.set_capacity(body["site"], Kind(body["kind"]), int(body["units"]))
                    result = {"ok": True}
                elif c.kind == "drain":
                    self.live.drain(body["site"], bool(body["drained"]))
                    result = {"ok": True}
                elif c.kind == "grid_event":  # a grid event stored by a replica (issue 14)
                    result = {"ok": True, **self.live.grid_notify(body["id"])}
                elif c.kind == "grid_cancel":
                    result = {"ok": self.live.grid_cancel(body["id"])}
                elif c.kind == "grid_flex":
                    result = self.live.grid_flexibility(body["site"], int(body["hours"]))
                else:
                    result = {"error": f"unknown command kind {c.kind!r}"}
            except BackendUnavailable as exc:
                result = {"error": str(exc), "unavailable": True}
            except Exception as exc:  # the operator's answer says why; the leader carries on
                log.exception("command %d (%s) failed", c.id, c.kind)
                result = {"error": f"{type(exc).__name__}: {exc}"}
            self.store.finish_command(c.id, result)
            done += 1
        return done

    def publish(self) -> None:
        self.store.set_meta(SNAPSHOT_KEY, json.dumps(live_snapshot(self.live)))

    # ---- waking -----------------------------------------------------------------------------

    def _listen(self) -> psycopg.Connection[Any] | None:
        if self._listener is None or self._listener.closed:
            try:
                url = self.db_url.replace("postgresql+psycopg://", "postgresql://", 1)
                conn = psycopg.connect(url, autocommit=True)
                conn.execute(f"LISTEN {self.store.channel}")
                self._listener = conn
            except psycopg.Error as exc:
                log.warning("LISTEN failed (polling every %.1f s instead): %s", self.poll_s, exc)
                self._listener = None
        return self._listener

    def _wait(self, timeout_s: float) -> bool:
        """Block up to `timeout_s` for a notification; whether one came."""
        conn = self._listen()
        if conn is None:
            self._stop.wait(timeout_s)
            return False
        try:
            got = False
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                got = True
            if got:  # drain the others that came with it
                for _ in conn.notifies(timeout=0):
                    pass
            return got
        except psycopg.Error as exc:
            log.warning("LISTEN connection lost (%s); polling until it is back", exc)
            conn.close()
            self._listener = None
            return False

    # ---- the loop ---------------------------------------------------------------------------

    def step(self, woke: bool, poll_due: bool) -> None:
        if woke or poll_due:
            self.take_in()
            self.apply_commands()
        self.live.tick()

    def run(self) -> None:
        last_poll = last_publish = float("-inf")
        while not self._stop.is_set():
            woke = self._wait(self.tick_s)
            now = time.monotonic()
            poll_due = now - last_poll >= self.poll_s
            try:
                self.step(woke, poll_due)
                if poll_due or woke:
                    last_poll = now
                if now - last_publish >= PUBLISH_EVERY_S:
                    last_publish = now
                    if self.lock is not None and not self.lock.held():
                        log.error("the leader lock's connection is gone: this scheduler stops "
                                  "deciding (a standby takes over)")
                        self.lost.set()
                        return
                    self.publish()
            except Exception:  # keep the leader alive; the error is logged with its trace
                log.exception("scheduler step failed")

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="suanwang-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
