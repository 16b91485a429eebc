"""Invoices and provider statements of the live service (issue 12 item 4): every invoice line
reconciles to the ledger's record of that job and hour; the lines add up to the jobs' bills,
which are what the accounts were debited; a job spanning a price change is billed by both
items; the month still running is a draft; the CSV has the FOCUS columns."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, BOB, OPS, rt_job, settings_for, wait_for

from suanwang.model import Kind, PriceItem
from suanwang.network.loader import load_network
from suanwang.pricing.focus import FOCUS_COLUMNS, LEDGER_HOUR_COLUMN
from suanwang.service.app import create_app

HOUR_S = 3600.0


def finished_and_closed(client: TestClient, job_id: str, limit_s: float = 20.0
                        ) -> dict[str, Any]:
    done = wait_for(lambda: client.get(f"/v1/jobs/{job_id}", headers=ALICE).json(),
                    lambda j: j["state"] == "finished", limit_s)
    wait_for(lambda: client.get("/v1/ledger/head", headers=OPS).json(),
             lambda h: h["closed_until_s"] >= done["end_s"], limit_s)
    return done


def records(client: TestClient, job_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page = client.get("/v1/ledger", params={"cursor": cursor, "job_id": job_id},
                          headers=OPS).json()
        out += page["records"]
        cursor = page["next_cursor"]
    return out


def months_of(jobs: list[dict[str, Any]], client: TestClient) -> set[str]:
    start = client.app.state.service.clock.start_utc  # type: ignore[attr-defined]
    tz = timezone_cn()
    out = set()
    for j in jobs:
        for s in (j["start_s"], j["end_s"]):
            out.add(f"{(start + timedelta(seconds=s)).astimezone(tz):%Y-%m}")
    return out


def timezone_cn() -> Any:
    from suanwang.pricing.tariff import CHINA_TZ

    return CHINA_TZ


def test_invoice_lines_reconcile_to_ledger_records_bills_and_debits(
        client: TestClient) -> None:
    assert client.post("/v1/accounts", json={"tenant": "alice", "balance_yuan": 5000.0},
                       headers=OPS).status_code == 201
    ids = [client.post("/v1/jobs", json=rt_job(units=u, duration_s=d, data_gb=g,
                                               rtt_bound_ms=5.0, providers_prefer=[p]),
                       headers=ALICE).json()["id"]
           for u, d, g, p in ((8, 2.5 * HOUR_S, 4.0, "scnet"), (4, 5400.0, 0.0, "huawei"),
                              (2, 1800.0, 1.0, "ctyun"))]
    done = [finished_and_closed(client, i) for i in ids]
    lines: list[dict[str, Any]] = []
    for month in sorted(months_of(done, client)):
        inv = client.get(f"/v1/invoices/alice/{month}", headers=ALICE).json()
        assert inv["tenant"] == "alice" and inv["month"] == month
        assert inv["total_yuan"] == pytest.approx(sum(x["BilledCost"] for x in inv["lines"]))
        lines += inv["lines"]
    # the sum of the invoice lines = the sum of the charges = what the account was debited
    bills = sum(j["bill_yuan"] for j in done)
    assert sum(x["BilledCost"] for x in lines) == pytest.approx(bills, abs=1e-9)
    acc = client.get("/v1/accounts/alice", headers=ALICE).json()
    assert acc["balance_yuan"] == pytest.approx(5000.0 - bills, abs=1e-9)
    debits = [e for e in client.get("/v1/accounts/alice/entries", headers=ALICE).json()[
        "entries"] if e["what"] == "settle"]
    assert sorted(e["job_id"] for e in debits) == sorted(ids)
    assert -sum(e["yuan"] for e in debits) == pytest.approx(bills, abs=1e-9)
    # each job's lines add up to its bill; each usage line is one ledger record's job and hour
    topo = client.app.state.service.live.topology  # type: ignore[attr-defined]
    for j in done:
        mine = [x for x in lines if x["ResourceId"] == j["id"]]
        assert sum(x["BilledCost"] for x in mine) == pytest.approx(j["bill_yuan"], abs=1e-9)
        egress = [x for x in mine if x["ServiceCategory"] == "Networking"]
        assert sum(x["BilledCost"] for x in egress) == pytest.approx(j["egress_yuan"])
        assert {(x["ProviderName"], x["RegionId"]) for x in mine} == {
            (next(p.name_en for s in topo.sites if s.id == j["site"] for p in s.providers
                  if p.id == j["provider"]), j["site"])}
        by_hour: dict[int, float] = defaultdict(float)
        for x in mine:
            if x["ServiceCategory"] == "Compute":
                by_hour[x[LEDGER_HOUR_COLUMN]] += x["ConsumedQuantity"]
        recs = {r["hour_start_s"]: r for r in records(client, j["id"])}
        assert set(by_hour) == set(recs)
        pool = next(p for p in range(len(topo.pools)) if topo.pool_kind[p] == Kind.INTELLIGENT
                    and topo.site_ids[topo.pool_site[p]] == j["site"])
        kw_it = topo.pools[pool].kw_per_unit
        for hour, unit_h in by_hour.items():
            assert recs[hour]["it_kwh"] == pytest.approx(unit_h * kw_it, abs=2e-6)
        assert sum(by_hour.values()) == pytest.approx(j["units"] * j["duration_s"] / HOUR_S)


def test_the_csv_has_the_focus_columns_and_the_same_lines(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=rt_job(units=4, duration_s=5400.0, data_gb=2.0),
                      headers=ALICE).json()
    done = finished_and_closed(client, job["id"])
    month = next(iter(months_of([done], client)))
    inv = client.get(f"/v1/invoices/alice/{month}", headers=ALICE).json()
    r = client.get(f"/v1/invoices/alice/{month}", params={"format": "csv"}, headers=ALICE)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [*FOCUS_COLUMNS, LEDGER_HOUR_COLUMN]
    assert len(rows) == len(inv["lines"])
    assert sum(float(x["BilledCost"]) for x in rows) == pytest.approx(inv["total_yuan"],
                                                                     abs=1e-5)
    assert {x["BillingCurrency"] for x in rows} == {"CNY"}
    assert {x["ConsumedUnit"] for x in rows} <= {"card-hour", "GB"}
    assert inv["status"] == "draft"  # the month is still running
    for lang, word in (("zh", "算力账单"), ("en", "Compute invoice")):
        page = client.get(f"/v1/invoices/alice/{month}",
                          params={"format": "html", "lang": lang}, headers=ALICE)
        assert page.status_code == 200 and word in page.text and done["id"] in page.text


def test_invoices_are_the_tenants_own_and_months_are_checked(client: TestClient) -> None:
    assert client.get("/v1/invoices/alice/2026-01", headers=BOB).status_code == 404
    empty = client.get("/v1/invoices/alice/2020-01", headers=ALICE).json()
    assert empty["lines"] == [] and empty["total_yuan"] == 0 and empty["status"] == "final"
    bad = client.get("/v1/invoices/alice/2026-13", headers=ALICE)
    assert bad.status_code == 422 and "2026-13" in bad.text and "month" in bad.text
    assert client.get("/v1/invoices/alice/2026-1", headers=ALICE).status_code == 422
    assert client.get("/v1/invoices/nobody/2026-01", headers=OPS).status_code == 404


def test_a_provider_statement_adds_up_its_sales_by_site_and_tenant(client: TestClient) -> None:
    jobs = [client.post("/v1/jobs", json=rt_job(units=u, duration_s=3600.0, rtt_bound_ms=5.0,
                                                providers_allow=["scnet"]),
                        headers=h).json()["id"] for u, h in ((8, ALICE), (2, BOB), (4, ALICE))]
    done = [wait_for(lambda i=i: client.get(f"/v1/jobs/{i}", headers=OPS).json(),
                     lambda j: j["state"] == "finished") for i in jobs]
    month = next(iter(months_of(done, client)))
    st = client.get(f"/v1/providers/scnet/statements/{month}", headers=OPS)
    assert st.status_code == 200, st.text
    body = st.json()
    assert body["jobs"] == 3
    assert body["total_yuan"] == pytest.approx(sum(j["bill_yuan"] for j in done))
    assert [(s["site"], s["kind"]) for s in body["sites"]] == [("horinger", "intelligent")]
    assert body["sites"][0]["unit_h"] == pytest.approx(14.0)
    by_tenant = {t["tenant"]: t["revenue_yuan"] for t in body["tenants"]}
    assert by_tenant["bob"] == pytest.approx(done[1]["bill_yuan"])
    assert client.get(f"/v1/providers/scnet/statements/{month}",
                      headers=ALICE).status_code == 403
    assert client.get(f"/v1/providers/nosuch/statements/{month}",
                      headers=OPS).status_code == 404


CHANGE_H = 12  # the price changes this many hours after the hour the service starts in


@pytest.fixture
def repriced(db: tuple[str, str | None]) -> Iterator[tuple[TestClient, PriceItem]]:
    """A service whose network has scnet at Horinger doubling its card-hour price 11-12 run
    hours after the service starts (a new price item superseding the old one): at the test
    clock's 3,600x, 11 wall seconds for the service to start and take the job, however loaded
    the machine (start-up at 3,600x is hours of run time)."""
    net = load_network()
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    sites = []
    new_item: PriceItem | None = None
    for s in net.sites:
        if s.id == "horinger":
            provs = []
            for p in s.providers:
                if p.id == "scnet":
                    old = max((i for i in p.prices if i.kind == Kind.INTELLIGENT),
                              key=lambda i: i.effective_from)
                    new_item = replace(old, item_id=f"{old.item_id}-doubled",
                                       yuan_per_unit_h=old.yuan_per_unit_h * 2,
                                       effective_from=now + timedelta(hours=CHANGE_H),
                                       source="assumption: a test's price change")
                    prices = sorted((*p.prices, new_item),
                                    key=lambda i: (list(Kind).index(i.kind), i.effective_from))
                    p = replace(p, prices=tuple(prices))
                provs.append(p)
            s = replace(s, providers=tuple(provs))
        sites.append(s)
    assert new_item is not None
    client = TestClient(create_app(settings_for(db), replace(net, sites=tuple(sites))))
    client.__enter__()
    yield client, new_item
    client.__exit__(None, None, None)


def test_a_job_spanning_a_price_change_is_billed_by_both_items(
        repriced: tuple[TestClient, PriceItem]) -> None:
    client, new_item = repriced
    job = client.post("/v1/jobs", json=rt_job(units=8, duration_s=2 * CHANGE_H * HOUR_S,
                                              rtt_bound_ms=5.0, providers_allow=["scnet"]),
                      headers=ALICE).json()
    done = finished_and_closed(client, job["id"], limit_s=90.0)
    start = client.app.state.service.clock.start_utc  # type: ignore[attr-defined]
    assert start + timedelta(seconds=done["start_s"]) < new_item.effective_from \
        < start + timedelta(seconds=done["end_s"])
    lines = []
    for month in sorted(months_of([done], client)):
        lines += [x for x in client.get(f"/v1/invoices/alice/{month}",
                                        headers=ALICE).json()["lines"]
                  if x["ResourceId"] == done["id"]]
    items = {x["SkuPriceId"] for x in lines if x["ServiceCategory"] == "Compute"}
    assert new_item.item_id in items and len(items) == 2
    new_lines = [x for x in lines if x["SkuPriceId"] == new_item.item_id]
    assert all(x["ChargePeriodStart"] >= new_item.effective_from.astimezone(
        timezone_cn()).isoformat() for x in new_lines)
    assert sum(x["BilledCost"] for x in lines) == pytest.approx(done["bill_yuan"], abs=1e-9)
