"""The live service's ledger in its database: the records' lines, stored verbatim, and the head.

The chain (`suanwang.ledger.chain`) makes the lines; this module only keeps them. A row of
`ledger_entries` holds a record's line exactly as `Chain.append` wrote it (what its hash covers)
beside copies of seq, hash, job, tenant, site and hour for filtering; nothing is re-serialised
from columns. `ledger_head` (one row) holds the record count, the last hash and the first
run-clock hour not yet closed.

The Merkle log (`suanwang.ledger.merkle`: one RFC 9162 tree over all records, leaf input =
the record's hash) is kept in `ledger_checkpoints` (revision 0005): one row per closed hour
with the tree's size and root then, the signed checkpoint (C2SP note) and the frontier to
append from. The tree itself is rebuilt from the `hash` column when a proof is asked for.

`DbLedger` offers what `build_certificate` and `build_bundle` use of `FileLedger` (`path`,
`read_head()`, `verify(on_record=...)`, `lines_at`, `tree`, `latest_checkpoint`), so
certificates come from the same code whichever store holds the ledger. Appends go through
`append_hours`: one transaction that reads the head (locking its row on PostgreSQL), appends
the closed hours' records and their checkpoints and moves the head on only if nobody else did
(one writer at a time; a second writer's transaction fails and leaves nothing behind).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, String, Text, insert, select, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from suanwang.ledger.allocation import DEFAULT_RULE, GreenRule
from suanwang.ledger.build import hour_label
from suanwang.ledger.chain import GENESIS, Chain, Entry, RecordSink, Verification, verify_lines
from suanwang.ledger.event_record import EventRecord, decode_entry
from suanwang.ledger.merkle import Frontier, MerkleTree, leaf_hash
from suanwang.ledger.note import Signer
from suanwang.ledger.record import LedgerRecord, decode_body
from suanwang.ledger.sim_output import ledger_meta
from suanwang.ledger.store import FORMAT, StoredRecord, sign_hour, site_hours
from suanwang.ledger.sums import (
    SiteHours,
    groups_of,
    sum_leaf,
    sum_tree,
    summary_leaf,
    summary_line,
)
from suanwang.service.db import Base, LedgerEntryRow, LedgerHeadRow


def _body(line: str) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(line)
    obj.pop("hash")
    return obj


HEAD_ID = 1
STREAM_ROWS = 2000  # rows fetched at a time when reading the whole ledger
log = logging.getLogger("suanwang.service")


class LedgerCheckpointRow(Base):
    """The signed checkpoint of the Merkle log when run-clock hour `hour` closed (revision
    0005), and the tree's frontier then (JSON list of hex hashes)."""

    __tablename__ = "ledger_checkpoints"
    hour: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    summaries: Mapped[int] = mapped_column(BigInteger)  # the summary log's size
    summary_frontier: Mapped[str] = mapped_column(Text)


class LedgerSummaryRow(Base):
    """A site-hour's summary (`suanwang.ledger.sums`), leaf `idx` of the summary log."""

    __tablename__ = "ledger_summaries"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hour: Mapped[int] = mapped_column(Integer)
    first_seq: Mapped[int] = mapped_column(BigInteger)  # seq of its first record
    line: Mapped[str] = mapped_column(Text)


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
    supply_ukwh: int = 0  # the green supply of the record's site-hour


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    hour: int  # the run-clock hour whose close it was signed at
    tree_size: int
    root: str  # hex
    note: str  # the signed checkpoint


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
        self.clock_start = clock_start
        self.signer: Signer | None = None  # set by the API (`ledger_api.ledger_signer`)

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
            self._checkpoint_hours(conn, h, end_hour, entries, hourly)
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

    def append_event(self, kind: str, ref: str, at_s: float,
                     payload: dict[str, Any]) -> Entry:
        """Chain an event record (`ledger.event_record`: a grid event's settlement, a market
        round's clearing) after the head now, in one transaction, and return its entry.
        `kind` is the record's type (`EVENT_TYPES`), `ref` the event's or round's id, `at_s`
        the run clock's seconds when it was settled (stored as Unix seconds), `payload` a
        JSON object. ValueError/TypeError naming the field if any is malformed; a second
        writer moving the head meanwhile raises `LedgerConflict` and writes nothing."""
        if isinstance(at_s, bool) or not isinstance(at_s, int | float) or not at_s >= 0:
            raise ValueError(f"at_s {at_s!r} must be run-clock seconds >= 0")
        record = EventRecord.make(kind, ref, int(self.clock_start.timestamp() + at_s),
                                  payload)
        with self.engine.begin() as conn:
            h = self.head(conn, lock=True)
            entry = Chain(h.head, h.records).append(record)
            conn.execute(insert(LedgerEntryRow), [{
                "seq": entry.seq, "hash": entry.hash, "line": entry.line,
                "job_id": f"{kind}:{ref}"[:64], "tenant": "", "site": "",
                "hour": int(at_s // 3600)}])
            moved = conn.execute(
                update(LedgerHeadRow)
                .where(LedgerHeadRow.id == HEAD_ID, LedgerHeadRow.records == h.records,
                       LedgerHeadRow.head == h.head)
                .values(records=entry.seq + 1, head=entry.hash))
            if moved.rowcount != 1:
                raise LedgerConflict("the ledger's head moved during an append: another "
                                     "writer is appending to this database")
        return entry

    def events(self, kind: str | None = None, ref: str | None = None,
               limit: int = 1000) -> list[tuple[int, str, EventRecord]]:
        """(seq, hash, record) of the event records, oldest first; of one type and/or one
        event or round if given (the stored lines: `verify` checks them)."""
        q = select(LedgerEntryRow.seq, LedgerEntryRow.hash, LedgerEntryRow.line)
        if kind is not None and ref is not None:
            q = q.where(LedgerEntryRow.job_id == f"{kind}:{ref}"[:64])
        else:
            like = f"{kind}:%" if kind is not None else "%:%"
            q = q.where(LedgerEntryRow.job_id.like(like), LedgerEntryRow.tenant == "")
        out = []
        with self.engine.connect() as conn:
            for seq, digest, line in conn.execute(q.order_by(LedgerEntryRow.seq).limit(limit)):
                _, _, record = decode_entry(_body(line))
                if isinstance(record, EventRecord) and (ref is None or record.ref == ref):
                    out.append((int(seq), digest, record))
        return out

    def _frontiers(self, conn: Connection, h: Head) -> tuple[Frontier, Frontier]:
        """The frontiers of the record log and the summary log at the head: from the last
        checkpoint, or rebuilt from the stored hashes and summaries."""
        c = LedgerCheckpointRow
        row = conn.execute(select(c.tree_size, c.frontier, c.summaries, c.summary_frontier)
                           .order_by(c.hour.desc()).limit(1)).first()
        if row is not None and int(row.tree_size) <= h.records:
            # event records appended since the checkpoint extend its frontier (they are in
            # no site-hour, so the summary log's frontier stands)
            f = Frontier.from_hex(int(row.tree_size), json.loads(row.frontier))
            if f.size < h.records:
                f.extend(leaf_hash(bytes.fromhex(d)) for (d,) in conn.execute(
                    select(LedgerEntryRow.hash).where(LedgerEntryRow.seq >= f.size)
                    .order_by(LedgerEntryRow.seq)))
            if f.size == h.records:
                return f, Frontier.from_hex(int(row.summaries),
                                            json.loads(row.summary_frontier))
        f = Frontier()
        f.extend(leaf_hash(bytes.fromhex(d)) for (d,) in conn.execute(
            select(LedgerEntryRow.hash).order_by(LedgerEntryRow.seq)))
        if f.size != h.records:
            raise LedgerConflict(f"the ledger holds {f.size} records but its head says "
                                 f"{h.records}")
        sf = Frontier()
        sf.extend(summary_leaf(line) for (line,) in conn.execute(
            select(LedgerSummaryRow.line).order_by(LedgerSummaryRow.idx)))
        return f, sf

    def _checkpoint_hours(self, conn: Connection, h: Head, end_hour: int,
                          entries: Sequence[Entry], hourly: Sequence[Hourly]) -> None:
        """Append the entries to the Merkle log, each closed site-hour's summary to the
        summary log, and sign a checkpoint for every hour in [h.next_hour, end_hour)."""
        if self.signer is None:
            self.signer = Signer.generate("suanwang.local/ledger")
            log.warning("ledger: no signing key configured; checkpoints are signed by a key "
                        "of this process only (%s). Run `suanwang ledger keygen`.",
                        self.signer.verifier.key_string())
        f, sf = self._frontiers(conn, h)
        rows, summaries = [], []
        k = 0
        for hour in range(h.next_hour, end_hour):
            while k < len(entries) and hourly[k].hour <= hour:
                a = k  # one site-hour: consecutive records of one site in this hour
                while (k < len(entries) and hourly[k].hour == hourly[a].hour
                       and entries[k].record.site == entries[a].record.site):
                    f.append(leaf_hash(bytes.fromhex(entries[k].hash)))
                    k += 1
                r0 = entries[a].record
                tree = sum_tree([sum_leaf(bytes.fromhex(e.hash), e.record.green_ukwh,
                                          e.record.facility_ukwh) for e in entries[a:k]])
                line = summary_line(r0.site, r0.hour, r0.hour_start_s, hourly[a].supply_ukwh,
                                    tree.root(), k - a, entries[a].seq)
                summaries.append({"idx": sf.size, "hour": hourly[a].hour,
                                  "first_seq": entries[a].seq, "line": line})
                sf.append(summary_leaf(line))
            cp = sign_hour(self.signer, hour, hour_label(self.clock_start, hour + 1), f, sf)
            rows.append({"hour": hour, "tree_size": cp.size, "root": cp.root,
                         "frontier": json.dumps(f.to_hex()), "note": cp.note,
                         "summaries": sf.size, "summary_frontier": json.dumps(sf.to_hex())})
        if summaries:
            conn.execute(insert(LedgerSummaryRow), summaries)
        conn.execute(insert(LedgerCheckpointRow), rows)

    # ---- the Merkle log ------------------------------------------------------------------

    def tree(self) -> MerkleTree:
        """The Merkle tree of every record, from the `hash` column."""
        with self.engine.connect() as conn:
            return MerkleTree([leaf_hash(bytes.fromhex(d)) for (d,) in conn.execute(
                select(LedgerEntryRow.hash).order_by(LedgerEntryRow.seq))])

    def checkpoint(self, hour: int | None = None) -> StoredCheckpoint | None:
        """The checkpoint of `hour` (the latest if None), or None."""
        c = LedgerCheckpointRow
        q = select(c.hour, c.tree_size, c.root, c.note)
        q = (q.where(c.hour == hour) if hour is not None
             else q.order_by(c.hour.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else StoredCheckpoint(int(row.hour), int(row.tree_size),
                                                         row.root, row.note)

    def check_log(self, digests: Sequence[str]) -> tuple[int, str] | None:
        """After the chain verified with these record hashes: (seq, problem) if the `hash`
        column (what proofs are built from) differs from the lines, or the records no
        longer have the latest checkpoint's root; None if all is well."""
        with self.engine.connect() as conn:
            stored = [d for (d,) in conn.execute(
                select(LedgerEntryRow.hash).order_by(LedgerEntryRow.seq))]
        for i, (a, b) in enumerate(zip(stored, digests, strict=False)):
            if a != b:
                return i, ("its hash column differs from the hash of its line: proofs "
                           "would be built from altered hashes")
        if len(stored) != len(digests):
            return min(len(stored), len(digests)), "the hash column has other records"
        cp = self.checkpoint()
        if cp is not None and cp.tree_size > len(digests) and self.head().records >= cp.tree_size:
            # signed after the records were read, by a writer appending meanwhile (the head
            # has those records now): check the latest checkpoint these records reach
            c = LedgerCheckpointRow
            with self.engine.connect() as conn:
                row = conn.execute(select(c.hour, c.tree_size, c.root, c.note)
                                   .where(c.tree_size <= len(digests))
                                   .order_by(c.hour.desc()).limit(1)).first()
            cp = None if row is None else StoredCheckpoint(int(row.hour), int(row.tree_size),
                                                           row.root, row.note)
        if cp is not None:
            tree = MerkleTree([leaf_hash(bytes.fromhex(d)) for d in digests])
            if cp.tree_size > len(tree) or tree.root(cp.tree_size).hex() != cp.root:
                return max(cp.tree_size - 1, 0), (
                    f"the first {cp.tree_size} records no longer have the root signed when "
                    f"hour {cp.hour} closed: a record was changed, removed, added or moved")
        return None

    def latest_checkpoint(self) -> str | None:
        row = self.checkpoint()
        return None if row is None else row.note

    def summary_tree(self) -> MerkleTree:
        with self.engine.connect() as conn:
            return MerkleTree([summary_leaf(line) for (line,) in conn.execute(
                select(LedgerSummaryRow.line).order_by(LedgerSummaryRow.idx))])

    def site_hours(self, seqs: Iterable[int]) -> SiteHours:
        """The summaries, with the sum trees of the site-hours that hold `seqs`, rebuilt from
        the stored records (whose lines `build_certificate` has just verified)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(LedgerSummaryRow.first_seq, LedgerSummaryRow.line)
                                .order_by(LedgerSummaryRow.idx)).all()
        first = [int(q) for q, _ in rows]
        lines = [line for _, line in rows]
        trees = {}
        for g in groups_of(first, seqs):
            n = int(json.loads(lines[g])["records"])
            recs = [StoredRecord(q, d, decode_body(_body(line))[2])
                    for q, (d, line) in sorted(self._rows_at(first[g], first[g] + n).items())]
            _, leaves, starts = site_hours(recs)
            if starts != [first[g]]:
                raise ValueError(f"site-hour summary {g} does not match its records")
            trees[g] = sum_tree(leaves[0])
        return SiteHours(lines, trees, first)

    def _rows_at(self, lo: int, hi: int) -> dict[int, tuple[str, str]]:
        q = (select(LedgerEntryRow.seq, LedgerEntryRow.hash, LedgerEntryRow.line)
             .where(LedgerEntryRow.seq >= lo, LedgerEntryRow.seq < hi))
        with self.engine.connect() as conn:
            return {int(s): (d, line) for s, d, line in conn.execute(q)}

    def lines_at(self, seqs: Iterable[int]) -> dict[int, str]:
        want = sorted(set(seqs))
        out: dict[int, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(want), 500):
                q = select(LedgerEntryRow.seq, LedgerEntryRow.line).where(
                    LedgerEntryRow.seq.in_(want[i:i + 500]))
                out.update((int(s), line) for s, line in conn.execute(q))
        return out

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
