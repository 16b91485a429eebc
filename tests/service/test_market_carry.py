"""Bids that carry over between rounds of the live call auction (issue 13): a bid below every
ask bids again until its deadline no longer allows a run (expired), its `max_rounds` are used
up, or its tenant cancels it (its hold released, the account's entries say so); a round
cleared again after a crash makes no second job; a bid cancelled while its round clears gets
no job; per-tenant caps filter the asks a bid may trade with (reason `tenant_cap`); asks
under a grid event's power ceiling offer only the units the ceiling leaves room for, and a
bid filled in part runs that part while the rest carries over as the same bid. On SQLite and
PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from svc_support import ALICE, BOB, OPS, wait_for

from suanwang.accounts.account import month_of
from suanwang.model import Job
from suanwang.network.loader import parse_network
from suanwang.service.account_needs import Need
from suanwang.service.account_store import Admission
from suanwang.service.market_desk import round_id_of
from suanwang.service.market_schemas import BidIn

BID = {"origin": "yrd", "kind": "general", "units": 16, "duration_s": 1800.0,
       "deadline_in_s": 86400.0, "data_gb": 2.0, "limit_yuan_per_unit_h": 50.0}
LOW = {**BID, "limit_yuan_per_unit_h": 0.0001}  # below every provider's floor
HOUR = 3600.0


def open_account(client: TestClient, tenant: str, balance: float) -> None:
    r = client.post("/v1/accounts", json={"tenant": tenant, "balance_yuan": balance},
                    headers=OPS)
    assert r.status_code == 201, r.text


def bid(client: TestClient, body: dict[str, Any], headers: dict[str, str] = ALICE
        ) -> dict[str, Any]:
    r = client.post("/v1/market/bids", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def get_bid(client: TestClient, bid_id: str, headers: dict[str, str] = ALICE
            ) -> dict[str, Any]:
    return dict(client.get(f"/v1/market/bids/{bid_id}", headers=headers).json())


def after(client: TestClient, bid_id: str, done: Callable[[dict[str, Any]], bool],
          headers: dict[str, str] = ALICE) -> dict[str, Any]:
    return dict(wait_for(lambda: get_bid(client, bid_id, headers), done, limit_s=60))


def entries(client: TestClient, key: str, tenant: str = "alice") -> list[str]:
    rows = client.get(f"/v1/accounts/{tenant}/entries", params={"limit": 1000},
                      headers=OPS).json()["entries"]
    return [e["note"] for e in rows if e["job_id"] == key]


def placed(client: TestClient, job_id: str) -> dict[str, Any]:
    """The job once its placement is stored (the tick's flush follows the round's write)."""
    return dict(wait_for(lambda: client.get(f"/v1/jobs/{job_id}", headers=ALICE).json(),
                         lambda j: j["state"] in ("placed", "running", "finished")))


def held(client: TestClient, tenant: str = "alice") -> float:
    return float(client.get(f"/v1/accounts/{tenant}", headers=OPS).json()["held_yuan"])


def test_a_bid_carries_over_until_its_tenant_cancels_it(client: TestClient) -> None:
    open_account(client, "alice", 1000.0)
    b = bid(client, LOW)
    assert b["hold_yuan"] == pytest.approx(0.0001 * 16 * 0.5)
    got = after(client, b["id"], lambda x: len(x["rounds"]) >= 2)
    assert got["state"] == "open" and got["open_units"] == 16
    assert [r["then"] for r in got["rounds"][:2]] == ["carried_over", "carried_over"]
    assert all(r["reasons"] == {"price_below_clearing": 16} for r in got["rounds"][:2])
    assert held(client) == pytest.approx(b["hold_yuan"])  # the hold stays while it bids
    assert "suanwang_market_bids_carried_over 1.0" in client.get("/metrics").text
    # every round it was in lists it
    for r in got["rounds"][:2]:
        rnd = client.get(f"/v1/market/rounds/{r['round']}", headers=ALICE).json()
        assert [(u["bid"], u["then"]) for u in rnd["unmatched"]] == [(b["id"], "carried_over")]
    # bob cannot cancel it (he does not see it), alice can
    assert client.delete(f"/v1/market/bids/{b['id']}", headers=BOB).status_code == 404
    r = client.delete(f"/v1/market/bids/{b['id']}", headers=ALICE)
    assert r.status_code == 200, r.text
    gone = r.json()
    assert gone["state"] == "cancelled" and gone["held_yuan"] == 0.0
    assert held(client) == pytest.approx(0.0)
    notes = entries(client, b["id"])
    assert any("cancelled by alice" in n and "released" in n for n in notes), notes
    again = client.delete(f"/v1/market/bids/{b['id']}", headers=ALICE)
    assert again.status_code == 409 and again.json()["state"] == "cancelled"
    # it bids in no further round: another bid goes through rounds without it
    rounds_then = len(get_bid(client, b["id"])["rounds"])
    other = bid(client, LOW, BOB)
    after(client, other["id"], lambda x: len(x["rounds"]) >= 2, BOB)
    assert len(get_bid(client, b["id"])["rounds"]) == rounds_then
    assert get_bid(client, b["id"])["state"] == "cancelled"


def test_a_bid_expires_when_its_deadline_no_longer_allows_a_run(client: TestClient) -> None:
    open_account(client, "alice", 1000.0)
    b = bid(client, {**LOW, "deadline_in_s": 1800.0 + 2500.0})
    done = after(client, b["id"], lambda x: x["state"] != "open")
    assert done["state"] == "expired", done
    assert len(done["rounds"]) >= 2
    assert done["rounds"][0]["then"] == "carried_over"
    assert done["rounds"][-1]["then"] == "expired"
    assert "no_feasible_site" in done["rounds"][-1]["reasons"]
    assert "deadline" in done["result"]["unmatched"][0]["detail"]
    assert done["held_yuan"] == 0.0 and held(client) == pytest.approx(0.0)
    assert any(f"market bid expired in {done['round_id']}" in n
               for n in entries(client, b["id"]))


def test_max_rounds_ends_a_bid(client: TestClient) -> None:
    b = bid(client, {**LOW, "max_rounds": 2})
    done = after(client, b["id"], lambda x: x["state"] != "open")
    assert done["state"] == "expired"
    assert [r["then"] for r in done["rounds"]] == ["carried_over", "expired"]
    bad = client.post("/v1/market/bids", json={**LOW, "max_rounds": 0}, headers=ALICE)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "max_rounds"


def test_a_round_cleared_again_after_a_crash_makes_no_second_job(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    live, store = service.live, service.store
    desk = live.market
    no = 10**6  # a round the running ticks do not reach: this test clears it by hand
    now = service.clock.now_s()
    body = BidIn(**BID).model_dump(mode="json")
    row = store.market.add_bid("alice", body, now, no,
                               Admission("alice", month_of(service.clock.at(now)),
                                         lambda _basis: []), 400.0)
    with live.lock:
        rows = desk.due_bids(no)
        assert [r.id for r in rows] == [row.id]
        desk.clear_round(no, rows, now)
    first = get_bid(client, row.id)
    assert first["state"] == "filled", first
    job_ids = sorted(j["job"] for j in first["result"]["jobs"])
    # the crash: the round's record was not stored; the round is cleared again
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM market_rounds WHERE id = :r"), {"r": round_id_of(no)})
    with live.lock:
        assert desk.due_bids(no) == []  # filled: not open any more
        desk.clear_round(no, rows, now)  # even handed the bid as it was read before
    mine = [j for j in client.get("/v1/jobs", params={"limit": 1000},
                                  headers=ALICE).json()["jobs"]
            if j.get("market_bid") == row.id]
    assert sorted(j["id"] for j in mine) == job_ids
    assert get_bid(client, row.id)["result"]["jobs"] == first["result"]["jobs"]


# ---- the tiny network with providers: per-tenant caps, grid ceilings ---------------------

@pytest.fixture
def make_tiny(make_client: Callable[..., TestClient], tiny_doc: dict[str, Any],
              provider_doc: Callable[..., dict[str, Any]]) -> Callable[..., TestClient]:
    """A service on the tiny network with providers `cheap` and `dear` at every site (cheap:
    10 yuan per card-hour, 2 yuan/GB egress; dear: 12, none), each holding half of every
    pool; `caps` sets both providers' per-tenant caps."""
    def make(caps: dict[str, int] | None = None, **kw: Any) -> TestClient:
        doc = provider_doc(copy.deepcopy(tiny_doc))
        if caps:
            for p in doc["providers"]:
                p["tenant_cap"] = {**caps, "source": "test"}
        return make_client(network=parse_network(doc, "<tiny>"), **kw)

    return make


LOCAL = {"origin": "east", "kind": "intelligent", "duration_s": 30 * 24 * HOUR,
         "rtt_bound_ms": 1.0, "limit_yuan_per_unit_h": 50.0}  # only `local` is within 1 ms


def test_a_per_tenant_cap_keeps_a_bid_off_a_slice_with_reason(
        make_tiny: Callable[..., TestClient]) -> None:
    c = make_tiny(caps={"intelligent": 2})
    first = after(c, bid(c, {**LOCAL, "units": 2})["id"], lambda x: x["state"] != "open")
    assert first["state"] == "filled", first
    [j1] = first["result"]["jobs"]
    assert j1["site"] == "local"
    # alice holds 2 (her cap) at that slice: her next bid goes to the other provider
    second = after(c, bid(c, {**LOCAL, "units": 2})["id"], lambda x: x["state"] != "open")
    assert second["state"] == "filled", second
    [j2] = second["result"]["jobs"]
    assert j2["site"] == "local" and j2["provider"] != j1["provider"]
    # now both local slices are at her cap: a third bid is told why and carries over
    third = after(c, bid(c, {**LOCAL, "units": 1})["id"], lambda x: len(x["rounds"]) >= 1)
    assert third["state"] == "open" and third["rounds"][0]["reasons"] == {"tenant_cap": 1}
    why = third["result"]["unmatched"][0]
    assert why["reason"] == "tenant_cap" and "alice" in why["detail"]
    rnd = c.get(f"/v1/market/rounds/{third['rounds'][0]['round']}", headers=ALICE).json()
    assert [(u["reason"], u["then"]) for u in rnd["unmatched"]] == [("tenant_cap",
                                                                    "carried_over")]
    # the cap is per tenant: bob is placed there (2 cards of each are still free at local)
    bobs = after(c, bid(c, {**LOCAL, "units": 1}, BOB)["id"],
                 lambda x: x["state"] != "open", BOB)
    assert bobs["state"] == "filled" and bobs["result"]["jobs"][0]["site"] == "local"
    # more units than the cap anywhere the bid may run: it can never trade
    never = after(c, bid(c, {**LOCAL, "units": 3})["id"], lambda x: x["state"] != "open")
    assert never["state"] == "unmatched" and never["rounds"][0]["reasons"] == {"tenant_cap": 3}
    # the placements kept the caps
    for j in (j1, j2):
        job = placed(c, j["job"])
        assert job["site"] == "local" and job["provider"] == j["provider"]
    assert c.delete(f"/v1/market/bids/{third['id']}", headers=ALICE).status_code == 200


def test_asks_under_a_grid_ceiling_and_a_bid_filled_in_part(
        make_tiny: Callable[..., TestClient]) -> None:
    c = make_tiny(speed=600.0)  # a round every 1.5 s: the event stays ahead
    service = c.app.state.service  # type: ignore[attr-defined]
    desk = service.live.market
    now = service.clock.now_s()
    with service.live.lock:
        before, _, _ = desk.asks(now, now + 3 * HOUR)
    free = {a.ask_id: a.units for a in before}
    assert free["cheap@west/intelligent"] == 5 and free["dear@west/intelligent"] == 5
    # a hard cap of 14 kW at west two hours from now, for four hours
    t0 = service.clock.start_utc
    now = service.clock.now_s()
    r = c.post("/v1/grid/events", json={
        "kind": "cap", "site": "west", "target_kw": 14.0, "source": "test: by hand",
        "start": (t0 + timedelta(seconds=now + 2 * HOUR)).isoformat(),
        "end": (t0 + timedelta(seconds=now + 6 * HOUR)).isoformat()}, headers=OPS)
    assert r.status_code == 201, r.text
    now = service.clock.now_s()
    with service.live.lock:
        under, _, _ = desk.asks(now, now + 3 * HOUR)
        later, _, _ = desk.asks(now, now + 0.25 * HOUR)  # a window that ends before it
    topo = service.live.topology
    west = [a for a in under if a.site_id == "west"]
    assert sum(a.units * topo.pool_kw_facility[topo.slice_pool[_slice(topo, a)]]
               for a in west) <= 14.0 + 1e-9
    units = {a.ask_id: a.units for a in under}
    assert units["cheap@west/intelligent"] == 3 and units["dear@west/intelligent"] == 3
    assert {a.ask_id: a.units for a in later if a.site_id == "west"}[
        "cheap@west/intelligent"] == 5  # the ceiling is after that window: all free units
    assert all(units[a.ask_id] == free[a.ask_id] for a in under if a.site_id != "west")
    # a bid only west can take (its carbon cap): 6 cards against the 3 cheap ones offered
    open_account(c, "alice", 10_000.0)
    b = bid(c, {"origin": "east", "kind": "intelligent", "units": 6, "duration_s": 2 * HOUR,
                "deadline_in_s": 3 * 86400.0, "limit_yuan_per_unit_h": 50.0,
                "carbon_cap_kg": 2.0})
    part = after(c, b["id"], lambda x: x["filled_units"] > 0 or x["state"] != "open")
    first = part["rounds"][-1]
    rnd = c.get(f"/v1/market/rounds/{first['round']}", headers=ALICE).json()
    offered = {(m["site"], m["egress_yuan_per_gb"]): m["units_offered"] for m in rnd["markets"]
               if m["kind"] == "intelligent"}
    assert offered[("west", 2.0)] <= 3  # the cheap ask, under the ceiling
    # the filled part runs; the rest is the same bid, open, holding its share
    assert 0 < first["filled_units"] < 6, part
    assert part["state"] == "open" and part["open_units"] == 6 - part["filled_units"]
    assert part["held_yuan"] == pytest.approx(
        b["hold_yuan"] * part["open_units"] / 6, rel=1e-6)
    for j in part["result"]["jobs"]:
        assert j["site"] == "west"
        job = placed(c, j["job"])
        assert job["market_bid"] == b["id"] and job["site"] == "west"
    notes = entries(c, b["id"])
    assert any("still held by the bid" in n for n in notes), notes
    assert c.delete(f"/v1/market/bids/{b['id']}", headers=ALICE).status_code == 200
    assert any("cancelled by alice" in n for n in entries(c, b["id"]))
    with service.store.engine.connect() as conn:  # the bid holds nothing; its jobs do
        assert conn.execute(text("SELECT COUNT(*) FROM account_holds WHERE job_id = :b"),
                            {"b": b["id"]}).scalar_one() == 0


def _slice(topo: Any, ask: Any) -> int:
    for sl, (prov, kind) in enumerate(topo.slices):
        if (prov.id == ask.provider_id and topo.site_ids[topo.slice_site[sl]] == ask.site_id
                and kind == ask.kind):
            return sl
    raise KeyError(ask.ask_id)


def test_a_bid_cancelled_while_its_round_clears_gets_no_job(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    live, store = service.live, service.store
    desk = live.market
    no = 10**6 + 7  # a round the running ticks do not reach
    now = service.clock.now_s()
    open_account(client, "alice", 1000.0)
    body = BidIn(**BID).model_dump(mode="json")
    at = service.clock.at(now)
    row = store.market.add_bid("alice", body, now, no, Admission(
        "alice", month_of(at), lambda basis: [_need(service, body, basis)]), 400.0)
    assert held(client) == pytest.approx(400.0)
    with live.lock:
        rows = desk.due_bids(no)  # the round reads the bid open ...
    r = client.delete(f"/v1/market/bids/{row.id}", headers=ALICE)  # ... then it is cancelled
    assert r.status_code == 200 and held(client) == pytest.approx(0.0)
    with live.lock:
        desk.clear_round(no, rows, now)
    got = get_bid(client, row.id)
    assert got["state"] == "cancelled" and got["result"].get("jobs", []) == []
    mine = [j for j in client.get("/v1/jobs", params={"limit": 1000},
                                  headers=ALICE).json()["jobs"]
            if j.get("market_bid") == row.id]
    assert mine == []
    assert held(client) == pytest.approx(0.0)
    rnd = client.get(f"/v1/market/rounds/{round_id_of(no)}", headers=OPS).json()
    assert rnd["matched"] and all(m["job"] is None for m in rnd["matched"])


def _need(service: Any, body: dict[str, Any], basis: str) -> Need:
    now = service.clock.now_s()
    job = Job(job_id="", tenant="alice", origin=body["origin"], kind=BidIn(**body).kind,
              units=body["units"], duration_s=body["duration_s"], submit_s=now,
              deadline_s=now + body["deadline_in_s"], data_gb=body["data_gb"])
    carbon = service.live.pricer.need(job, service.clock.at(now), basis).carbon_kg
    return Need(job.kind, job.units, job.duration_s, 400.0, carbon)
