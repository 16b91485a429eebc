"""Posted prices in the live service from the planner's capacity duals (issue 13 item 1), and a
tenant accepting the posted price: on the tiny network with providers `cheap` and `dear` at
every site (intelligent cards: local 8, west 10, mid 6, half each), SQLite and PostgreSQL.

- queued work that oversubscribes the cheapest slices raises their posted price (scarcity
  from the lp_dual source), shown by `GET /v1/market/prices` and `suanwang market prices`;
- a job submitted with `accept_posted_price` is placed as any other and billed at its posted
  quote x unit-hours + egress; the account's debit and the invoice lines say the same amount
  and that it was at the posted price;
- bad input naming the field: accept_posted_price with max_bill_yuan, and the serve flags."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, OPS, wait_for
from typer.testing import CliRunner

from suanwang import cli_client
from suanwang.cli import app
from suanwang.market.posted import ALPHA, UTILISATION, PostedRule
from suanwang.network.loader import parse_network
from suanwang.pricing.tariff import CHINA_TZ

HOUR = 3600.0


@pytest.fixture
def make_tiny(make_client: Callable[..., TestClient], tiny_doc: dict[str, Any],
              provider_doc: Callable[..., dict[str, Any]]) -> Callable[..., TestClient]:
    """A service on the tiny network with two providers at every site."""
    def make(**kw: Any) -> TestClient:
        doc = provider_doc(copy.deepcopy(tiny_doc))
        return make_client(network=parse_network(doc, "<tiny>"), **kw)

    return make


CLI_ENV = {"COLUMNS": "220", "SUANWANG_URL": "http://cli", "SUANWANG_TOKEN": "tok-alice",
           "SUANWANG_CLIENT": "/nonexistent/client.json"}


def _route_cli(c: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's HTTP calls answered by the test service `c`."""
    def request(method: str, url: str, **kw: Any) -> httpx.Response:
        kw.pop("timeout", None)
        return c.request(method, url.replace("http://cli", ""), **kw)

    monkeypatch.setattr(cli_client.httpx, "request", request)


def _prices(c: TestClient) -> dict[str, Any]:
    return c.get("/v1/market/prices", headers=ALICE).json()


def test_queued_work_on_the_cheapest_slices_raises_their_posted_price(
        make_tiny: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_tiny()
    first = wait_for(lambda: _prices(c), lambda d: bool(d["prices"]))
    assert first["scarcity_source"] == "lp_dual" and first["yuan_per_t_co2"] == 100.0
    assert all(p["scarcity_yuan_per_unit_h"] == pytest.approx(0.0, abs=1e-9)
               for p in first["prices"])  # nothing waits: every price at its floor
    # 24 cards run for 6 hours; 20 more one-card jobs wait and must end within 14 hours:
    # more than the cheapest site can take after the first ones end
    job = {"origin": "east", "kind": "intelligent", "units": 1, "duration_s": 6 * HOUR,
           "deadline_in_s": 14 * HOUR}
    r = c.post("/v1/jobs/batch", json={"jobs": [job] * 44}, headers=ALICE)
    assert r.status_code == 201, r.text

    def scarce(d: dict[str, Any]) -> bool:
        return any(p["scarcity_yuan_per_unit_h"] > 1e-6 for p in d["prices"])

    got = wait_for(lambda: _prices(c), scarce)
    assert got["model"]["status"] == "optimal" and got["model"]["jobs"] >= 1
    assert got["model"]["slices_with_positive_dual"] >= 1
    for p in got["prices"]:
        assert p["floor_yuan_per_unit_h"] - 1e-9 <= p["price_yuan_per_unit_h"] \
            <= (1 + ALPHA) * p["floor_yuan_per_unit_h"] + 1e-9
    up = max(got["prices"], key=lambda p: p["scarcity_yuan_per_unit_h"])

    # the CLI shows the same (its HTTP calls answered by this service)
    _route_cli(c, monkeypatch)
    out = CliRunner().invoke(app, ["market", "prices", "--site", up["site"], "--provider",
                                   up["provider"], "--kind", "intelligent"], env=CLI_ENV)
    assert out.exit_code == 0, out.output
    assert "scarcity source lp_dual" in out.output
    cells = [[x.strip() for x in line.split("│") if x.strip()]
             for line in out.output.splitlines() if up["site"] in line]
    shown = [float(row[6]) for row in cells if len(row) >= 9]  # the scarcity column
    assert shown and max(shown) > 0, out.output


def test_a_job_accepting_the_posted_price_is_billed_at_it(
        make_tiny: Callable[..., TestClient]) -> None:
    c = make_tiny()
    r = c.post("/v1/accounts", json={"tenant": "alice", "balance_yuan": 1000.0}, headers=OPS)
    assert r.status_code == 201, r.text
    wait_for(lambda: _prices(c), lambda d: bool(d["prices"]))
    body = {"origin": "east", "kind": "intelligent", "units": 2, "duration_s": 1800.0,
            "deadline_in_s": 86400.0, "data_gb": 3.0, "accept_posted_price": True}
    r = c.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert r.json()["accept_posted_price"] is True
    job = wait_for(lambda: c.get(f"/v1/jobs/{job_id}", headers=ALICE).json(),
                   lambda j: j["state"] in ("finished", "failed"))
    assert job["state"] == "finished", job
    quote = job["market_price_yuan_per_unit_h"]
    assert quote is not None and job["market_round"] == "posted"
    # the quote is the posted price of its slice over the hours it computed in
    start = c.app.state.service.clock.start_utc  # type: ignore[attr-defined]
    rows = c.get("/v1/market/prices", params={
        "site": job["site"], "provider": job["provider"], "kind": "intelligent",
        "from": (start + timedelta(seconds=job["start_s"] // HOUR * HOUR)).isoformat(),
        "to": (start + timedelta(seconds=job["end_s"] // HOUR * HOUR + HOUR)).isoformat()},
        headers=ALICE).json()["prices"]
    by_hour = {p["hour"]: p["price_yuan_per_unit_h"] for p in rows}
    s0, s1 = job["start_s"], job["end_s"]
    want = sum(by_hour[h] * (min(s1, (h + 1) * HOUR) - max(s0, h * HOUR))
               for h in range(int(s0 // HOUR), int(-(-s1 // HOUR)))) / (s1 - s0)
    assert quote == pytest.approx(want, rel=1e-9)
    unit_h = job["units"] * (s1 - s0) / HOUR
    assert job["bill_yuan"] == pytest.approx(quote * unit_h + job["egress_yuan"])
    assert job["egress_yuan"] > 0

    acct = wait_for(lambda: c.get("/v1/accounts/alice", headers=ALICE).json(),
                    lambda a: a["jobs_holding"] == 0)
    assert acct["balance_yuan"] == pytest.approx(1000.0 - job["bill_yuan"])
    entries = c.get("/v1/accounts/alice/entries", headers=ALICE).json()["entries"]
    [settle] = [e for e in entries if e["what"] == "settle" and e["job_id"] == job_id]
    assert settle["yuan"] == pytest.approx(-job["bill_yuan"])
    assert "at the posted price" in settle["note"]

    months = {f"{(start + timedelta(seconds=s)).astimezone(CHINA_TZ):%Y-%m}" for s in (s0, s1)}
    lines = [x for m in sorted(months)
             for x in c.get(f"/v1/invoices/alice/{m}", headers=ALICE).json()["lines"]
             if x["ResourceId"] == job_id]
    assert sum(x["BilledCost"] for x in lines) == pytest.approx(job["bill_yuan"])
    usage = [x for x in lines if x["ServiceCategory"] == "Compute"]
    assert usage and all(x["SkuPriceId"] == "posted-price" for x in usage)
    assert all("posted price" in x["ChargeDescription"] for x in usage)
    assert all(x["ListUnitPrice"] == pytest.approx(quote) for x in usage)


def test_under_the_utilisation_source_an_accepting_job_pays_the_raised_posted_price(
        make_tiny: Callable[..., TestClient]) -> None:
    """15 of the 20 general cores `cheap` sells at `local` (the only site within 1 ms of
    east) are held for 10 hours: booked 75 %, the posted price climbs toward 1.375 x the floor;
    a job accepting it is billed above the list price, at its quote."""
    c = make_tiny(posted_rule=PostedRule(UTILISATION))
    local = {"origin": "east", "kind": "general", "rtt_bound_ms": 1.0,
             "providers_allow": ["cheap"]}
    r = c.post("/v1/jobs", json={**local, "units": 15, "duration_s": 10 * HOUR},
               headers=ALICE)
    assert r.status_code == 201, r.text
    where = {"site": "local", "provider": "cheap", "kind": "general"}

    def raised(d: dict[str, Any]) -> bool:
        now = int(c.app.state.service.clock.now_s() // HOUR)  # type: ignore[attr-defined]
        return any(p["hour"] == now and p["scarcity_yuan_per_unit_h"]
                   > 0.2 * p["floor_yuan_per_unit_h"] for p in d["prices"])

    got = wait_for(lambda: c.get("/v1/market/prices", params=where, headers=ALICE).json(),
                   raised)
    assert got["scarcity_source"] == "utilisation"
    r = c.post("/v1/jobs", json={**local, "units": 2, "duration_s": 1200.0, "data_gb": 1.0,
                                 "accept_posted_price": True}, headers=ALICE)
    assert r.status_code == 201, r.text
    job = wait_for(lambda: c.get(f"/v1/jobs/{r.json()['id']}", headers=ALICE).json(),
                   lambda j: j["state"] in ("finished", "failed"))
    assert job["state"] == "finished" and job["site"] == "local", job
    floor = got["prices"][0]["floor_yuan_per_unit_h"]  # flat list price
    quote = job["market_price_yuan_per_unit_h"]
    assert 1.2 * floor < quote <= (1 + ALPHA) * floor + 1e-9
    unit_h = job["units"] * (job["end_s"] - job["start_s"]) / HOUR
    assert job["bill_yuan"] == pytest.approx(quote * unit_h + job["egress_yuan"])
    assert job["bill_yuan"] > floor * unit_h + job["egress_yuan"]  # above the list bill


def test_submit_accept_posted_sends_the_acceptance(
        make_tiny: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_tiny()
    _route_cli(c, monkeypatch)
    out = CliRunner().invoke(app, ["submit", "--origin", "east", "--kind", "intelligent",
                                   "--units", "1", "--duration-s", "600", "--deadline-in-s",
                                   "86400", "--accept-posted"], env=CLI_ENV)
    assert out.exit_code == 0, out.output
    [job] = c.get("/v1/jobs", headers=ALICE).json()["jobs"]
    assert job["accept_posted_price"] is True and job["market_round"] == "posted"


def test_accepting_the_posted_price_with_a_bill_cap_is_refused_naming_the_fields(
        make_tiny: Callable[..., TestClient]) -> None:
    c = make_tiny()
    r = c.post("/v1/jobs", json={"origin": "east", "kind": "intelligent", "units": 1,
                                 "duration_s": 600.0, "deadline_in_s": 3600.0,
                                 "accept_posted_price": True, "max_bill_yuan": 5.0},
               headers=ALICE)
    assert r.status_code == 422
    assert "accept_posted_price" in r.text and "max_bill_yuan" in r.text


@pytest.mark.parametrize(("args", "named"), [
    (["--posted-yuan-per-t-co2", "-1"], "--posted-yuan-per-t-co2"),
    (["--posted-scarcity-source", "bids"], "--posted-scarcity-source"),
])
def test_serve_refuses_a_bad_posted_rule_naming_the_option(
        args: list[str], named: str, tmp_path: Any) -> None:
    out = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path), "--port", "1", *args])
    assert out.exit_code == 2
    assert named in out.output
