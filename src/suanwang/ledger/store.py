"""A small file store for a ledger: `ledger.jsonl` (one record a line) and `ledger.head.json`
(format, record count, the last record's hash, and what the records mean); beside them the
Merkle log's signed checkpoints, one per closed hour, in `ledger.checkpoints.jsonl` (hour,
tree size, root, the signed note), the latest note alone in `ledger.checkpoint`, and the
verifier key that signed them in `ledger.pub` (see `merkle` and `checkpoint`).

The chain logic lives in `chain` and `record` (no I/O); this is the thin layer that puts it in
files. The head is rewritten after every append (write to a temporary file, then rename), so a
reader sees either the old head or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanwang.errors import InputError
from suanwang.ledger.chain import (
    GENESIS,
    Chain,
    Entry,
    RecordSink,
    Verification,
    verify_lines,
)
from suanwang.ledger.checkpoint import PUB_FILE, Checkpoint, open_checkpoint
from suanwang.ledger.event_record import AnyRecord, EventRecord, decode_entry
from suanwang.ledger.merkle import Frontier, MerkleTree, leaf_hash
from suanwang.ledger.note import NoteError, Signer, Verifier, split
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.sums import (
    SiteHours,
    SumNode,
    extension_line,
    groups_of,
    parse_extension,
    sum_leaf,
    sum_tree,
    summary_leaf,
)

LEDGER_FILE = "ledger.jsonl"
HEAD_FILE = "ledger.head.json"
CHECKPOINTS_FILE = "ledger.checkpoints.jsonl"
CHECKPOINT_FILE = "ledger.checkpoint"
SUMMARIES_FILE = "ledger.summaries.jsonl"
FORMAT = "suanwang-ledger/1"
_HASH_AT = slice(9, 73)  # the record's hash in its line: {"hash":"<64 hex>",...


def line_leaf(line: bytes | str) -> bytes:
    """The Merkle leaf hash of a stored line (its record's hash as 32 bytes)."""
    return leaf_hash(bytes.fromhex(line[_HASH_AT] if isinstance(line, str)
                                   else line[_HASH_AT].decode("ascii")))


@dataclass(frozen=True, slots=True)
class HourCheckpoint:
    """The checkpoint signed when run-clock hour `hour` closed."""

    hour: int
    closed_until: str  # the end of that hour, Beijing time
    size: int
    root: str  # hex
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"hour": self.hour, "closed_until": self.closed_until, "size": self.size,
                "root": self.root, "note": self.note}


def sign_hour(signer: Signer, hour: int, closed_until: str, frontier: Frontier,
              summaries: Frontier | None = None) -> HourCheckpoint:
    """The checkpoint of the log `frontier` when `hour` closed, with the summary log's size
    and root on an extension line when there is one."""
    root = frontier.root()
    ext = () if summaries is None else (extension_line(summaries.size, summaries.root()),)
    note = Checkpoint(signer.name, frontier.size, root, ext).sign(signer)
    return HourCheckpoint(hour, closed_until, frontier.size, root.hex(), note)


def site_hours(records: Iterable[StoredRecord]) -> tuple[list[tuple[str, str, int]],
                                                         list[list[SumNode]], list[int]]:
    """The site-hours of records in ledger order: (site, hour, hour_start_s) of each, the
    sum-tree leaves of its records, and the seq of its first record."""
    keys: list[tuple[str, str, int]] = []
    leaves: list[list[SumNode]] = []
    first: list[int] = []
    for s in records:
        r = s.record
        if not isinstance(r, LedgerRecord):  # event records are in no site-hour
            continue
        key = (r.site, r.hour, r.hour_start_s)
        if not keys or keys[-1] != key:
            keys.append(key)
            leaves.append([])
            first.append(s.seq)
        leaves[-1].append(sum_leaf(bytes.fromhex(s.hash), r.green_ukwh, r.facility_ukwh))
    return keys, leaves, first


@dataclass(frozen=True, slots=True)
class StoredRecord:
    seq: int
    hash: str
    record: AnyRecord  # an energy record, or an event record (`event_record`)


class StreamCheck:
    """What is checked of the Merkle log while `verify` reads the records once: the tree's
    root at each checkpoint's size (from the frontier) and each site-hour's records against
    its summary, in memory of log2(n) hashes and one site-hour."""

    def __init__(self, sizes: Iterable[int], summary_lines: list[str] | None,
                 source: str = SUMMARIES_FILE) -> None:
        self.sizes = sorted(set(sizes))
        self.frontier = Frontier()
        self.roots: dict[int, bytes] = {}
        self._i = 0
        self._take_roots()
        self.source = source
        self.heads: list[dict[str, Any]] | None = None
        self.problem: str | None = None
        if summary_lines is not None:
            try:
                self.heads = [json.loads(x) for x in summary_lines]
            except ValueError as exc:
                self.problem = f"{source}: not site-hour summaries: {exc}"
        self._g = 0
        self._key: tuple[str, str, int] | None = None
        self._first = 0
        self._leaves: list[SumNode] = []

    def _take_roots(self) -> None:
        while self._i < len(self.sizes) and self.sizes[self._i] == self.frontier.size:
            self.roots[self.frontier.size] = self.frontier.root()
            self._i += 1

    def __call__(self, seq: int, digest: str, record: AnyRecord) -> None:
        raw = bytes.fromhex(digest)
        self.frontier.append(leaf_hash(raw))
        self._take_roots()
        if self.heads is None or self.problem is not None or isinstance(record, EventRecord):
            return
        key = (record.site, record.hour, record.hour_start_s)
        if key != self._key:
            self._close_group()
            self._key, self._first = key, seq
        self._leaves.append(sum_leaf(raw, record.green_ukwh, record.facility_ukwh))

    def _close_group(self) -> None:
        if self._key is None or self.heads is None or self.problem is not None:
            return
        g = self._g
        if g >= len(self.heads):
            self.problem = (f"{self.source}: {len(self.heads)} summaries, but the ledger has "
                            "more site-hours")
            return
        h, root = self.heads[g], sum_tree(self._leaves).root()
        if ((h.get("site"), h.get("hour"), h.get("hour_start_s")) != self._key
                or (h.get("first_seq"), h.get("records"), h.get("sum_root"),
                    h.get("allocated_ukwh"), h.get("metered_ukwh"))
                != (self._first, len(self._leaves), root.hash.hex(), root.green_ukwh,
                    root.facility_ukwh)):
            self.problem = (f"{self.source}: line {g + 1} does not match the site-hour's "
                            f"records in the ledger ({self._key[0]}, {self._key[1]})")
        self._g += 1
        self._leaves = []

    def finish(self) -> str | None:
        """The first problem with the summaries (after the last record), or None."""
        self._close_group()
        self._key = None
        if self.problem is None and self.heads is not None and self._g != len(self.heads):
            self.problem = (f"{self.source}: {len(self.heads)} summaries for {self._g} "
                            "site-hours in the ledger")
        return self.problem


class FileLedger:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LEDGER_FILE
        self.head_path = directory / HEAD_FILE

    @classmethod
    def at(cls, path: Path) -> FileLedger:
        """The ledger of a run directory, or the directory of a ledger.jsonl given directly."""
        if path.is_file() or path.name == LEDGER_FILE:
            return cls(path.parent)
        return cls(path)

    # ---- head ---------------------------------------------------------------------------

    def read_head(self) -> dict[str, Any] | None:
        if not self.head_path.is_file():
            return None
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(str(self.head_path), "(file)", None, f"not valid JSON: {exc}") \
                from None
        if not isinstance(head, dict):
            raise InputError(str(self.head_path), "(file)", head, "must be a JSON object")
        for key, kind in (("records", int), ("head", str)):
            if not isinstance(head.get(key), kind) or isinstance(head.get(key), bool):
                raise InputError(str(self.head_path), key, head.get(key),
                                 f"missing or not {kind.__name__}")
        return head

    def write_head(self, chain: Chain, meta: dict[str, Any]) -> dict[str, Any]:
        head = {"format": FORMAT, "records": chain.count, "head": chain.head,
                "genesis": GENESIS, **meta}
        tmp = self.head_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(head, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.head_path)
        return head

    def chain(self) -> Chain:
        head = self.read_head()
        return Chain() if head is None else Chain(head["head"], head["records"])

    # ---- writing ------------------------------------------------------------------------

    def write_lines(self, lines: Iterable[str], chain: Chain, meta: dict[str, Any],
                    append: bool = False) -> dict[str, Any]:
        """Write lines built on `chain` (e.g. `build.bulk_lines`), then the head."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path.open("a" if append else "w", encoding="utf-8", newline="\n") as f:
            buf: list[str] = []
            for line in lines:
                buf.append(line)
                if len(buf) >= 4096:
                    f.write("".join(buf))
                    buf.clear()
            f.write("".join(buf))
        return self.write_head(chain, meta)

    def append(self, records: Iterable[LedgerRecord]) -> list[Entry]:
        """Append records after the current head (one writer at a time). Signs no
        checkpoint: the simulator and the service do, as hours close."""
        head = self.read_head() or {}
        meta = {k: v for k, v in head.items()
                if k not in ("format", "records", "head", "genesis")}
        chain = self.chain()
        entries = [chain.append(r) for r in records]
        self.write_lines((e.line + "\n" for e in entries), chain, meta, append=True)
        return entries

    # ---- reading ------------------------------------------------------------------------

    # ---- the Merkle log ------------------------------------------------------------------

    @property
    def checkpoints_path(self) -> Path:
        return self.directory / CHECKPOINTS_FILE

    @property
    def pub_path(self) -> Path:
        return self.directory / PUB_FILE

    def write_checkpoints(self, checkpoints: list[HourCheckpoint], verifier: Verifier) -> None:
        """Replace the checkpoints (and the latest note, and the verifier key) of the ledger."""
        tmp = self.checkpoints_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(c.as_dict(), ensure_ascii=False) + "\n"
                               for c in checkpoints), encoding="utf-8")
        os.replace(tmp, self.checkpoints_path)
        if checkpoints:
            (self.directory / CHECKPOINT_FILE).write_text(checkpoints[-1].note,
                                                          encoding="utf-8")
        self.pub_path.write_text(verifier.key_string() + "\n", encoding="ascii")

    def checkpoints(self) -> list[HourCheckpoint]:
        """The hourly checkpoints kept beside the ledger ([] if there are none)."""
        if not self.checkpoints_path.is_file():
            return []
        out: list[HourCheckpoint] = []
        for i, line in enumerate(self.checkpoints_path.read_text(encoding="utf-8")
                                 .splitlines()):
            try:
                obj = json.loads(line)
                out.append(HourCheckpoint(int(obj["hour"]), str(obj["closed_until"]),
                                          int(obj["size"]), str(obj["root"]),
                                          str(obj["note"])))
            except (ValueError, TypeError, KeyError) as exc:
                raise InputError(str(self.checkpoints_path), f"line {i + 1}", line[:80],
                                 f"not a checkpoint: {exc}") from None
        return out

    @property
    def summaries_path(self) -> Path:
        return self.directory / SUMMARIES_FILE

    def write_summaries(self, lines: Iterable[str]) -> None:
        tmp = self.summaries_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        os.replace(tmp, self.summaries_path)

    def summary_lines(self) -> list[str] | None:
        if not self.summaries_path.is_file():
            return None
        return self.summaries_path.read_text(encoding="utf-8").splitlines()

    def site_hours(self, seqs: Iterable[int] | None = None,
                   records: Iterable[StoredRecord] | None = None) -> SiteHours | None:
        """The site-hour summaries (None if there is no `ledger.summaries.jsonl`) with the sum
        trees of the site-hours holding `seqs` (all if None), rebuilt from the records (read
        from the file, or `records` when the caller has them) and checked against their
        summaries."""
        lines = self.summary_lines()
        if lines is None:
            return None
        try:
            heads = [json.loads(x) for x in lines]
            first = [int(h["first_seq"]) for h in heads]
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(str(self.summaries_path), None, None,
                             f"not site-hour summaries: {exc}") from None
        if seqs is None:
            keys, leaves, starts = site_hours(self.records() if records is None else records)
            if starts != first:
                raise InputError(str(self.summaries_path), None, None,
                                 f"{len(lines)} summaries do not match the {len(keys)} "
                                 "site-hours of the ledger")
            wanted = dict(enumerate(leaves))
        else:
            groups = groups_of(first, seqs)
            ranges = {g: range(first[g], first[g] + int(heads[g]["records"])) for g in groups}
            need = {q for r in ranges.values() for q in r}
            keys, wanted = {}, {}
            by_seq = {s.seq: s for s in self._records_at(need)}
            for g, r in ranges.items():
                k, leaves_g, _ = site_hours(by_seq[q] for q in r if q in by_seq)
                if len(k) != 1:
                    raise InputError(str(self.summaries_path), f"line {g + 1}", lines[g][:80],
                                     "does not match the site-hour's records in the ledger")
                keys[g], wanted[g] = k[0], leaves_g[0]
        trees = {g: sum_tree(x) for g, x in wanted.items()}
        for g, tree in trees.items():
            h, root = heads[g], tree.root()
            if (h.get("site"), h.get("hour"), h.get("hour_start_s")) != keys[g] or (
                    h.get("sum_root"), h.get("allocated_ukwh"), h.get("metered_ukwh"),
                    h.get("records")) != (root.hash.hex(), root.green_ukwh,
                                          root.facility_ukwh, len(tree)):
                raise InputError(str(self.summaries_path), f"line {g + 1}", lines[g][:80],
                                 "does not match the site-hour's records in the ledger")
        return SiteHours(lines, trees, first)

    def _records_at(self, seqs: set[int]) -> Iterator[StoredRecord]:
        for seq, line in self.lines_at(seqs).items():
            obj = json.loads(line)
            digest = obj.pop("hash")
            yield StoredRecord(seq, digest, decode_entry(obj)[2])

    def summary_tree(self) -> MerkleTree | None:
        lines = self.summary_lines()
        return None if lines is None else MerkleTree([summary_leaf(x) for x in lines])

    def verifier(self) -> Verifier | None:
        """The verifier key kept beside the ledger (None if there is none)."""
        if not self.pub_path.is_file():
            return None
        try:
            return Verifier.parse(self.pub_path.read_text(encoding="utf-8"))
        except NoteError as exc:
            raise InputError(str(self.pub_path), None, None, str(exc)) from None

    def tree(self) -> MerkleTree:
        """The Merkle tree of the records as stored (call `verify` first where it matters)."""
        try:
            return MerkleTree([line_leaf(line) for line in self.lines()])
        except ValueError:
            raise InputError(str(self.path), None, None,
                             "a line does not start with its record's hash: run `suanwang "
                             "ledger verify`") from None

    def lines_at(self, seqs: Iterable[int]) -> dict[int, str]:
        """The stored lines (without newline) of the records at `seqs`."""
        want = set(seqs)
        return {i: line.decode("utf-8").rstrip("\n") for i, line in enumerate(self.lines())
                if i in want}

    def latest_checkpoint(self) -> str | None:
        cps = self.checkpoints()
        return cps[-1].note if cps else None

    def stream_check(self) -> StreamCheck:
        """A `StreamCheck` of this ledger's checkpoints and summaries, to pass to `verify`
        as its `on_record`."""
        sizes = []
        for c in self.checkpoints():
            with contextlib.suppress(NoteError):  # check_checkpoints names it
                sizes.append(Checkpoint.parse_text(split(c.note)[0]).size)
        return StreamCheck(sizes, self.summary_lines(), str(self.summaries_path))

    def check_checkpoints(self, verifier: Verifier, stream: StreamCheck | None = None
                          ) -> tuple[int, str | None]:
        """(checkpoints checked, the first problem or None): each checkpoint is signed by
        `verifier`, the records as stored have its root at its size, and the site-hour
        summaries are those of the records and have the summary log's root it carries.
        `stream`: the check `verify` has just fed with the records (else they are read)."""
        if stream is None:
            stream = self.stream_check()
            for r in self.records():
                stream(r.seq, r.hash, r.record)
        problem = stream.finish()  # named once the records' roots are checked
        cps = self.checkpoints()
        opened = []
        for c in cps:
            try:
                cp = open_checkpoint(c.note, verifier)
            except NoteError as exc:
                return 0, f"the checkpoint of hour {c.hour} ({c.closed_until}): {exc}"
            if cp.size > stream.frontier.size:
                return 0, (f"the checkpoint of hour {c.hour} ({c.closed_until}) has {cp.size} "
                           f"records but the ledger only {stream.frontier.size}: records were "
                           "deleted")
            if stream.roots.get(cp.size) != cp.root:
                return 0, (f"the first {cp.size} records no longer have the root signed when "
                           f"hour {c.hour} closed ({c.closed_until}): a record at or before "
                           f"seq {cp.size - 1} was changed, removed, added or moved")
            opened.append((c, cp))
        if problem is not None:
            return 0, problem
        sums = self.summary_tree()
        for c, cp in opened:
            try:
                ext = parse_extension(cp.extensions)
            except ValueError:
                ext = (-1, b"")
            if ext is not None and (sums is None or not 0 <= ext[0] <= len(sums)
                                    or sums.root(ext[0]) != ext[1]):
                return 0, (f"the site-hour summaries no longer have the root signed when hour "
                           f"{c.hour} closed ({c.closed_until})")
        return len(cps), None

    def lines(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            yield from f

    def verify(self, on_record: RecordSink | None = None) -> Verification:
        """Verify the chain against the head file (when there is one); `on_record` sees each
        good record, so a reader verifies and collects in one pass."""
        head = self.read_head()
        return verify_lines(self.lines(),
                            expected_count=None if head is None else head["records"],
                            expected_head=None if head is None else head["head"],
                            on_record=on_record)

    def records(self) -> Iterator[StoredRecord]:
        """Parsed records (no verification: call `verify` first where it matters)."""
        for i, line in enumerate(self.lines()):
            try:
                obj = json.loads(line)
                digest = obj.pop("hash")
                seq, _, record = decode_entry(obj)
            except (ValueError, TypeError, KeyError) as exc:
                raise InputError(str(self.path), f"line {i + 1}", line[:80].decode(
                    "utf-8", errors="replace"), f"not a ledger record: {exc}") from None
            yield StoredRecord(seq, digest, record)
