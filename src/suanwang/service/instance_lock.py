"""One service per data directory and per database: locks held for the process's life.

A second service must not touch what a live one owns (its jobs, their processes, its
database), so each start takes, before anything is read or written:

- an exclusive `flock` on `<data dir>/service.lock` (the CLI, before it binds the port);
- on the database: an `flock` on `<sqlite file>.lock`, or a PostgreSQL session advisory lock
  keyed by the schema (`pg_try_advisory_lock`), held on a connection of its own.

The kernel and the database server drop the locks when the process ends, however it ends.

With roles in processes of their own (issue 16), the PostgreSQL lock is the scheduler's
leader lock: `suanwang serve` (all roles) and the leading `suanwang scheduler` hold it; a
standby scheduler waits for it (`wait=True`); API replicas (`suanwang api`) take none, so
any number of them share the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine


class InstanceBusy(RuntimeError):
    """Another live service holds the lock."""


class FileLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "?"
            self._file.close()
            self._file = None
            raise InstanceBusy(f"{what} is in use by another suanwang service (pid {holder}, "
                               f"lock {path}); stop that one first, or give this one its own "
                               "--data-dir / --db") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class PostgresLock:
    _KEY = "SELECT hashtext('suanwang:' || current_database() || ':' || current_schema())"

    def __init__(self, engine: Engine, wait: bool = False,
                 stop: threading.Event | None = None, poll_s: float = 0.5) -> None:
        """Take the lock; with `wait`, try again every `poll_s` until it is free (a standby)
        or `stop` is set (InstanceBusy then)."""
        self._conn: Connection | None = engine.connect().execution_options(
            isolation_level="AUTOCOMMIT")
        key = self._conn.execute(text(self._KEY)).scalar_one()
        got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        while wait and not got:
            if (stop or threading.Event()).wait(poll_s):
                break
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": key}).scalar()
        if not got:
            holder = self._conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "objid::text::bigint = (CAST(:k AS bigint) & 4294967295) LIMIT 1"),
                {"k": key}).scalar()
            self._conn.close()
            self._conn = None
            raise InstanceBusy(f"database {engine.url.render_as_string(hide_password=True)} "
                               f"is in use by another suanwang service (its connection: "
                               f"backend pid {holder}); stop that one first, or give this one "
                               "its own --db")
        self._key = key

    def held(self) -> bool:
        """Whether the lock's connection is still alive (the server holds the lock as long
        as it is): a leader that lost it must stop deciding."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def lock_database(engine: Engine, wait: bool = False, stop: threading.Event | None = None
                  ) -> FileLock | PostgresLock | None:
    """The lock that keeps a second service (scheduler) off this database (None for an
    in-memory one); `wait` (PostgreSQL): wait for it as a standby."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        db = url.database
        if not db or db == ":memory:":
            return None
        return FileLock(Path(db + ".lock"), f"database {db}")
    if url.get_backend_name() == "postgresql":
        return PostgresLock(engine, wait=wait, stop=stop)
    return None
