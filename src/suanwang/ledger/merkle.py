"""The ledger's Merkle log (RFC 9162, Certificate Transparency 2.0, §2.1): hashes, append,
inclusion and consistency proofs. Pure, no I/O.

Hashing (RFC 9162 §2.1.1), SHA-256:

    MTH({})      = SHA-256()
    leaf hash    = SHA-256(0x00 || leaf input)
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   for n > 1,
                   k = the largest power of two smaller than n

A leaf's input is the 32 raw bytes of the record's `hash` (SHA-256 of its canonical body, see
`chain` and `record`), so the tree commits to every record's bytes and any store can rebuild
it from the record hashes alone (32 bytes a record, not the lines).

**One tree over all records**, not a tree per closed hour with a log of hour roots. The
records are appended in hour order, so the tree's size at the end of each hour *is* that
hour's checkpoint: an hourly checkpoint costs one signature and nothing else. With one tree a
single consistency proof (about log2(n) hashes) shows that any earlier checkpoint is a prefix
of any later one, and an inclusion proof is one path of about log2(n) hashes (18 for 200,000
records). Per-hour trees would need two proofs per record (record -> hour root -> log of hour
roots), a second tree to make consistent, and bring nothing: an hour's records are already a
contiguous range of leaves of the one tree.

`Frontier` is the compact range [0, n): the roots of the perfect subtrees that the binary
representation of n gives, at most log2(n) + 1 hashes. Appending a leaf costs one leaf hash
and on average one node hash; the root is folded from the frontier. That is all a writer keeps
(the service stores it with each checkpoint). `MerkleTree` holds the leaf hashes and the
levels above them, built once in O(n), and answers proofs for any tree size up to its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than `n` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class ProofError(ValueError):
    """A proof that does not verify, or a request for a proof that cannot exist."""


@dataclass
class Frontier:
    """The compact range of a tree of `size` leaves: enough to append and to give the root."""

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)  # left to right, largest subtree first

    def append(self, leaf: bytes) -> None:
        """Append a leaf, given by its leaf hash."""
        h, m = leaf, self.size
        while m & 1:
            h = node_hash(self.hashes.pop(), h)
            m >>= 1
        self.hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.hashes))

    def to_hex(self) -> list[str]:
        return [h.hex() for h in self.hashes]

    @classmethod
    def from_hex(cls, size: int, hashes: Sequence[str]) -> Frontier:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} hashes, "
                             f"not {len(hashes)}")
        return cls(size, [bytes.fromhex(h) for h in hashes])


class MerkleTree:
    """All leaf hashes and the levels above them; proofs for any size up to `len(self)`.

    Level i holds the roots of the aligned perfect subtrees of 2^i leaves, and a last lone
    node carried up unchanged, so every aligned perfect subtree is one lookup.
    """

    def __init__(self, leaves: Sequence[bytes],
                 node: Callable[[Any, Any], Any] = node_hash) -> None:
        self.node = node  # another node function: a Merkle-sum tree (`sums`)
        self.levels: list[list[Any]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            up = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                up.append(level[-1])
            self.levels.append(up)
            level = up

    @classmethod
    def of_record_hashes(cls, hashes: Iterable[str]) -> MerkleTree:
        """The tree of records given by their hex `hash`es, in seq order."""
        return cls([leaf_hash(bytes.fromhex(h)) for h in hashes])

    def __len__(self) -> int:
        return len(self.levels[0])

    def _subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for a range that is a node of some tree (lo aligned to the largest
        power of two not above hi - lo)."""
        size = hi - lo
        if size & (size - 1) == 0 and lo % size == 0:
            return self.levels[size.bit_length() - 1][lo // size]
        k = split_point(size)
        return self.node(self._subtree(lo, lo + k), self._subtree(lo + k, hi))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= len(self):
            raise ProofError(f"tree size {size} is beyond the {len(self)} leaves held")

    def root(self, size: int | None = None) -> bytes:
        size = len(self) if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), the sibling nearest the leaf first."""
        size = len(self) if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:  # walk down from the root, collecting siblings
            k = split_point(hi - lo)
            if index < lo + k:
                path.append(self._subtree(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._subtree(lo, lo + k))
                lo += k
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size])."""
        new_size = len(self) if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ProofError(f"no consistency proof from size {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], whole)."""
        n = hi - lo
        if m == n:
            return [] if whole else [self._subtree(lo, hi)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._subtree(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._subtree(lo, lo + k)]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root that `path` leads to from `leaf` at `index` in a tree of
    `size` leaves; ProofError if the path cannot belong to such a tree."""
    if any(len(p) != HASH_SIZE for p in path):
        raise ProofError("a proof hash is not 32 bytes")
    return fold_path(index, size, leaf, path, node_hash)


def fold_path(index: int, size: int, leaf: T, path: Sequence[T],
              node: Callable[[T, T], T]) -> T:
    """The RFC 9162 §2.1.3.2 walk from a leaf to the root with any node function (the
    Merkle-sum trees of `sums` use it with nodes that carry sums)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> None:
    """Raise ProofError unless `path` proves `leaf` at `index` in the tree of root `root`."""
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(f"the inclusion proof of leaf {index} leads to another root than "
                         f"that of the tree of {size}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless `proof` shows that the tree of `old_size`
    leaves and root `old_root` is a prefix of the tree of `new_size` and root `new_root`."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"the old tree size {old_size} exceeds the new one {new_size}")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("a proof hash is not 32 bytes")
    if old_size == new_size:
        if proof:
            raise ProofError("two trees of the same size need an empty proof")
        if old_root != new_root:
            raise ProofError(f"two trees of {old_size} leaves with different roots: the log "
                             "was rewritten")
        return
    if old_size == 0:
        if proof:
            raise ProofError("the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofError("an empty consistency proof between different tree sizes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the trees are deep")
    if fr != old_root:
        raise ProofError(f"the tree of {new_size} does not extend the tree of {old_size}: its "
                         f"first {old_size} leaves have another root (a past record was "
                         "changed, removed, added or moved)")
    if sr != new_root:
        raise ProofError(f"the tree of {new_size} does not extend the tree of {old_size}: "
                         "the proof does not lead from the old root to the new one (a past "
                         "record was changed, removed, added or moved, or the proof is wrong)")
