"""Event records (grid settlements, market clearings) in the energy records' hash chain: their
canonical form, verification, tampering named, and every reader of a ledger that holds both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suanwang.ledger.chain import GENESIS, Chain, body_hash, energy_only, verify_lines
from suanwang.ledger.event_record import EventRecord, at_label, canonical_json, decode_entry
from suanwang.ledger.record import LedgerRecord
from suanwang.ledger.store import FileLedger, StoredRecord, site_hours

T0 = 1_717_171_200  # 2024-05-31T16:00:00Z = 2024-06-01T00:00+08:00


def energy(job: str, site: str, hour: int, kwh_u: int = 1_000_000) -> LedgerRecord:
    return LedgerRecord(job=job, tenant="alice", origin="east", site=site, kind="general",
                        hour_start_s=T0 + 3600 * hour, hour=at_label(T0 + 3600 * hour)[:16]
                        + "+08:00", it_ukwh=kwh_u, facility_ukwh=kwh_u, green_ukwh=kwh_u // 2,
                        location_mg_per_kwh=700_000, market_mg_per_kwh=800_000)


def clearing(ref: str = "r0001", price: float = 3.25) -> EventRecord:
    return EventRecord.make("market_clearing", ref, T0 + 900,
                            {"round": ref, "prices": {"west/general": price}, "volume": 12,
                             "unmatched": [{"bid": "b2", "reason": "price below clearing"}],
                             "名": "算力"})


def chained(records: list[LedgerRecord | EventRecord]) -> list[bytes]:
    chain = Chain()
    return [(chain.append(r).line + "\n").encode("utf-8") for r in records]


def test_canonical_json_is_one_text_and_refuses_what_json_cannot_hold() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "x"], "c": {"z": None, "y": True}}) == \
        '{"a":[1.5,"x"],"b":1,"c":{"y":true,"z":null}}'
    assert canonical_json({"名": "算力"}) == '{"名":"算力"}'  # not \\u escapes
    with pytest.raises(ValueError, match=r"payload\.a\[1\] is nan"):
        canonical_json({"a": [1.0, float("nan")]})
    with pytest.raises(TypeError, match="not text"):
        canonical_json({1: 2})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="JSON object"):
        canonical_json([1, 2])  # type: ignore[arg-type]


def test_make_names_a_bad_field() -> None:
    with pytest.raises(ValueError, match="type 'bogus'"):
        EventRecord.make("bogus", "x", T0, {})
    with pytest.raises(ValueError, match="ref ''"):
        EventRecord.make("grid_settlement", "", T0, {})
    with pytest.raises(ValueError, match="at_s -1"):
        EventRecord.make("grid_settlement", "e1", -1, {})


def test_a_mixed_chain_verifies_and_each_reader_sees_what_it_should() -> None:
    records = [energy("A", "west", 0), energy("B", "west", 0), clearing(),
               energy("A", "west", 1), EventRecord.make("grid_settlement", "e7", T0 + 7200,
                                                        {"delivered_kwh": 41.5})]
    lines = chained(records)
    seen: list[tuple[int, object]] = []
    v = verify_lines(lines, expected_count=5, on_record=lambda q, _d, r: seen.append((q, r)))
    assert v.ok and v.records == 5
    assert [r for _, r in seen] == records  # events come back equal to what was appended
    only: list[int] = []
    verify_lines(lines, on_record=energy_only(lambda q, _d, _r: only.append(q)))
    assert only == [0, 1, 3]
    line = json.loads(lines[2])
    assert list(line) == ["hash", "at", "at_s", "payload", "prev", "ref", "seq", "type"]
    assert line["at"] == "2024-06-01T00:15:00+08:00" and line["payload"]["volume"] == 12
    assert line["hash"] == body_hash("{" + lines[2].decode()[len('{"hash":"') + 66:-1])
    stored = [StoredRecord(q, json.loads(x)["hash"], decode_entry(
        {k: v for k, v in json.loads(x).items() if k != "hash"})[2])
        for q, x in enumerate(lines)]
    keys, leaves, first = site_hours(stored)  # events are in no site-hour
    assert keys == [("west", records[0].hour, T0), ("west", records[3].hour, T0 + 3600)]
    assert [len(x) for x in leaves] == [2, 1] and first == [0, 3]


@pytest.mark.parametrize(("field", "value"), [
    ("payload", {"round": "r0001", "prices": {"west/general": 0.01}, "volume": 12}),
    ("ref", "r0002"), ("type", "grid_settlement"), ("at_s", T0 + 901)])
def test_a_changed_event_is_named_even_with_its_hash_recomputed(field: str,
                                                                value: object) -> None:
    lines = chained([energy("A", "west", 0), clearing(), energy("A", "west", 1)])
    obj = json.loads(lines[1])
    obj.pop("hash")
    obj[field] = value
    v = verify_lines([*lines[:1], json.dumps(obj).encode() + b"\n", *lines[2:]])
    assert not v.ok and v.problem is not None and v.problem.index == 1
    # re-forged: canonical body, hash recomputed — the next record's prev no longer matches
    if field == "at_s":  # `at` must say the same instant
        obj["at"] = at_label(T0 + 901)
    body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged = f'{{"hash":"{body_hash(body)}",{body[1:]}\n'.encode()
    v = verify_lines([*lines[:1], forged, *lines[2:]])
    assert not v.ok and v.problem is not None and v.problem.index == 2
    assert "prev" in v.problem.reason


def test_an_event_whose_time_labels_disagree_is_refused() -> None:
    lines = chained([clearing()])
    obj = json.loads(lines[0])
    obj.pop("hash")
    obj["at"] = "2024-06-01T00:16:00+08:00"
    body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    v = verify_lines([f'{{"hash":"{body_hash(body)}",{body[1:]}\n'.encode()])
    assert not v.ok and v.problem is not None
    assert "is not at_s" in v.problem.reason and v.problem.index == 0


def test_a_file_ledger_with_events_verifies_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from suanwang.cli import app

    lines = chained([energy("A", "west", 0), clearing(), energy("A", "west", 1)])
    (tmp_path / "ledger.jsonl").write_bytes(b"".join(lines))
    ledger = FileLedger(tmp_path)
    assert ledger.verify().ok
    assert [type(s.record).__name__ for s in ledger.records()] == \
        ["LedgerRecord", "EventRecord", "LedgerRecord"]
    out = CliRunner().invoke(app, ["ledger", "verify", str(tmp_path)])
    assert out.exit_code == 0 and "3 records" in out.output, out.output
    assert Chain().head == GENESIS
