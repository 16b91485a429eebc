"""Certificates match the ledger: totals are the sums of the records they list, the hashes are
the ledger's, and the page says it in both languages."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from suanwang.errors import InputError
from suanwang.ledger.certificate import LedgerBroken, Subject, build_certificate
from suanwang.ledger.certificate_page import render_certificate_html
from suanwang.ledger.factors import NATIONAL_AVERAGE_G_PER_KWH, origin_factor
from suanwang.ledger.period import parse_period
from suanwang.ledger.store import FileLedger


def ledger_lines(run_dir: Path) -> list[dict]:
    with (run_dir / "ledger.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line, parse_float=Decimal) for line in f]


def total(recs: list[dict], field: str) -> Decimal:
    return sum((r[field] for r in recs), Decimal(0))


def close(a: float, b: Decimal) -> bool:
    return abs(Decimal(repr(a)) - b) <= Decimal("0.0000005")


def test_job_certificate_is_the_sum_of_its_records(hand_dir: Path) -> None:
    cert = build_certificate(FileLedger(hand_dir), Subject(job="B"))
    recs = [r for r in ledger_lines(hand_dir) if r["job"] == "B"]
    t = cert["totals"]
    assert t["records"] == len(recs) == 2
    for field in ("facility_kwh", "green_kwh", "grid_kwh", "it_kwh", "co2_location_kg",
                  "co2_market_kg"):
        assert close(t[field], total(recs, field)), field
    # by hand: 3.6 kWh at west, 2.76 green, grid 0.84 x 700 g = 0.588 kg
    assert (t["facility_kwh"], t["green_kwh"], t["co2_location_kg"]) == (3.6, 2.76, 0.588)
    assert t["green_share"] == pytest.approx(2.76 / 3.6)
    # the hashes listed are the ledger's own, in order
    assert [(x["seq"], x["hash"]) for x in cert["records"]] == [
        (r["seq"], r["hash"]) for r in recs]
    assert cert["records_sha256"] == hashlib.sha256(
        "\n".join(r["hash"] for r in recs).encode()).hexdigest()
    head = json.loads((hand_dir / "ledger.head.json").read_text(encoding="utf-8"))
    assert cert["ledger"]["head"] == head["head"] and cert["ledger"]["verified"]
    assert cert["subject"] == {"job": "B", "tenant": "bob", "period": None, "origin": "east",
                               "kind": "intelligent"}


def test_avoided_co2_is_against_the_origin_grid_each_method_apart(hand_dir: Path) -> None:
    cert = build_certificate(FileLedger(hand_dir), Subject(job="B"))
    t = cert["totals"]
    # region "east" of the tiny network maps to no province: the national average
    assert origin_factor("east").g_per_kwh == NATIONAL_AVERAGE_G_PER_KWH
    assert cert["origin_factors"][0]["region"] == "east"
    assert "national" in cert["origin_factors"][0]["basis"]
    assert t["avoided_location_kg"] == pytest.approx(3.6 * 0.5366 - 0.588, abs=2e-6)
    assert t["avoided_market_kg"] == pytest.approx(3.6 * 0.5856 - t["co2_market_kg"],
                                                   abs=2e-6)


def test_origin_factors_of_the_bundled_regions() -> None:
    assert origin_factor("bth").g_per_kwh == 558.0  # Beijing 2022
    assert origin_factor("yrd").g_per_kwh == 584.9  # Shanghai
    assert origin_factor("gba").g_per_kwh == 440.3  # Guangdong
    assert origin_factor("cc").g_per_kwh == pytest.approx((140.4 + 522.7) / 2, abs=1e-3)
    assert "Sichuan and Chongqing" in origin_factor("cc").basis


def test_tenant_certificate_with_a_period(hand_dir: Path) -> None:
    ledger = FileLedger(hand_dir)
    whole = build_certificate(ledger, Subject(tenant="alice"))
    assert whole["totals"]["jobs"] == 2 and whole["totals"]["records"] == 4
    assert {s["site"] for s in whole["by_site"]} == {"local", "west"}
    # hour 0 starts 08:00 Beijing time on 1 June: every record falls on that day
    day = build_certificate(ledger, Subject(tenant="alice", period=parse_period("2024-06-01")))
    assert day["totals"] == whole["totals"]
    with pytest.raises(InputError, match="no ledger records for tenant alice in 2024-07"):
        build_certificate(ledger, Subject(tenant="alice", period=parse_period("2024-07")))


def test_no_certificate_from_a_broken_ledger(hand_dir: Path) -> None:
    path = hand_dir / "ledger.jsonl"
    data = bytearray(path.read_bytes())
    data[data.index(b'"job":"B"') + 7] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerBroken, match="record 2"):
        build_certificate(FileLedger(hand_dir), Subject(job="A"))


def test_page_in_both_languages(hand_dir: Path) -> None:
    cert = build_certificate(FileLedger(hand_dir), Subject(job="B"))
    page = render_certificate_html(cert)
    for text in ("绿色电力溯源证书", "Green-power traceability certificate", "绿电占比",
                 "Green share", "基于位置", "location-based", "基于市场", "market-based",
                 "3.600 kWh", "2.760 kWh", "0.588 kg", cert["records_sha256"],
                 cert["records"][0]["hash"], "不相加", "never added"):
        assert text in page, text


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2024", "2024-01-01", "2025-01-01"),
    ("2024-Q2", "2024-04-01", "2024-07-01"),
    ("2024-q4", "2024-10-01", "2025-01-01"),
    ("2024-12", "2024-12-01", "2025-01-01"),
    ("2024-06-03", "2024-06-03", "2024-06-04"),
    ("2024-06-01..2024-06-07", "2024-06-01", "2024-06-08"),
])
def test_periods_are_beijing_days(text: str, start: str, end: str) -> None:
    p = parse_period(text)
    assert p.start.isoformat() == f"{start}T00:00:00+08:00"
    assert p.end.isoformat() == f"{end}T00:00:00+08:00"


@pytest.mark.parametrize("text", ["2024-13", "June", "2024-06-07..2024-06-01", "2024-02-30"])
def test_bad_periods_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(InputError, match="--period") as e:
        parse_period(text)
    assert e.value.value == text or text.startswith(str(e.value.value))
