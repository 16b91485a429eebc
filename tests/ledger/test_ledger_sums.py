"""The Merkle-sum tree of a site-hour: sums, proofs of every record on trees of 1..40 leaves,
and altered sums or hashes caught."""

from __future__ import annotations

import hashlib

import pytest

from suanwang.ledger.merkle import ProofError
from suanwang.ledger.sums import SumNode, sum_leaf, sum_tree, verify_record_sum


def leaves(n: int) -> list[tuple[bytes, int, int]]:
    return [(hashlib.sha256(bytes([i])).digest(), 1000 * i + 7, 3000 * i + 11)
            for i in range(n)]


def summary(root: SumNode, n: int, supply: int) -> dict[str, object]:
    return {"sum_root": root.hash.hex(), "allocated_ukwh": root.green_ukwh,
            "metered_ukwh": root.facility_ukwh, "records": n, "supply_ukwh": supply}


@pytest.mark.parametrize("n", range(1, 41))
def test_every_record_adds_up_to_the_root(n: int) -> None:
    data = leaves(n)
    tree = sum_tree([sum_leaf(*x) for x in data])
    root = tree.root()
    assert root.green_ukwh == sum(g for _, g, _ in data)
    assert root.facility_ukwh == sum(f for _, _, f in data)
    s = summary(root, n, root.green_ukwh)
    for i, (h, g, f) in enumerate(data):
        proof = {"index": i, "size": n,
                 "path": [p.as_json() for p in tree.inclusion_proof(i)]}
        verify_record_sum(proof, h, g, f, s)
        with pytest.raises(ProofError):  # the record claims more green than it has
            verify_record_sum(proof, h, g + 1, f, s)
        if proof["path"]:
            bad = [list(p) for p in proof["path"]]
            bad[0][1] -= 1  # a sibling's sum lowered to hide an allocation
            with pytest.raises(ProofError):
                verify_record_sum({**proof, "path": bad}, h, g, f, s)
    with pytest.raises(ProofError, match="counted twice"):
        verify_record_sum({"index": 0, "size": n,
                           "path": [p.as_json() for p in tree.inclusion_proof(0)]},
                          data[0][0], data[0][1], data[0][2],
                          summary(root, n, root.green_ukwh - 1))


def test_negative_sums_cannot_be_written() -> None:
    with pytest.raises(ProofError):
        sum_leaf(b"\0" * 32, -1, 5)
    with pytest.raises(ProofError):
        SumNode.from_json(["AAAA", -1, 0])
