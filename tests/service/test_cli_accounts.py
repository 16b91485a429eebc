"""The accounts, invoice and statement commands as a user runs them against a served
service: the operator opens an account and sets limits; the tenant submits with a price cap
and a provider preference, sees where the job ran, its bill, the remaining balance and a draft
invoice; a job over the balance is refused naming the limit."""

from __future__ import annotations

import csv
import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from svc_support import free_port, start_server, wait_for
from typer.testing import CliRunner

from suanwang.cli import app
from suanwang.pricing.tariff import CHINA_TZ

TENANT_TOKEN = "tok-acct-tenant"
OPS_TOKEN = "tok-acct-ops"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("acct-data")
    (data / "tokens.json").write_text(json.dumps({
        TENANT_TOKEN: {"tenant": "acme", "role": "tenant"},
        OPS_TOKEN: {"tenant": "ops", "role": "operator"}}), encoding="utf-8")
    port = free_port()
    proc = start_server(data, port, "--speed", "3600")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def run(url: str, token: str, *args: str) -> tuple[int, str]:
    env = {"COLUMNS": "200", "SUANWANG_CLIENT": "/nonexistent/client.json",
           "SUANWANG_URL": url, "SUANWANG_TOKEN": token}
    out = CliRunner().invoke(app, list(args), env=env)
    return out.exit_code, out.output


def month_now(url: str) -> str:
    clock = httpx.get(f"{url}/healthz").json()
    now = datetime.fromisoformat(clock["clock"]["start_utc"]) + timedelta(
        seconds=clock["now_s"])
    return f"{now.astimezone(CHINA_TZ):%Y-%m}"


def test_a_tenant_sees_where_its_job_ran_what_it_cost_and_its_draft_invoice(
        server: str, tmp_path: Path) -> None:
    code, out = run(server, OPS_TOKEN, "account", "create", "acme", "--balance", "500",
                    "--units-at-once", "intelligent=64", "--carbon-kg-per-month", "1000")
    assert code == 0, out
    assert "account acme" in out and "¥500.00" in out
    assert "units at once (intelligent)" in out and "0 / 64" in out
    code, out = run(server, TENANT_TOKEN, "account", "topup", "acme", "100")
    assert code != 0 and "403" in out  # a tenant does not top itself up
    code, out = run(server, TENANT_TOKEN, "submit", "--origin", "bth", "--kind",
                    "intelligent", "--units", "8", "--duration-s", "3600",
                    "--rtt-bound-ms", "5", "--max-price", "30", "--prefer", "huawei")
    assert code == 0, out
    job_id = next(w for w in out.split() if w.startswith("j0"))
    done = wait_for(lambda: run(server, TENANT_TOKEN, "status", job_id)[1],
                    lambda o: "finished" in o)
    assert "provider  huawei at jining" in done and "bill      ¥" in done
    bill = float(done.split("bill      ¥")[1].split()[0].replace(",", ""))
    code, out = run(server, TENANT_TOKEN, "account", "show", "acme")
    assert code == 0 and f"¥{500 - bill:,.2f}" in out
    month = month_now(server)
    code, out = run(server, TENANT_TOKEN, "invoice", "acme", month)
    assert code == 0, out
    assert "DRAFT" in out and job_id in out and f"¥{bill:,.2f}" in out
    target = tmp_path / "acme.csv"
    code, out = run(server, TENANT_TOKEN, "invoice", "acme", month, "--format", "csv",
                    "--out", str(target))
    assert code == 0 and target.exists()
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert {r["ResourceId"] for r in rows} == {job_id}
    assert sum(float(r["BilledCost"]) for r in rows) == pytest.approx(bill, abs=0.01)
    code, out = run(server, TENANT_TOKEN, "account", "entries", "acme")
    assert code == 0 and "settle" in out and "hold" in out and "open" in out
    code, out = run(server, OPS_TOKEN, "provider", "statement", "huawei", month)
    assert code == 0 and "jining" in out and "acme" in out


def test_a_job_over_the_balance_is_refused_with_the_limit_named(server: str) -> None:
    code, out = run(server, OPS_TOKEN, "account", "create", "poor", "--balance", "1")
    assert code == 0 and "token of the new tenant poor" in out
    token = out.split("keep it):")[1].split()[0]
    code, out = run(server, token, "submit", "--origin", "bth", "--kind", "intelligent",
                    "--units", "8", "--duration-s", "36000", "--rtt-bound-ms", "5")
    assert code == 2
    flat = " ".join(out.split())
    assert "402: tenant poor is over the balance limit by" in flat and "yuan" in flat
    code, out = run(server, OPS_TOKEN, "account", "limits", "poor", "--units-at-once",
                    "gpu=3")
    assert code == 2 and "--units-at-once 'gpu=3'" in out
    code, out = run(server, OPS_TOKEN, "invoice", "poor", "2026-13")
    assert code == 2 and "2026-13" in out
