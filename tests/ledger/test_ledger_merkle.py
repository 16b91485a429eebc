"""The Merkle log against RFC 9162's definitions, written again here as plain recursion over
the leaves' data (MTH, PATH, PROOF of §2.1.1, §2.1.3.1, §2.1.4.1), on trees of 1..64 leaves;
and every single-record change to a log is caught by its root or by a consistency proof."""

from __future__ import annotations

import hashlib

import pytest

from suanwang.ledger.merkle import (
    Frontier,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

N = 64


# ---- RFC 9162 §2.1, literally ----------------------------------------------------------------

def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def MTH(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return H(b"")
    if n == 1:
        return H(b"\x00" + d[0])
    k = k_of(n)
    return H(b"\x01" + MTH(d[:k]) + MTH(d[k:]))


def PATH(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = k_of(n)
    if m < k:
        return [*PATH(m, d[:k]), MTH(d[k:])]
    return [*PATH(m - k, d[k:]), MTH(d[:k])]


def SUBPROOF(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [MTH(d)]
    k = k_of(n)
    if m <= k:
        return [*SUBPROOF(m, d[:k], b), MTH(d[k:])]
    return [*SUBPROOF(m - k, d[k:], False), MTH(d[:k])]


def PROOF(m: int, d: list[bytes]) -> list[bytes]:
    return SUBPROOF(m, d, True)


DATA = [hashlib.sha256(f"record {i}".encode()).digest() for i in range(N)]
TREE = MerkleTree([leaf_hash(x) for x in DATA])


# ---- roots, append ---------------------------------------------------------------------------

def test_roots_of_every_size_match_the_rfc_and_the_frontier() -> None:
    f = Frontier()
    assert f.root() == MTH([]) == TREE.root(0)
    for n in range(1, N + 1):
        f.append(leaf_hash(DATA[n - 1]))
        assert f.root() == MTH(DATA[:n]) == TREE.root(n) == MerkleTree(
            [leaf_hash(x) for x in DATA[:n]]).root()
        assert len(f.hashes) == bin(n).count("1")  # the compact range, not the tree
        again = Frontier.from_hex(n, f.to_hex())
        assert again.root() == f.root()


def test_a_published_value() -> None:
    # RFC 6962/9162 test vector (certificate-transparency-go merkle tests): the tree of the
    # empty string as its only leaf
    assert leaf_hash(b"").hex() == ("6e340b9cffb37a989ca544e6bb780a2c"
                                    "78901d3fb33738768511a30617afa01d")


# ---- inclusion -------------------------------------------------------------------------------

def test_inclusion_proofs_of_every_leaf_of_every_size() -> None:
    for n in range(1, N + 1):
        root = MTH(DATA[:n])
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert proof == PATH(m, DATA[:n]), (m, n)
            verify_inclusion(m, n, leaf_hash(DATA[m]), proof, root)


def test_inclusion_proofs_that_must_fail() -> None:
    for n in range(2, N + 1, 5):
        root = MTH(DATA[:n])
        for m in range(0, n, 3):
            proof = TREE.inclusion_proof(m, n)
            leaf = leaf_hash(DATA[m])
            with pytest.raises(ProofError):  # another leaf
                verify_inclusion(m, n, leaf_hash(DATA[(m + 1) % n]), proof, root)
            with pytest.raises(ProofError):  # another position
                verify_inclusion((m + 1) % n, n, leaf, proof, root)
            with pytest.raises(ProofError):  # the tree one leaf larger
                verify_inclusion(m, n + 1, leaf, proof, MTH(DATA[:n + 1]))
            with pytest.raises(ProofError):  # a proof hash altered
                bad = [*proof]
                bad[len(bad) // 2] = bytes([bad[len(bad) // 2][0] ^ 1]) + bad[len(bad) // 2][1:]
                verify_inclusion(m, n, leaf, bad, root)
            with pytest.raises(ProofError):  # a hash dropped
                verify_inclusion(m, n, leaf, proof[:-1], root)
            with pytest.raises(ProofError):  # a hash added
                verify_inclusion(m, n, leaf, [*proof, root], root)
    with pytest.raises(ProofError):
        TREE.inclusion_proof(5, 5)


# ---- consistency -----------------------------------------------------------------------------

def test_consistency_proofs_between_every_pair_of_sizes() -> None:
    for n in range(1, N + 1):
        new_root = MTH(DATA[:n])
        for m in range(1, n + 1):
            proof = TREE.consistency_proof(m, n)
            assert proof == PROOF(m, DATA[:n]), (m, n)
            verify_consistency(m, n, MTH(DATA[:m]), new_root, proof)


def test_consistency_proofs_that_must_fail() -> None:
    for n in range(2, N + 1, 3):
        new_root = MTH(DATA[:n])
        for m in range(1, n, 2):
            old_root = MTH(DATA[:m])
            proof = TREE.consistency_proof(m, n)
            with pytest.raises(ProofError):  # another old tree
                verify_consistency(m, n, MTH([b"x", *DATA[1:m]]), new_root, proof)
            with pytest.raises(ProofError):  # another new tree
                verify_consistency(m, n, old_root, MTH([*DATA[:n - 1], b"y"]), proof)
            for i in range(len(proof)):
                bad = [*proof]
                bad[i] = bytes([bad[i][0] ^ 0x80]) + bad[i][1:]
                with pytest.raises(ProofError):
                    verify_consistency(m, n, old_root, new_root, bad)
            with pytest.raises(ProofError):
                verify_consistency(m, n, old_root, new_root, proof[:-1])
    with pytest.raises(ProofError):  # same size, other root
        verify_consistency(4, 4, MTH(DATA[:4]), MTH(DATA[1:5]), [])


# ---- every single-record change to a log is caught ------------------------------------------

def _variants(data: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """Every single modification, deletion, insertion and swap of neighbours."""
    out: list[tuple[str, list[bytes]]] = []
    for i in range(len(data)):
        out.append((f"modify {i}", [*data[:i], H(data[i]), *data[i + 1:]]))
        out.append((f"delete {i}", [*data[:i], *data[i + 1:]]))
        out.append((f"insert at {i}", [*data[:i], b"forged", *data[i:]]))
        if i + 1 < len(data):
            out.append((f"swap {i},{i + 1}",
                        [*data[:i], data[i + 1], data[i], *data[i + 2:]]))
    return out


def test_every_single_record_change_is_caught() -> None:
    """A holder of the checkpoint (size n, root) of the honest log of n records: a changed
    log of the same size has another root; a log that grew after the change cannot prove
    itself consistent with the checkpoint."""
    data = DATA[:23]
    n, root = len(data), MTH(data)
    for what, changed in _variants(data):
        tree = MerkleTree([leaf_hash(x) for x in changed])
        if len(changed) >= n:
            assert tree.root(n) != root, what
        # the changed log, grown by a few more records, and a proof from size n to it
        grown = MerkleTree([leaf_hash(x) for x in [*changed, *DATA[30:34]]])
        size = len(grown)
        with pytest.raises(ProofError):
            verify_consistency(n, size, root, grown.root(), grown.consistency_proof(n, size))
