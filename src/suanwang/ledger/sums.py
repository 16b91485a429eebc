"""No double counting, provable: a Merkle-sum tree per site-hour and a log of site-hour
summaries, so that a tenant checks that its green kWh came out of an hour whose allocations did
not exceed its supply, without seeing other tenants' records.

Per site-hour, over its records in ledger order, a Merkle-sum tree (RFC 9162's shape):

    leaf = SHA-256(0x00 || record hash (32 bytes) || green µkWh || facility µkWh),
           sums (green, facility)
    node = SHA-256(0x01 || left hash || left green || left facility
                        || right hash || right green || right facility),
           sums = left + right

(sums as unsigned 64-bit big-endian integers, so no entry can be negative). The root's sums
are the hour's green allocated and its metered facility energy. The site-hour's summary, one
canonical JSON line (keys sorted, integers in µkWh):

    {"allocated_ukwh", "first_seq", "hour", "hour_start_s", "metered_ukwh", "records",
     "site", "sum_root", "supply_ukwh"}

states them beside the hour's green supply. The summaries are the leaves (SHA-256(0x00 ||
SHA-256(line))) of a second RFC 9162 log, in hour then site order, whose size and root every
hourly checkpoint carries on an extension line `summaries <size> <base64 root>`.

A tenant's certificate carries, per record, its path in its site-hour's sum tree, and the
summaries with their inclusion proofs in the summary log. The check: the summary is in the
signed log; allocated <= supply; the record's leaf (its hash, green, facility) folds up the
path to the summary's root and sums. Had the operator handed the same green kWh to two
records, either both are in the sum tree and allocated exceeds supply, or one is left out and
its owner's check fails. The summaries hold no tenant's data: anyone may monitor the summary
log for a site-hour summarised twice.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from suanwang.ledger.merkle import MerkleTree, ProofError, fold_path
from suanwang.ledger.note import b64decode_strict

_U64 = 1 << 64
EXTENSION = "summaries"


@dataclass(frozen=True, slots=True)
class SumNode:
    hash: bytes
    green_ukwh: int
    facility_ukwh: int

    def packed(self) -> bytes:
        return (self.hash + self.green_ukwh.to_bytes(8, "big")
                + self.facility_ukwh.to_bytes(8, "big"))

    def as_json(self) -> list[Any]:
        return [base64.b64encode(self.hash).decode("ascii"), self.green_ukwh,
                self.facility_ukwh]

    @classmethod
    def from_json(cls, obj: Any) -> SumNode:
        if (not isinstance(obj, list) or len(obj) != 3 or not isinstance(obj[0], str)
                or any(type(x) is not int or not 0 <= x < _U64 for x in obj[1:])):
            raise ProofError("a sum-tree node reads [base64 hash, green µkWh, facility µkWh]")
        raw = b64decode_strict(obj[0])
        if len(raw) != 32:
            raise ProofError("a sum-tree hash is not 32 bytes")
        return cls(raw, obj[1], obj[2])


_LEAF = struct.Struct(">B32sQQ")
_NODE = struct.Struct(">B32sQQ32sQQ")
_sha256 = hashlib.sha256


def sum_leaf(record_hash: bytes, green_ukwh: int, facility_ukwh: int) -> SumNode:
    try:
        packed = _LEAF.pack(0, record_hash, green_ukwh, facility_ukwh)
    except struct.error:
        raise ProofError("sums are unsigned 64-bit integers") from None
    return SumNode(_sha256(packed).digest(), green_ukwh, facility_ukwh)


def sum_node(left: SumNode, right: SumNode) -> SumNode:
    g, f = left.green_ukwh + right.green_ukwh, left.facility_ukwh + right.facility_ukwh
    if g >= _U64 or f >= _U64:
        raise ProofError("a sum overflows 64 bits")
    packed = _NODE.pack(1, left.hash, left.green_ukwh, left.facility_ukwh,
                        right.hash, right.green_ukwh, right.facility_ukwh)
    return SumNode(_sha256(packed).digest(), g, f)


def sum_root(record_hashes: Sequence[bytes], green_ukwh: Sequence[int],
             facility_ukwh: Sequence[int]) -> SumNode:
    """`sum_tree` of the records' leaves, root only: the same hashes and sums, built level by
    level on tuples (a writer's fast path; `sum_tree` keeps the levels for proofs)."""
    if not record_hashes:
        raise ValueError("a sum tree of no records has no root")
    pack_leaf, pack_node, sha = _LEAF.pack, _NODE.pack, _sha256
    try:
        level = [(sha(pack_leaf(0, h, g, f)).digest(), g, f)
                 for h, g, f in zip(record_hashes, green_ukwh, facility_ukwh, strict=True)]
        while len(level) > 1:
            up = []
            for i in range(0, len(level) - 1, 2):
                (lh, lg, lf), (rh, rg, rf) = level[i], level[i + 1]
                up.append((sha(pack_node(1, lh, lg, lf, rh, rg, rf)).digest(), lg + rg,
                           lf + rf))
            if len(level) % 2:
                up.append(level[-1])
            level = up
    except struct.error:
        raise ProofError("sums are unsigned 64-bit integers") from None
    h, g, f = level[0]
    if g >= _U64 or f >= _U64:
        raise ProofError("a sum overflows 64 bits")
    return SumNode(h, g, f)


def sum_tree(leaves: Sequence[SumNode]) -> MerkleTree:
    return MerkleTree(leaves, node=sum_node)  # type: ignore[arg-type]


def summary_line(site: str, hour: str, hour_start_s: int, supply_ukwh: int,
                 root: SumNode, records: int, first_seq: int) -> str:
    return json.dumps({"allocated_ukwh": root.green_ukwh, "first_seq": first_seq,
                       "hour": hour, "hour_start_s": hour_start_s,
                       "metered_ukwh": root.facility_ukwh, "records": records, "site": site,
                       "sum_root": root.hash.hex(), "supply_ukwh": supply_ukwh},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def summary_leaf(line: str) -> bytes:
    """The summary log's leaf hash of a summary line."""
    return hashlib.sha256(b"\x00" + hashlib.sha256(line.encode("utf-8")).digest()).digest()


def extension_line(size: int, root: bytes) -> str:
    return f"{EXTENSION} {size} {base64.b64encode(root).decode('ascii')}"


def parse_extension(lines: Sequence[str]) -> tuple[int, bytes] | None:
    """(size, root) of the summary log from a checkpoint's extension lines, or None."""
    for line in lines:
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == EXTENSION and parts[1].isdigit():
            root = b64decode_strict(parts[2])  # ValueError if malformed
            if len(root) != 32:
                raise ValueError("the summary log's root is not 32 bytes")
            return int(parts[1]), root
    return None


@dataclass(frozen=True)
class SiteHours:
    """The summaries of a ledger's site-hours (all of them, in log order), and the sum trees
    of those a certificate needs."""

    lines: list[str]
    trees: dict[int, MerkleTree]  # summary index -> its sum tree
    first_seq: list[int]  # seq of each site-hour's first record

    def summary_of(self, seq: int) -> int:
        g = bisect.bisect_right(self.first_seq, seq) - 1
        if g < 0:
            raise KeyError(seq)
        return g

    def record_proof(self, seq: int) -> dict[str, Any]:
        g = self.summary_of(seq)
        tree = self.trees[g]
        index = seq - self.first_seq[g]
        return {"summary": g, "index": index, "size": len(tree),
                "path": [n.as_json() for n in tree.inclusion_proof(index)]}


def groups_of(first_seq: Sequence[int], seqs: Iterable[int]) -> set[int]:
    """The summary indexes of the site-hours that hold `seqs`."""
    return {bisect.bisect_right(first_seq, s) - 1 for s in seqs}


def verify_record_sum(proof: Any, record_hash: bytes, green_ukwh: int, facility_ukwh: int,
                      summary: dict[str, Any], seq: int | None = None) -> None:
    """Raise ProofError unless the record folds up its path to the summary's root and sums,
    and the summary's allocation does not exceed its supply."""
    if not isinstance(proof, dict) or type(proof.get("index")) is not int \
            or type(proof.get("size")) is not int or not isinstance(proof.get("path"), list):
        raise ProofError("a record's sum proof reads summary, index, size, path")
    if proof["size"] != summary["records"]:
        raise ProofError("the sum proof's tree size differs from the summary's record count")
    if seq is not None and proof["index"] != seq - summary["first_seq"]:
        raise ProofError(f"record {seq} is not at place {proof['index']} of the site-hour "
                         f"that starts at record {summary['first_seq']}")
    path = [SumNode.from_json(p) for p in proof["path"]]
    root = fold_path(proof["index"], proof["size"],
                     sum_leaf(record_hash, green_ukwh, facility_ukwh), path, sum_node)
    if (root.hash.hex(), root.green_ukwh, root.facility_ukwh) != (
            summary["sum_root"], summary["allocated_ukwh"], summary["metered_ukwh"]):
        raise ProofError("the record does not add up to its site-hour's summary")
    if summary["allocated_ukwh"] > summary["supply_ukwh"]:
        raise ProofError(f"the site-hour allocated {summary['allocated_ukwh']} µkWh of green "
                         f"power out of a supply of {summary['supply_ukwh']}: counted twice")
