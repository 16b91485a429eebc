"""The hash chain: appending records and verifying a sequence of record lines. No I/O.

Record `seq` (from 0) carries `prev`, the hash of record `seq - 1` (`GENESIS` for the first), and
its own `hash` = SHA-256 (hex) of its canonical body (see `record`), which includes `prev`. The
line is the body with `"hash":"<hex>"` put first. Hence:

- a modified record no longer matches its hash (and if its hash is recomputed, the next record's
  `prev` no longer matches);
- a deleted, inserted or moved record breaks the run of `seq` and the `prev` links;
- records deleted from the end are caught against the head (record count and last hash), which
  the store keeps beside the ledger and a certificate quotes.

`verify_lines` names the first bad record: its position, line number and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from suanwang.ledger.event_record import AnyRecord, EventRecord, decode_entry, encode_entry
from suanwang.ledger.record import LedgerRecord

GENESIS = "0" * 64
_PREFIX = b'{"hash":"'
_HASH_END = len(_PREFIX) + 64  # index of the closing quote of the hash


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def make_line(body: str, digest: str) -> str:
    """The stored line (without its newline): the body with its hash as the first member."""
    return f'{{"hash":"{digest}",{body[1:]}'


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    prev: str
    hash: str
    record: AnyRecord
    line: str  # the stored text, without the newline


class Chain:
    """The head of a ledger: where the next record goes. The service keeps one per ledger and
    persists `head`/`count` with the lines; the simulator's bulk writer builds the same lines."""

    def __init__(self, head: str = GENESIS, count: int = 0) -> None:
        self.head = head
        self.count = count

    def append(self, record: AnyRecord) -> Entry:
        body = encode_entry(record, self.count, self.head)
        digest = body_hash(body)
        entry = Entry(self.count, self.head, digest, record, make_line(body, digest))
        self.head = digest
        self.count += 1
        return entry


@dataclass(frozen=True, slots=True)
class Problem:
    """The first bad record: `index` is its position from 0 (line `index + 1`)."""

    index: int
    reason: str
    job: str | None = None  # for an event record: its type and ref
    hour: str | None = None  # for an event record: its time
    event: bool = False

    def describe(self) -> str:
        where = f"record {self.index} (line {self.index + 1}"
        if self.job is not None and self.event:
            where += f", {self.job} at {self.hour}"
        elif self.job is not None:
            where += f", job {self.job}, hour {self.hour}"
        return f"{where}): {self.reason}"


@dataclass(frozen=True, slots=True)
class Verification:
    records: int  # how many lines were read
    head: str  # hash of the last good record (GENESIS if none)
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _check_line(i: int, line: bytes,
                prev_hash: str) -> tuple[str, AnyRecord | None, Problem | None]:
    """(this record's hash, the record, None) or ("", None, the problem)."""

    def bad(reason: str, job: str | None = None,
            hour: str | None = None) -> tuple[str, None, Problem]:
        return "", None, Problem(i, reason, job, hour, event)

    event = False

    if not line.endswith(b"\n"):
        return bad("the line does not end with a newline: the file was cut or altered after "
                   "this point")
    raw = line[:-1]
    if (not raw.startswith(_PREFIX) or len(raw) < _HASH_END + 2
            or raw[_HASH_END:_HASH_END + 2] != b'",'):
        return bad('the line does not start with {"hash":"<64 hex>", as every record must')
    stored = raw[len(_PREFIX):_HASH_END].decode("ascii", errors="replace")
    body = b"{" + raw[_HASH_END + 2:]
    digest = hashlib.sha256(body).hexdigest()
    try:
        seq, prev, record = decode_entry(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        if digest != stored:
            return bad(f"its hash does not match its content: the record was altered ({exc})")
        return bad(f"not a valid record: {exc}")
    if isinstance(record, EventRecord):  # named by its type and ref, and its time
        job, hour, event = f"{record.type} {record.ref}", record.at, True
    else:
        job, hour = record.job, record.hour
    if digest != stored:
        return bad(f"its hash does not match its content: the record was altered (stored "
                   f"{stored[:12]}…, content hashes to {digest[:12]}…)", job, hour)
    if encode_entry(record, seq, prev).encode("utf-8") != body:
        return bad("not in canonical form, or its figures do not add up (grid = facility - "
                   "green; CO2 = grid x factor)", job, hour)
    if seq != i:
        return bad(f"its seq is {seq} where {i} was expected: a record was deleted, inserted "
                   "or moved at or before this position", job, hour)
    if prev != prev_hash:
        return bad("its prev does not match the hash of the record before it: a record was "
                   "replaced, inserted or moved", job, hour)
    return digest, record, None


RecordSink = Callable[[int, str, AnyRecord], None]
"""Called with (seq, hash, record) for each record found good, in order: energy records and
event records (`event_record`) alike; `energy_only` passes on the energy records only."""
EnergySink = Callable[[int, str, LedgerRecord], None]


def energy_only(sink: EnergySink) -> RecordSink:
    """A sink that passes on only the energy records (what a job drew in an hour)."""

    def keep(seq: int, digest: str, record: AnyRecord) -> None:
        if isinstance(record, LedgerRecord):
            sink(seq, digest, record)

    return keep


def verify_lines(lines: Iterable[bytes], expected_count: int | None = None,
                 expected_head: str | None = None,
                 on_record: RecordSink | None = None) -> Verification:
    """Check every line (bytes, each with its trailing newline) in order; stop at the first bad.

    With `expected_count`/`expected_head` (from the head the store keeps), also catch records
    deleted from, or added to, the end. `on_record` sees each good record as it is checked, so
    that a reader can verify and collect in one pass.
    """
    head = GENESIS
    n = 0
    for i, line in enumerate(lines):
        digest, record, problem = _check_line(i, line, head)
        if problem is not None:
            return Verification(i, head, problem)
        if on_record is not None and record is not None:
            on_record(i, digest, record)
        head = digest
        n = i + 1
    if expected_count is not None and n != expected_count:
        why = (f"the ledger ends after {n} records but its head says {expected_count}: "
               + ("records were deleted from the end" if n < expected_count
                  else "records were added after the head was written"))
        return Verification(n, head, Problem(min(n, expected_count), why))
    if expected_head is not None and head != expected_head:
        return Verification(n, head, Problem(
            max(n - 1, 0), f"the last record's hash {head[:12]}… differs from the head "
                           f"{expected_head[:12]}…: the end of the ledger was replaced"))
    return Verification(n, head, None)
