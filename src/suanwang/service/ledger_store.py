"""The live service's ledger in its database: the records' lines, stored verbatim, and the head.

The chain (`suanwang.ledger.chain`) makes the lines; this module only keeps them. A row of
`ledger_entries` holds a record's line exactly as `Chain.append` wrote it (what its hash covers)
beside copies of seq, hash, job, tenant, site and hour for filtering; nothing is re-serialised
from columns. `ledger_head` (one row) holds the record count, the last hash and the first
run-clock hour not yet closed.

`DbLedger` offers what `build_certificate` uses of `FileLedger` (`path`, `read_head()`,
`verify(on_record=...)`), so certificates come from the same code whichever store holds the
ledger. Appends go through `append_hours`: one transaction that reads the head (locking its row
on PostgreSQL), appends the closed hours' records and moves the head on only if nobody else did
(one writer at a time; a second writer's transaction fails and leaves nothing behind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, true, update
from sqlalchemy.engine import Engine

from suanwang.ledger.allocation import DEFAULT_RULE, GreenRule
from suanwang.ledger.build import hour_label
from suanwang.ledger.chain import GENESIS, Chain, Entry, RecordSink, Verification, verify_lines
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.sim_output import ledger_meta
from suanwang.ledger.store import FORMAT
from suanwang.service.db import LedgerEntryRow, LedgerHeadRow

HEAD_ID = 1
STREAM_ROWS = 2000  # rows fetched at a time when reading the whole ledger


class LedgerConflict(RuntimeError):
    """Another writer moved the head while this one was appending; nothing was written."""


@dataclass(frozen=True, slots=True)
class Head:
    records: int
    head: str
    next_hour: int  # hours [0, next_hour) of the run clock are closed


@dataclass(frozen=True, slots=True)
class Hourly:
    """A record to append and the run-clock hour it belongs to."""

    hour: int
    record: LedgerRecord


HoursBuilder = Callable[[Connection, int, int], Sequence[Hourly]]
"""(connection, first hour, end hour) -> the records of hours [first, end), in ledger order."""


class DbLedger:
    def __init__(self, engine: Engine, clock_start: datetime,
                 rule: GreenRule = DEFAULT_RULE) -> None:
        self.engine = engine
        # what a certificate quotes as where its records are kept (never the URL: it may
        # carry a password)
        self.path = f"{engine.dialect.name} database, table ledger_entries"
        self.meta = ledger_meta(rule, hour_label(clock_start, 0))

    # ---- head ----------------------------------------------------------------------------

    def head(self, conn: Connection | None = None, lock: bool = False) -> Head:
        q = select(LedgerHeadRow.records, LedgerHeadRow.head, LedgerHeadRow.next_hour).where(
            LedgerHeadRow.id == HEAD_ID)
        if lock:
            q = q.with_for_update()
        if conn is None:
            with self.engine.connect() as c:
                row = c.execute(q).one()
        else:
            row = conn.execute(q).one()
        return Head(int(row.records), row.head, int(row.next_hour))

    def read_head(self) -> dict[str, Any]:
        """The head as `FileLedger.read_head` gives it (count, last hash, what the records
        mean), plus `next_hour`: the first run-clock hour not yet closed."""
        h = self.head()
        return {"format": FORMAT, "records": h.records, "head": h.head, "genesis": GENESIS,
                "next_hour": h.next_hour, **self.meta}

    # ---- writing -------------------------------------------------------------------------

    def append_hours(self, end_hour: int, build: HoursBuilder) -> list[Entry]:
        """Close the hours from the head's `next_hour` up to `end_hour` (exclusive): build
        their records, chain them after the head, store them and the new head, in one
        transaction. Nothing happens if those hours are already closed."""
        with self.engine.begin() as conn:
            h = self.head(conn, lock=True)
            if h.next_hour >= end_hour:
                return []
            chain = Chain(h.head, h.records)
            hourly = build(conn, h.next_hour, end_hour)
            entries = [chain.append(x.record) for x in hourly]
            if entries:
                conn.execute(insert(LedgerEntryRow), [
                    {"seq": e.seq, "hash": e.hash, "line": e.line, "job_id": e.record.job,
                     "tenant": e.record.tenant, "site": e.record.site, "hour": x.hour}
                    for e, x in zip(entries, hourly, strict=True)])
            moved = conn.execute(
                update(LedgerHeadRow)
                .where(LedgerHeadRow.id == HEAD_ID, LedgerHeadRow.records == h.records,
                       LedgerHeadRow.head == h.head, LedgerHeadRow.next_hour == h.next_hour)
                .values(records=chain.count, head=chain.head, next_hour=end_hour))
            if moved.rowcount != 1:
                raise LedgerConflict("the ledger's head moved during an append: another "
                                     "writer is appending to this database")
            return entries

    # ---- reading -------------------------------------------------------------------------

    def _snapshot(self) -> Iterator[tuple[int, str, str | None]]:
        """(head records, head hash, line) for every record in seq order, all from one
        statement (one consistent snapshot, whoever appends meanwhile); one row with line
        None if the ledger is empty."""
        q = (select(LedgerHeadRow.records, LedgerHeadRow.head, LedgerEntryRow.line)
             .select_from(LedgerHeadRow)
             .outerjoin(LedgerEntryRow, true())
             .where(LedgerHeadRow.id == HEAD_ID)
             .order_by(LedgerEntryRow.seq))
        with self.engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(q)
            for row in rows:
                yield int(row.records), row.head, row.line

    def verify(self, on_record: RecordSink | None = None) -> Verification:
        """Verify the chain line by line against the head; `on_record` sees each good record
        (the same check as `suanwang ledger verify` on a file)."""
        rows = self._snapshot()
        first = next(rows)
        count, head, line0 = first

        def lines() -> Iterator[bytes]:
            if line0 is not None:
                yield line0.encode("utf-8") + b"\n"
            for _, _, line in rows:
                if line is not None:
                    yield line.encode("utf-8") + b"\n"

        try:
            return verify_lines(lines(), expected_count=count, expected_head=head,
                                on_record=on_record)
        finally:
            rows.close()

    def page(self, *, cursor: int = 0, limit: int = 100, tenant: str | None = None,
             job_id: str | None = None, site: str | None = None) -> list[tuple[int, str]]:
        """(seq, line) of up to `limit` records with seq >= `cursor`, in seq order."""
        q = select(LedgerEntryRow.seq, LedgerEntryRow.line).where(LedgerEntryRow.seq >= cursor)
        for col, value in ((LedgerEntryRow.tenant, tenant), (LedgerEntryRow.job_id, job_id),
                           (LedgerEntryRow.site, site)):
            if value is not None:
                q = q.where(col == value)
        with self.engine.connect() as conn:
            return [(int(s), line) for s, line in
                    conn.execute(q.order_by(LedgerEntryRow.seq).limit(limit))]
