"""The live service's green-power ledger, on SQLite and PostgreSQL: records of closed hours,
their sums against the job's charges, the chain and its verification, tampering, tenant
isolation, certificates, a restart that carries the chain on; the Merkle log's hourly signed
checkpoints, consistency proofs, and certificates a tenant verifies offline."""

from __future__ import annotations

import json
import math
import stat
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from svc_support import ALICE, BOB, OPS, rt_job, wait_for
from typer.testing import CliRunner

from suanwang.cli import app as cli_app
from suanwang.ledger.checkpoint import open_checkpoint
from suanwang.ledger.note import Verifier
from suanwang.ledger.store import FileLedger

HOUR_S = 3600.0
UKWH = 1e-6  # the ledger's quantum
SPEED = 36000.0  # ten run hours a wall second: hours close quickly


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(speed=SPEED)


def job_state(client: TestClient, job_id: str, headers: dict[str, str] = ALICE) -> Any:
    return client.get(f"/v1/jobs/{job_id}", headers=headers).json()


def head(client: TestClient, headers: dict[str, str] = OPS) -> Any:
    return client.get("/v1/ledger/head", headers=headers).json()


def all_records(client: TestClient, headers: dict[str, str] = OPS, limit: int = 100,
                **params: Any) -> list[dict[str, Any]]:
    """Every record the caller may see, following the cursor."""
    out: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page = client.get("/v1/ledger", params={"cursor": cursor, "limit": limit, **params},
                          headers=headers)
        assert page.status_code == 200, page.text
        out += page.json()["records"]
        cursor = page.json()["next_cursor"]
    return out


def finished_and_closed(client: TestClient, job_id: str,
                        headers: dict[str, str] = ALICE) -> dict[str, Any]:
    """Wait until the job has finished and the hour it ended in has closed."""
    done = wait_for(lambda: job_state(client, job_id, headers),
                    lambda j: j["state"] == "finished")
    wait_for(lambda: head(client), lambda h: h["closed_until_s"] >= done["end_s"])
    return done


def run_job(client: TestClient, headers: dict[str, str] = ALICE, **kw: Any) -> dict[str, Any]:
    job = client.post("/v1/jobs", json=rt_job(**kw), headers=headers).json()
    return finished_and_closed(client, job["id"], headers)


def engine_of(client: TestClient) -> Any:
    return client.app.state.service.store.engine  # type: ignore[attr-defined]


# ---- records of a finished job -------------------------------------------------------------

def test_a_finished_jobs_records_cover_its_hours_and_sum_to_its_charges(
        client: TestClient) -> None:
    done = run_job(client, units=10, duration_s=2.5 * HOUR_S)
    recs = all_records(client, ALICE, job_id=done["id"])
    hours = [r["hour_start_s"] for r in recs]
    first, last = math.floor(done["start_s"] / HOUR_S), math.ceil(done["end_s"] / HOUR_S)
    assert len(recs) == last - first  # one record per hour it drew in
    assert [h - hours[0] for h in hours] == [3600 * k for k in range(len(recs))]
    assert {(r["job"], r["tenant"], r["site"], r["kind"], r["origin"]) for r in recs} == {
        (done["id"], "alice", done["site"], "intelligent", "bth")}
    assert [r["seq"] for r in recs] == sorted(r["seq"] for r in recs)
    # the hours add up to what the job was charged, to the ledger's rounding
    # (10^-6 kWh a record; the green share to six places)
    facility = sum(Decimal(str(r["facility_kwh"])) for r in recs)
    green = sum(Decimal(str(r["green_kwh"])) for r in recs)
    assert abs(float(facility) - done["energy_kwh"]) <= 2 * UKWH * len(recs)
    assert (abs(float(green) - done["green_kwh"])
            <= 2 * UKWH * len(recs) + done["energy_kwh"] * 1e-6)
    for r in recs:
        assert Decimal(str(r["grid_kwh"])) == (Decimal(str(r["facility_kwh"]))
                                               - Decimal(str(r["green_kwh"])))
        assert 0 <= r["green_kwh"] <= r["facility_kwh"]
    # the chain verifies, and the head says where it ends
    check = client.get("/v1/ledger/verify", headers=OPS).json()
    h = head(client)
    assert check["ok"] and check["problem"] is None
    assert (check["records"], check["head"]) == (h["records"], h["head"])
    assert h["green_rule"]["name"] == "pro-rata"


def test_certificate_of_a_finished_job_and_tenant_isolation(client: TestClient) -> None:
    mine = run_job(client, ALICE, units=4, duration_s=1.5 * HOUR_S)
    theirs = run_job(client, BOB, units=2, duration_s=0.5 * HOUR_S)
    cert = client.get(f"/v1/jobs/{mine['id']}/certificate", headers=ALICE)
    assert cert.status_code == 200, cert.text
    c = cert.json()
    assert c["subject"]["job"] == mine["id"] and c["subject"]["tenant"] == "alice"
    assert c["ledger"]["verified"]
    assert (abs(c["totals"]["facility_kwh"] - mine["energy_kwh"])
            <= 2 * UKWH * len(c["records"]))
    own = all_records(client, ALICE, job_id=mine["id"])
    assert [(r["seq"], r["hash"]) for r in c["records"]] == [(r["seq"], r["hash"]) for r in own]
    page = client.get(f"/v1/jobs/{mine['id']}/certificate", params={"format": "html"},
                      headers=ALICE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert mine["id"] in page.text and "绿电" in page.text
    # another tenant's records and certificate are invisible to alice, and hers to bob
    assert {r["tenant"] for r in all_records(client, ALICE)} == {"alice"}
    assert {r["tenant"] for r in all_records(client, BOB)} == {"bob"}
    assert all_records(client, BOB, job_id=mine["id"]) == []
    # a tenant cannot widen its view: the tenant filter is the operator's
    assert {r["tenant"] for r in all_records(client, BOB, tenant="alice")} == {"bob"}
    assert client.get(f"/v1/jobs/{mine['id']}/certificate", headers=BOB).status_code == 404
    assert client.get(f"/v1/jobs/{theirs['id']}/certificate", headers=ALICE).status_code == 404
    assert {r["tenant"] for r in all_records(client, OPS)} == {"alice", "bob"}
    assert client.get("/v1/ledger/verify", headers=ALICE).status_code == 403


def test_certificate_waits_for_the_job_to_finish(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=rt_job(duration_s=50 * HOUR_S), headers=ALICE).json()
    wait_for(lambda: job_state(client, job["id"]), lambda j: j["state"] == "running")
    r = client.get(f"/v1/jobs/{job['id']}/certificate", headers=ALICE)
    assert r.status_code == 409 and "running" in r.json()["detail"]
    assert client.get("/v1/jobs/nope/certificate", headers=ALICE).status_code == 404


def test_served_lines_are_a_ledger_the_cli_verifies(client: TestClient, tmp_path: Path) -> None:
    a = client.post("/v1/jobs", json=rt_job(units=3, duration_s=1.2 * HOUR_S), headers=ALICE)
    b = client.post("/v1/jobs", json=rt_job(units=5, duration_s=0.7 * HOUR_S), headers=BOB)
    finished_and_closed(client, a.json()["id"], ALICE)
    finished_and_closed(client, b.json()["id"], BOB)
    # jobs drawing in one site-hour share its green supply pro rata: never more than the
    # hour's draw, the same green fraction for each (to the 10^-6 kWh quantum)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in all_records(client):
        groups.setdefault((r["site"], r["hour_start_s"]), []).append(r)
    for recs in groups.values():
        share = sum(r["green_kwh"] for r in recs) / sum(r["facility_kwh"] for r in recs)
        for r in recs:
            assert abs(r["green_kwh"] - share * r["facility_kwh"]) <= 1.5 * UKWH
    body, cursor = "", "0"
    while cursor:
        r = client.get("/v1/ledger", params={"format": "jsonl", "limit": 2, "cursor": cursor},
                       headers=OPS)
        assert r.status_code == 200
        body += r.text
        cursor = r.headers.get("x-next-cursor", "")
    (tmp_path / "ledger.jsonl").write_text(body, encoding="utf-8")
    assert FileLedger(tmp_path).verify().ok
    out = CliRunner().invoke(cli_app, ["ledger", "verify", str(tmp_path)])
    assert out.exit_code == 0 and "OK" in out.output, out.output


# ---- tampering -------------------------------------------------------------------------------

def test_a_line_changed_in_the_database_is_named_by_verify(client: TestClient) -> None:
    done = run_job(client, units=6, duration_s=2 * HOUR_S)
    recs = all_records(client, ALICE, job_id=done["id"])
    target = recs[1]["seq"]
    with engine_of(client).begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET line = replace(line, :a, :b) "
                          "WHERE seq = :seq"),
                     {"a": '"tenant":"alice"', "b": '"tenant":"mallory"', "seq": target})
    check = client.get("/v1/ledger/verify", headers=OPS).json()
    assert not check["ok"]
    assert check["problem"]["seq"] == target and check["records"] == target
    assert check["problem"]["job"] == done["id"]
    assert "altered" in check["problem"]["reason"]
    r = client.get(f"/v1/jobs/{done['id']}/certificate", headers=ALICE)
    assert r.status_code == 409 and "does not verify" in r.json()["detail"]


def test_a_record_cut_from_the_end_is_caught_against_the_head(client: TestClient) -> None:
    run_job(client, units=2, duration_s=0.5 * HOUR_S)
    n = head(client)["records"]
    with engine_of(client).begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE seq = :seq"), {"seq": n - 1})
    check = client.get("/v1/ledger/verify", headers=OPS).json()
    assert not check["ok"] and check["problem"]["seq"] == n - 1
    assert "deleted from the end" in check["problem"]["reason"]


# ---- restart ---------------------------------------------------------------------------------

def test_restart_carries_the_chain_on(make_client: Callable[..., TestClient]) -> None:
    first = make_client(speed=SPEED)
    job = first.post("/v1/jobs", json=rt_job(units=5, duration_s=20 * HOUR_S),
                     headers=ALICE).json()
    wait_for(lambda: all_records(first, ALICE, job_id=job["id"]), lambda recs: len(recs) >= 1)
    before = head(first)
    kept = all_records(first)
    first.__exit__(None, None, None)
    second = make_client(speed=SPEED)
    done = finished_and_closed(second, job["id"])
    after = head(second)
    recs = all_records(second)
    assert after["records"] > before["records"]
    assert recs[:len(kept)] == kept  # what was there is untouched
    assert recs[before["records"] - 1]["hash"] == before["head"]
    assert recs[before["records"]]["prev"] == before["head"]  # the chain goes on from the head
    assert [r["seq"] for r in recs] == list(range(len(recs)))
    keys = [(r["job"], r["site"], r["kind"], r["hour_start_s"]) for r in recs]
    assert len(keys) == len(set(keys))  # no hour recorded twice
    mine = [r for r in recs if r["job"] == job["id"]]
    # its hours were closed by both services, one after the other
    assert mine[0]["seq"] < before["records"] <= mine[-1]["seq"]
    hours = [r["hour_start_s"] for r in mine]
    assert hours == list(range(hours[0], hours[0] + 3600 * len(mine), 3600))  # no gap
    facility = sum(Decimal(str(r["facility_kwh"])) for r in mine)
    assert abs(float(facility) - done["energy_kwh"]) <= 2 * UKWH * len(mine)
    assert second.get("/v1/ledger/verify", headers=OPS).json()["ok"]


# ---- the Merkle log: checkpoints, proofs, certificates a tenant checks alone ----------------

@pytest.fixture
def keyed(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    """A service whose data directory (the parent of its log directory) is tmp_path: it
    generates its signing key there on the first start."""
    return make_client(speed=SPEED, log_dir=tmp_path / "logs")


def cli(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli_app, list(args))
    return out.exit_code, out.output


def test_a_checkpoint_every_closed_hour_served_to_anyone(keyed: TestClient,
                                                         tmp_path: Path) -> None:
    run_job(keyed, units=3, duration_s=1.5 * HOUR_S)
    assert stat.S_IMODE((tmp_path / "ledger.key").stat().st_mode) == 0o600
    pub = (tmp_path / "ledger.pub").read_text(encoding="ascii")
    assert keyed.get("/v1/ledger/key").text == pub  # no token needed
    # the run clock goes on (ten hours a second): read the checkpoint between two equal heads
    for _ in range(200):
        before = head(keyed)
        r = keyed.get("/v1/ledger/checkpoint")  # no token needed
        h = head(keyed)
        if h == before:
            break
    assert h == before, "the ledger head never held still for one checkpoint read"
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    cp = open_checkpoint(r.text, Verifier.parse(pub))
    assert int(r.headers["x-hour"]) == h["next_hour"] - 1
    assert cp.size == h["records"]  # the latest checkpoint covers every record
    sizes = [open_checkpoint(keyed.get("/v1/ledger/checkpoint", params={"hour": k}).text,
                             Verifier.parse(pub)).size for k in range(h["next_hour"])]
    assert sizes == sorted(sizes) and sizes[-1] == cp.size  # one per closed hour
    assert keyed.get("/v1/ledger/checkpoint", params={"hour": 10 ** 6}).status_code == 404


def test_a_tenant_verifies_its_certificate_offline_without_operator_rights(
        keyed: TestClient, tmp_path: Path) -> None:
    mine = run_job(keyed, ALICE, units=4, duration_s=1.5 * HOUR_S)
    run_job(keyed, BOB, units=2, duration_s=0.5 * HOUR_S)
    r = keyed.get(f"/v1/jobs/{mine['id']}/certificate", headers=ALICE)
    assert r.status_code == 200, r.text
    cert_path = tmp_path / "cert.json"
    cert_path.write_bytes(r.content)
    pub = tmp_path / "ledger.pub"
    code, out = cli("ledger", "verify-cert", str(cert_path), "--key", str(pub))
    assert code == 0 and f"job {mine['id']}" in out, out
    assert "no double counting" in out  # each hour's allocations within its supply
    proven = [json.loads(p["line"]) for p in r.json()["proof"]["records"]]
    assert {(x["job"], x["tenant"]) for x in proven} == {(mine["id"], "alice")}
    # one byte changed: refused, one line saying why
    text = r.content.decode("utf-8")
    i = text.index('"green_kwh":') + len('"green_kwh":')
    j = next(k for k in range(i, len(text)) if text[k].isdigit())
    bad = text[:j] + ("1" if text[j] != "1" else "2") + text[j + 1:]
    cert_path.write_text(bad, encoding="utf-8")
    code, out = cli("ledger", "verify-cert", str(cert_path), "--key", str(pub))
    assert code == 1 and out.startswith("FAILED") and out.count("\n") == 1, out
    # the month's certificate of the caller: her records only
    month = proven[0]["hour"][:7]
    r = keyed.get("/v1/ledger/certificate", params={"period": month}, headers=ALICE)
    assert r.status_code == 200, r.text
    assert {json.loads(p["line"])["tenant"] for p in r.json()["proof"]["records"]} == {"alice"}
    cert_path.write_bytes(r.content)
    code, out = cli("ledger", "verify-cert", str(cert_path), "--key", str(pub))
    assert code == 0 and "tenant alice" in out, out
    r = keyed.get("/v1/ledger/certificate", params={"period": month, "tenant": "alice"},
                  headers=BOB)  # the tenant filter is the operator's
    assert {json.loads(p["line"])["tenant"] for p in r.json()["proof"]["records"]} == {"bob"}
    assert keyed.get("/v1/ledger/certificate", params={"period": "2024-13"},
                     headers=ALICE).status_code == 422


def test_consistency_proofs_served_and_a_rewritten_past_caught(keyed: TestClient,
                                                               tmp_path: Path) -> None:
    run_job(keyed, units=2, duration_s=0.5 * HOUR_S)
    old = keyed.get("/v1/ledger/checkpoint").text
    (tmp_path / "old.note").write_text(old, encoding="utf-8")
    run_job(keyed, units=3, duration_s=1.5 * HOUR_S)
    new = keyed.get("/v1/ledger/checkpoint").text
    (tmp_path / "new.note").write_text(new, encoding="utf-8")
    m, n = int(old.split("\n")[1]), int(new.split("\n")[1])
    assert 0 < m < n
    sizes = {"m": m, "n": n}

    def check() -> tuple[int, str]:
        proof = keyed.get("/v1/ledger/consistency",
                          params={"old": sizes["m"], "new": sizes["n"]}, headers=ALICE)
        assert proof.status_code == 200, proof.text
        (tmp_path / "proof.json").write_bytes(proof.content)
        return cli("ledger", "consistency", str(tmp_path / "old.note"),
                   str(tmp_path / "new.note"), "--proof", str(tmp_path / "proof.json"),
                   "--key", str(tmp_path / "ledger.pub"))

    code, out = check()
    assert code == 0 and "extends the log" in out, out
    # a forger rewrites the first record (its hash too) and lets the log carry on from the
    # rewritten records: every checkpoint from now on is signed over the rewritten past
    live = keyed.app.state.service.live  # type: ignore[attr-defined]
    with live.lock, engine_of(keyed).begin() as conn:  # not while an hour is closing
        conn.execute(text("UPDATE ledger_entries SET hash = :h WHERE seq = 0"),
                     {"h": "ab" * 32})
        conn.execute(text("DELETE FROM ledger_checkpoints"))
    verify = keyed.get("/v1/ledger/verify", headers=OPS).json()
    assert not verify["ok"]  # the operator's own check sees it
    run_job(keyed, units=1, duration_s=0.5 * HOUR_S)
    new = keyed.get("/v1/ledger/checkpoint").text
    (tmp_path / "new.note").write_text(new, encoding="utf-8")
    sizes["n"] = n = int(new.split("\n")[1])
    code, out = check()  # the tenant's old checkpoint catches it
    assert code == 1 and "does not extend" in out.replace("\n", " "), out
    assert keyed.get("/v1/ledger/consistency", params={"old": n, "new": m},
                     headers=ALICE).status_code == 422
