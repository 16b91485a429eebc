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
from suanwang.ledger.merkle import Frontier, MerkleTree, leaf_hash
from suanwang.ledger.note import NoteError, Signer, Verifier
from suanwang.ledger.record import LedgerRecord, decode_body
from suanwang.ledger.sums import (
    SiteHours,
    SumNode,
    extension_line,
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
    record: LedgerRecord


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
        """Append records after the current head (one writer at a time)."""
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

    def site_hours(self) -> SiteHours | None:
        """The site-hour summaries with their sum trees, rebuilt from the records and checked
        against `ledger.summaries.jsonl` (None if there is no such file)."""
        lines = self.summary_lines()
        if lines is None:
            return None
        keys, leaves, first = site_hours(self.records())
        if len(keys) != len(lines):
            raise InputError(str(self.summaries_path), None, None,
                             f"{len(lines)} summaries for {len(keys)} site-hours in the ledger")
        trees = [sum_tree(x) for x in leaves]
        for i, line in enumerate(lines):
            obj = json.loads(line)
            root = trees[i].root()
            if (obj.get("site"), obj.get("hour"), obj.get("hour_start_s")) != keys[i] or (
                    obj.get("sum_root"), obj.get("allocated_ukwh"), obj.get("metered_ukwh"),
                    obj.get("records")) != (root.hash.hex(), root.green_ukwh,
                                            root.facility_ukwh, len(trees[i])):
                raise InputError(str(self.summaries_path), f"line {i + 1}", line[:80],
                                 "does not match the site-hour's records in the ledger")
        of_seq = {first[g] + k: g for g, t in enumerate(trees) for k in range(len(t))}
        return SiteHours(lines, trees, first, of_seq)

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

    def check_checkpoints(self, verifier: Verifier, tree: MerkleTree | None = None
                          ) -> tuple[int, str | None]:
        """(checkpoints checked, the first problem or None): each checkpoint is signed by
        `verifier`, the records as stored have its root at its size, and the site-hour
        summaries are those of the records and have the summary log's root it carries."""
        tree = self.tree() if tree is None else tree
        cps = self.checkpoints()
        opened = []
        for c in cps:
            try:
                cp = open_checkpoint(c.note, verifier)
            except NoteError as exc:
                return 0, f"the checkpoint of hour {c.hour} ({c.closed_until}): {exc}"
            if cp.size > len(tree):
                return 0, (f"the checkpoint of hour {c.hour} ({c.closed_until}) has {cp.size} "
                           f"records but the ledger only {len(tree)}: records were deleted")
            if tree.root(cp.size) != cp.root:
                return 0, (f"the first {cp.size} records no longer have the root signed when "
                           f"hour {c.hour} closed ({c.closed_until}): a record at or before "
                           f"seq {cp.size - 1} was changed, removed, added or moved")
            opened.append((c, cp))
        sums = self.summary_tree()
        if sums is not None:
            try:
                self.site_hours()
            except InputError as exc:
                return 0, str(exc)
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
                seq, _, record = decode_body(obj)
            except (ValueError, TypeError, KeyError) as exc:
                raise InputError(str(self.path), f"line {i + 1}", line[:80].decode(
                    "utf-8", errors="replace"), f"not a ledger record: {exc}") from None
            yield StoredRecord(seq, digest, record)
