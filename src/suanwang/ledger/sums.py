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

    {"allocated_ukwh", "hour", "hour_start_s", "metered_ukwh", "records", "site",
     "sum_root", "supply_ukwh"}

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
import hashlib
import json
from collections.abc import Sequence
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


def sum_leaf(record_hash: bytes, green_ukwh: int, facility_ukwh: int) -> SumNode:
    if not (0 <= green_ukwh < _U64 and 0 <= facility_ukwh < _U64):
        raise ProofError("sums are unsigned 64-bit integers")
    n = SumNode(record_hash, green_ukwh, facility_ukwh)
    return SumNode(hashlib.sha256(b"\x00" + n.packed()).digest(), green_ukwh, facility_ukwh)


def sum_node(left: SumNode, right: SumNode) -> SumNode:
    g, f = left.green_ukwh + right.green_ukwh, left.facility_ukwh + right.facility_ukwh
    if g >= _U64 or f >= _U64:
        raise ProofError("a sum overflows 64 bits")
    return SumNode(hashlib.sha256(b"\x01" + left.packed() + right.packed()).digest(), g, f)


def sum_tree(leaves: Sequence[SumNode]) -> MerkleTree:
    return MerkleTree(leaves, node=sum_node)  # type: ignore[arg-type]


def summary_line(site: str, hour: str, hour_start_s: int, supply_ukwh: int,
                 root: SumNode, records: int) -> str:
    return json.dumps({"allocated_ukwh": root.green_ukwh, "hour": hour,
                       "hour_start_s": hour_start_s, "metered_ukwh": root.facility_ukwh,
                       "records": records, "site": site, "sum_root": root.hash.hex(),
                       "supply_ukwh": supply_ukwh}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


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
    """The summaries of a ledger's site-hours, their log, and each record's place."""

    lines: list[str]  # in log order
    trees: list[MerkleTree]  # each summary's sum tree
    first_seq: list[int]  # seq of each site-hour's first record
    of_seq: dict[int, int]  # record seq -> summary index

    def record_proof(self, seq: int) -> dict[str, Any]:
        g = self.of_seq[seq]
        tree = self.trees[g]
        index = seq - self.first_seq[g]
        return {"summary": g, "index": index, "size": len(tree),
                "path": [n.as_json() for n in tree.inclusion_proof(index)]}


def verify_record_sum(proof: Any, record_hash: bytes, green_ukwh: int, facility_ukwh: int,
                      summary: dict[str, Any]) -> None:
    """Raise ProofError unless the record folds up its path to the summary's root and sums,
    and the summary's allocation does not exceed its supply."""
    if not isinstance(proof, dict) or type(proof.get("index")) is not int \
            or type(proof.get("size")) is not int or not isinstance(proof.get("path"), list):
        raise ProofError("a record's sum proof reads summary, index, size, path")
    if proof["size"] != summary["records"]:
        raise ProofError("the sum proof's tree size differs from the summary's record count")
    path = [SumNode.from_json(p) for p in proof["path"]]
    root = fold_path(proof["index"], proof["size"],
                     sum_leaf(record_hash, green_ukwh, facility_ukwh), path, sum_node)
    if (root.hash.hex(), root.green_ukwh, root.facility_ukwh) != (
            summary["sum_root"], summary["allocated_ukwh"], summary["metered_ukwh"]):
        raise ProofError("the record does not add up to its site-hour's summary")
    if summary["allocated_ukwh"] > summary["supply_ukwh"]:
        raise ProofError(f"the site-hour allocated {summary['allocated_ukwh']} µkWh of green "
                         f"power out of a supply of {summary['supply_ukwh']}: counted twice")
