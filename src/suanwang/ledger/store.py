"""A small file store for a ledger: `ledger.jsonl` (one record a line) and `ledger.head.json`
(format, record count, the last record's hash, and what the records mean).

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
from suanwang.ledger.record import LedgerRecord, decode_body

LEDGER_FILE = "ledger.jsonl"
HEAD_FILE = "ledger.head.json"
FORMAT = "suanwang-ledger/1"


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
