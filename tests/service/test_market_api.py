"""The call auction in the live service (issue 13): a tenant bids through the API, the round
clears on the run clock, the matched bid's job runs where it was matched and is billed at the
clearing price (its bill, the account's debit and the invoice agree); individual rationality
and budget balance hold on the live round's record; a bid below the clearing price is told
why; bad bids are 422s naming the field; a bid the account cannot cover is a 402. On SQLite
and PostgreSQL (the `client` fixture)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, BOB, OPS, wait_for

from suanwang.network.loader import load_network
from suanwang.pricing.tariff import CHINA_TZ
from suanwang.service.replay import replay

BID = {"origin": "yrd", "kind": "general", "units": 16, "duration_s": 1800.0,
       "deadline_in_s": 86400.0, "data_gb": 2.0, "limit_yuan_per_unit_h": 50.0}


def open_account(client: TestClient, tenant: str, balance: float) -> None:
    r = client.post("/v1/accounts", json={"tenant": tenant, "balance_yuan": balance},
                    headers=OPS)
    assert r.status_code == 201, r.text


def cleared(client: TestClient, bid_id: str, headers: dict[str, str] = ALICE
            ) -> dict[str, Any]:
    """The bid once it is no longer open (filled, expired, cancelled, unmatched)."""
    return wait_for(lambda: client.get(f"/v1/market/bids/{bid_id}", headers=headers).json(),
                    lambda b: b["state"] != "open", limit_s=60)


def in_a_round(client: TestClient, bid_id: str, headers: dict[str, str] = ALICE
               ) -> dict[str, Any]:
    """The bid once it has been in a round (open again if it carried over)."""
    return wait_for(lambda: client.get(f"/v1/market/bids/{bid_id}", headers=headers).json(),
                    lambda b: len(b["rounds"]) >= 1, limit_s=60)


def test_a_bid_clears_runs_at_its_site_and_is_billed_at_the_clearing_price(
        client: TestClient) -> None:
    open_account(client, "alice", 10_000.0)
    r = client.post("/v1/market/bids", json=BID, headers=ALICE)
    assert r.status_code == 201, r.text
    bid = r.json()
    assert bid["state"] == "open" and bid["round_id"].startswith("r")
    assert bid["hold_yuan"] == pytest.approx(50.0 * 16 * 0.5)  # the limit x unit-hours
    held = client.get("/v1/accounts/alice", headers=ALICE).json()["held_yuan"]
    assert 0 < held <= bid["hold_yuan"] + 1e-9  # the bid's, or (cleared) its jobs' at the price

    done = cleared(client, bid["id"])
    assert done["state"] == "filled", done
    fill = done["result"]["jobs"]
    assert sum(j["units"] for j in fill) == 16
    rnd = client.get(f"/v1/market/rounds/{done['round_id']}", headers=ALICE).json()
    prices = {(m["kind"], m["site"]): m["price_yuan_per_unit_h"] for m in rnd["markets"]}
    total_bill = 0.0
    jobs: list[dict[str, Any]] = []
    for j in fill:
        job = wait_for(lambda j=j: client.get(f"/v1/jobs/{j['job']}", headers=ALICE).json(),
                       lambda x: x["state"] in ("finished", "failed"))
        assert job["state"] == "finished"
        assert job["site"] == j["site"] and job["provider"] == j["provider"]
        price = prices[("general", j["site"])]
        assert j["price_yuan_per_unit_h"] == pytest.approx(price, abs=1e-6)
        assert job["market_price_yuan_per_unit_h"] == pytest.approx(price, abs=1e-6)
        unit_h = job["units"] * (job["end_s"] - job["start_s"]) / 3600.0
        assert job["bill_yuan"] == pytest.approx(price * unit_h + job["egress_yuan"])
        assert job["bill_yuan"] == pytest.approx(j["bill_yuan"])
        total_bill += job["bill_yuan"]
        jobs.append(job)

    def settled(a: dict[str, Any]) -> bool:
        return a["jobs_holding"] == 0

    acct = wait_for(lambda: client.get("/v1/accounts/alice", headers=ALICE).json(), settled)
    assert acct["balance_yuan"] == pytest.approx(10_000.0 - total_bill)
    assert acct["held_yuan"] == pytest.approx(0.0)
    start = client.app.state.service.clock.start_utc  # type: ignore[attr-defined]
    months = {f"{(start + timedelta(seconds=s)).astimezone(CHINA_TZ):%Y-%m}"
              for j in jobs for s in (j["start_s"], j["end_s"])}
    lines = [x for m in sorted(months)
             for x in client.get(f"/v1/invoices/alice/{m}", headers=ALICE).json()["lines"]]
    assert sum(x["BilledCost"] for x in lines) == pytest.approx(total_bill)
    usage = [x for x in lines if x["ServiceCategory"] == "Compute"]
    assert usage and all(x["ListUnitPrice"] == pytest.approx(
        prices[("general", x["RegionId"])], abs=1e-6) for x in usage)
    assert all(str(x["SkuPriceId"]) == f"market:{done['round_id']}" for x in usage)
    # the auction's placements are inputs of the scheduler's log: the session replays
    store = client.app.state.service.store  # type: ignore[attr-defined]
    log = store.scheduler_log()
    assert "place" in {r[1] for r in log}
    result = replay(store, load_network(), log)
    assert result.reproduced, result.differing[:3]


def test_the_live_round_is_individually_rational_and_budget_balanced(
        client: TestClient) -> None:
    bids = []
    for k, limit in enumerate((60.0, 30.0, 0.0001)):
        headers = ALICE if k % 2 == 0 else BOB
        r = client.post("/v1/market/bids", json={**BID, "units": 8 + k,
                                                 "limit_yuan_per_unit_h": limit},
                        headers=headers)
        assert r.status_code == 201, r.text
        bids.append((r.json()["id"], headers))
    outcomes = [in_a_round(client, b, h) for b, h in bids]
    low = outcomes[2]
    assert low["state"] == "open"  # below every floor: it carries over
    assert low["rounds"][0]["reasons"] == {"price_below_clearing": 10}
    assert low["rounds"][0]["then"] == "carried_over"
    assert {u["reason"] for u in low["result"]["unmatched"]} == {"price_below_clearing"}
    rids = sorted({o["rounds"][0]["round"] for o in outcomes})  # may fall in two rounds
    matched = 0
    for rid in rids:
        rnd = client.get(f"/v1/market/rounds/{rid}", headers=OPS).json()
        for m in rnd["matched"]:
            assert m["buyer_yuan_per_unit_h"] <= m["limit_yuan_per_unit_h"] + 1e-6  # buyers
            assert m["seller_yuan_per_unit_h"] >= m["reserve_yuan_per_unit_h"] - 1e-6  # sellers
            assert m["job"]
        matched += len(rnd["matched"])
        assert rnd["budget"]["weakly_balanced"] and rnd["budget"]["platform_yuan"] >= -1e-6
        assert rnd["units_traded"] == sum(m["units"] for m in rnd["matched"])
        # a tenant sees only its own bids in the round
        mine = client.get(f"/v1/market/rounds/{rid}", headers=BOB).json()
        assert {m["tenant"] for m in mine["matched"] + mine["unmatched"]} <= {"bob"}
    assert matched >= 2
    listed = client.get("/v1/market/rounds", headers=ALICE).json()["rounds"]
    assert {r["id"] for r in listed} >= set(rids)
    assert any(r["fill_ratio"] > 0 for r in listed)
    # every clearing is a record in the ledger's chain, which verifies with them in it
    events = {e["ref"]: e for e in client.get(
        "/v1/ledger/events", params={"type": "market_clearing"}, headers=ALICE
    ).json()["events"]}
    for rid in rids:
        rnd = client.get(f"/v1/market/rounds/{rid}", headers=OPS).json()
        assert rnd["ledger_seq"] == events[rid]["seq"]
        rec = events[rid]["payload"]
        assert rec["round"] == rid and rec["matched"] == rnd["matched"]
        assert rec["unmatched"] == rnd["unmatched"] and rec["budget"] == rnd["budget"]
    check = client.get("/v1/ledger/verify", headers=OPS).json()
    assert check["ok"], check
    text = client.get("/metrics").text
    assert 'suanwang_market_fill_ratio{kind="all",site="all"}' in text  # the latest round
    assert "suanwang_market_rounds_total" in text
    assert "suanwang_market_clear_seconds" in text


@pytest.mark.parametrize(("change", "field"), [
    ({"limit_yuan_per_unit_h": None}, "limit_yuan_per_unit_h"),
    ({"limit_total_yuan": 10.0}, "limit_yuan_per_unit_h"),
    ({"units": 0}, "units"),
    ({"origin": "atlantis"}, "origin"),
    ({"deadline_in_s": 60.0}, "deadline_in_s"),
    ({"rtt_bound_ms": 5.0}, "rtt_bound_ms"),
    ({"limit_yuan_per_unit_h": -1.0}, "limit_yuan_per_unit_h"),
    ({"carbon_cap_kg": -3}, "carbon_cap_kg"),
])
def test_a_bad_bid_is_a_422_naming_the_field(client: TestClient, change: dict[str, Any],
                                             field: str) -> None:
    body = {k: v for k, v in {**BID, **change}.items() if v is not None}
    r = client.post("/v1/market/bids", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert any(loc[-1] == field for loc in locs), locs


def test_a_bid_the_account_cannot_cover_is_refused_402(client: TestClient) -> None:
    open_account(client, "alice", 1.0)
    r = client.post("/v1/market/bids", json={**BID, "limit_yuan_per_unit_h": None,
                                             "limit_total_yuan": 100.0}, headers=ALICE)
    assert r.status_code == 402, r.text
    assert r.json()["limit"] == "balance" and r.json()["needed"] == pytest.approx(100.0)
    assert client.get("/v1/market/bids", headers=ALICE).json()["bids"] == []


def test_posted_asks_replace_the_floor_and_a_bid_below_them_is_told_why(
        client: TestClient) -> None:
    bad = client.post("/v1/market/asks", json={"provider": "nobody", "site": "wuhu",
                                               "kind": "general",
                                               "reserve_yuan_per_unit_h": 1.0, "units": 1},
                      headers=OPS)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "provider"
    assert bad.json()["detail"][0]["input"] == "nobody"
    too_many = client.post("/v1/market/asks", json={
        "provider": "ctyun", "site": "zhangjiakou", "kind": "general",
        "reserve_yuan_per_unit_h": 1.0, "units": 10**9}, headers=OPS)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"][-1] == "units"
    assert client.post("/v1/market/asks", json={}, headers=ALICE).status_code == 403
    # every general slice asks 1,000 yuan per unit-hour for 4 units
    slices = [(p["site"], p["provider"]) for p in
              client.get("/v1/providers", headers=OPS).json()["providers"]
              if any(u["kind"] == "general" and u["offered_units"] > 0 for u in p["units"])]
    for site, prov in slices:
        r = client.post("/v1/market/asks", json={
            "provider": prov, "site": site, "kind": "general",
            "reserve_yuan_per_unit_h": 1000.0, "units": 4}, headers=OPS)
        assert r.status_code == 201, r.text
    assert len(client.get("/v1/market/asks", headers=OPS).json()["asks"]) == len(slices)
    assert client.get("/v1/market/asks", headers=ALICE).status_code == 403  # sealed
    open_account(client, "alice", 10_000.0)
    r = client.post("/v1/market/bids", json=BID, headers=ALICE)
    first = in_a_round(client, r.json()["id"])
    one = first["rounds"][0]
    assert one["reasons"] == {"price_below_clearing": 16} and one["then"] == "carried_over"
    assert first["state"] == "open" and first["open_units"] == 16
    assert "1000" in first["result"]["unmatched"][0]["detail"]
    used = client.get("/v1/market/asks", params={"state": "used"}, headers=OPS).json()["asks"]
    assert {a["round_id"] for a in used} == {one["round"]} and len(used) == len(slices)
    assert client.get("/v1/market/asks", headers=OPS).json()["asks"] == []
    # the round's record lists the bid and says it carries over
    rnd = client.get(f"/v1/market/rounds/{one['round']}", headers=ALICE).json()
    assert [(u["bid"], u["then"]) for u in rnd["unmatched"]] == [(first["id"], "carried_over")]
    # the next rounds ask at the floors again (supply returns): the same bid fills there
    done = cleared(client, first["id"])
    assert done["state"] == "filled", done
    assert len(done["rounds"]) >= 2 and done["rounds"][-1]["filled_units"] == 16
    assert done["round_id"] == done["rounds"][-1]["round"] != one["round"]
    assert sum(j["units"] for j in done["result"]["jobs"]) == 16
    for j in done["result"]["jobs"]:
        job = client.get(f"/v1/jobs/{j['job']}", headers=ALICE).json()
        assert job["market_bid"] == first["id"] and job["market_round"] == done["round_id"]
    # the bid's hold stayed while it carried over, then passed to its jobs
    notes = [e["note"] for e in client.get("/v1/accounts/alice/entries",
                                           headers=ALICE).json()["entries"]
             if e["job_id"] == first["id"]]
    assert any(f"market bid filled in {done['round_id']}" in n for n in notes), notes
    assert not any(one["round"] in n for n in notes), notes
