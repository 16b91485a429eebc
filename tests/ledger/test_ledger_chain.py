"""The hash chain detects every single-record modification, deletion, insertion and reordering,
and every flipped byte, naming the first bad record."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from suanwang.ledger.chain import GENESIS, Chain, body_hash, make_line, verify_lines
from suanwang.ledger.record import LedgerRecord, decode_body, encode_record
from suanwang.ledger.store import FileLedger

N = 6  # records in the hand-built run's ledger


def lines_of(run_dir: Path) -> list[bytes]:
    return (run_dir / "ledger.jsonl").read_bytes().splitlines(keepends=True)


def head_of(run_dir: Path) -> tuple[int, str]:
    head = json.loads((run_dir / "ledger.head.json").read_text(encoding="utf-8"))
    return head["records"], head["head"]


def first_bad(lines: list[bytes], run_dir: Path) -> int | None:
    count, head = head_of(run_dir)
    v = verify_lines(lines, expected_count=count, expected_head=head)
    return None if v.ok else v.problem.index  # type: ignore[union-attr]


def reforge(line: bytes, seq: int | None = None, prev: str | None = None,
            **changes: object) -> bytes:
    """The record with fields changed, in canonical form, its own hash recomputed (a forger's
    best effort)."""
    obj = json.loads(line)
    obj.pop("hash")
    old_seq, old_prev, record = decode_body(obj)
    body = encode_record(replace(record, **changes), old_seq if seq is None else seq,
                         old_prev if prev is None else prev)
    return rehash(body)


def rehash(body: str) -> bytes:
    return (make_line(body, body_hash(body)) + "\n").encode("utf-8")


def test_untouched_ledger_verifies(hand_dir: Path) -> None:
    lines = lines_of(hand_dir)
    assert len(lines) == N
    assert first_bad(lines, hand_dir) is None
    assert json.loads(lines[0])["prev"] == GENESIS


# ---- modification ----------------------------------------------------------------------------

@pytest.mark.parametrize("i", range(N))
def test_modified_record_is_named(hand_dir: Path, i: int) -> None:
    lines = lines_of(hand_dir)
    lines[i] = lines[i].replace(b'"tenant":"', b'"tenant":"x', 1)
    assert first_bad(lines, hand_dir) == i


@pytest.mark.parametrize("i", range(N))
def test_modified_record_with_its_hash_recomputed_breaks_the_next_link(hand_dir: Path,
                                                                       i: int) -> None:
    lines = lines_of(hand_dir)
    lines[i] = reforge(lines[i], seq=i, job="forged")
    bad = first_bad(lines, hand_dir)
    # the forged record is consistent in itself; the next one's prev (or, for the last
    # record, the head) no longer matches
    assert bad == (i + 1 if i + 1 < N else N - 1)


def test_figures_that_do_not_add_up_are_refused_even_with_a_valid_hash(hand_dir: Path) -> None:
    lines = lines_of(hand_dir)
    body = "{" + lines[2].decode("utf-8").rstrip("\n")[76:]
    assert '"grid_kwh":0.240000,' in body
    lines[2] = rehash(body.replace('"grid_kwh":0.240000,', '"grid_kwh":1.240000,'))
    assert first_bad(lines, hand_dir) == 2


# ---- deletion, insertion, reordering ---------------------------------------------------------

@pytest.mark.parametrize("i", range(N))
def test_deleted_record_is_detected_where_it_was(hand_dir: Path, i: int) -> None:
    lines = lines_of(hand_dir)
    del lines[i]
    # the record that took its place has the wrong seq; the last one is missed by the head
    assert first_bad(lines, hand_dir) == i if i < N - 1 else N - 1


@pytest.mark.parametrize("i", range(N + 1))
def test_inserted_copy_is_detected(hand_dir: Path, i: int) -> None:
    lines = lines_of(hand_dir)
    lines.insert(i, lines[min(i, N - 1) - 1 if i > 0 else 1])
    bad = first_bad(lines, hand_dir)
    assert bad is not None and bad <= i


@pytest.mark.parametrize("i", range(N))
def test_inserted_well_forged_record_is_detected_at_the_next(hand_dir: Path, i: int) -> None:
    lines = lines_of(hand_dir)
    prev = GENESIS if i == 0 else json.loads(lines[i - 1])["hash"]
    lines.insert(i, reforge(lines[i], seq=i, prev=prev, job="inserted"))
    assert first_bad(lines, hand_dir) == i + 1


@pytest.mark.parametrize("i", range(N - 1))
def test_swapped_neighbours_are_detected(hand_dir: Path, i: int) -> None:
    lines = lines_of(hand_dir)
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    assert first_bad(lines, hand_dir) == i


# ---- any one flipped byte --------------------------------------------------------------------

def test_every_single_flipped_byte_is_detected(hand_dir: Path) -> None:
    data = (hand_dir / "ledger.jsonl").read_bytes()
    starts = [0]
    for k, b in enumerate(data):
        if b == 0x0A:
            starts.append(k + 1)
    count, head = head_of(hand_dir)
    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        v = verify_lines(bytes(flipped).splitlines(keepends=True), count, head)
        assert not v.ok, pos
        record = max(k for k, s in enumerate(starts) if s <= pos)
        # a flipped newline merges or cuts lines: the record it ends is the one named
        assert v.problem is not None and v.problem.index == min(record, N - 1), pos


# ---- the store: appending continues the chain --------------------------------------------

def test_appends_continue_the_chain(tmp_path: Path) -> None:
    ledger = FileLedger(tmp_path)
    rec = LedgerRecord(job='j"1\\', tenant="中国气象局 CMA", origin="east", site="west",
                       kind="intelligent", hour_start_s=0, hour="2024-06-01T00:00+08:00",
                       it_ukwh=1_000_000, facility_ukwh=1_200_000, green_ukwh=1_080_000,
                       location_mg_per_kwh=700_000, market_mg_per_kwh=585_600)
    first = ledger.append([rec, rec])
    second = ledger.append([rec])
    assert [e.seq for e in first + second] == [0, 1, 2]
    assert second[0].prev == first[-1].hash
    v = ledger.verify()
    assert v.ok and v.records == 3 and v.head == second[0].hash
    chain = Chain()
    assert [chain.append(rec).line for _ in range(3)] == [e.line for e in first + second]
    assert [s.seq for s in ledger.records()] == [0, 1, 2]
    assert next(ledger.records()).record == rec  # quotes, backslashes, Chinese survive
