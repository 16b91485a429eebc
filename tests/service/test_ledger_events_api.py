"""Event records (grid settlements, market clearings) appended to the live ledger between its
hourly closes, on SQLite and PostgreSQL: the chain, the Merkle log's checkpoints and the
certificates stay whole, and the records are served."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, OPS, rt_job, wait_for
from typer.testing import CliRunner

from suanwang.cli import app as cli_app
from suanwang.ledger.store import FileLedger
from suanwang.service.ledger_store import DbLedger

HOUR_S = 3600.0
SPEED = 36000.0  # ten run hours a wall second


def head(client: TestClient) -> Any:
    return client.get("/v1/ledger/head", headers=OPS).json()


def ledger_of(client: TestClient) -> DbLedger:
    service = client.app.state.service  # type: ignore[attr-defined]
    out: DbLedger = service.live.ledger.ledger
    return out


def run_job(client: TestClient, **kw: Any) -> dict[str, Any]:
    job = client.post("/v1/jobs", json=rt_job(**kw), headers=ALICE).json()
    done = wait_for(lambda: client.get(f"/v1/jobs/{job['id']}", headers=ALICE).json(),
                    lambda j: j["state"] == "finished")
    wait_for(lambda: head(client), lambda h: h["closed_until_s"] >= done["end_s"])
    return done


def test_events_between_hour_closes_keep_chain_checkpoints_and_certificates(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    client = make_client(speed=SPEED, log_dir=tmp_path / "logs")
    first = run_job(client, units=3, duration_s=1.5 * HOUR_S)
    ledger = ledger_of(client)
    e1 = ledger.append_event("grid_settlement", "ev-1", 2 * HOUR_S,
                             {"site": "horinger", "delivered_kwh": 120.5, "credit_yuan": 36.2})
    e2 = ledger.append_event("market_clearing", "round-7", 2 * HOUR_S + 900,
                             {"prices": {"horinger/general": 1.75}, "volume_unit_h": 40})
    assert e2.seq == e1.seq + 1 and e2.prev == e1.hash
    second = run_job(client, units=2, duration_s=0.8 * HOUR_S)  # hours close after them
    check = client.get("/v1/ledger/verify", headers=OPS).json()
    assert check["ok"], check
    assert check["checkpoint"]["tree_size"] <= check["records"]
    cp = wait_for(lambda: client.get("/v1/ledger/verify", headers=OPS).json(),
                  lambda c: c["checkpoint"]["tree_size"] > e2.seq)  # a checkpoint covers them
    assert cp["ok"], cp
    served = client.get("/v1/ledger/events", headers=ALICE).json()["events"]
    assert [(e["type"], e["ref"], e["seq"]) for e in served] == [
        ("grid_settlement", "ev-1", e1.seq), ("market_clearing", "round-7", e2.seq)]
    assert served[0]["payload"] == {"site": "horinger", "delivered_kwh": 120.5,
                                    "credit_yuan": 36.2}
    one = client.get("/v1/ledger/events", params={"type": "market_clearing",
                                                  "ref": "round-7"}, headers=ALICE).json()
    assert [e["seq"] for e in one["events"]] == [e2.seq]
    assert client.get("/v1/ledger/events", params={"type": "x"},
                      headers=ALICE).status_code == 422
    # tenants' record pages hold their energy records only; certificates still verify
    for job in (first, second):
        r = client.get(f"/v1/jobs/{job['id']}/certificate", headers=ALICE)
        assert r.status_code == 200, r.text
        (tmp_path / "cert.json").write_bytes(r.content)
        out = CliRunner().invoke(cli_app, ["ledger", "verify-cert", str(tmp_path / "cert.json"),
                                           "--key", str(tmp_path / "ledger.pub")])
        assert out.exit_code == 0, out.output
    # the whole ledger as served is one file the CLI verifies, events and all
    body, cursor = "", "0"
    while cursor:
        r = client.get("/v1/ledger", params={"format": "jsonl", "limit": 500, "cursor": cursor},
                       headers=OPS)
        body += r.text
        cursor = r.headers.get("x-next-cursor", "")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "ledger.jsonl").write_text(body, encoding="utf-8")
    assert FileLedger(tmp_path / "export").verify().ok
    assert '"type":"grid_settlement"' in body


def test_a_bad_event_is_refused_naming_the_field_and_writes_nothing(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client(speed=SPEED)
    ledger = ledger_of(client)
    before = ledger.head()
    for args, field in ((("nope", "a", 0.0, {}), "type"), (("grid_settlement", "", 0.0, {}),
                                                             "ref"),
                        (("grid_settlement", "a", -5.0, {}), "at_s"),
                        (("grid_settlement", "a", 0.0, {"x": float("inf")}), "payload")):
        with pytest.raises(ValueError, match=field):
            ledger.append_event(*args)  # type: ignore[arg-type]
    after = ledger.head()
    assert (after.records, after.head) == (before.records, before.head)
