"""`suanwang market ...` as a user runs it against a served service: a tenant bids, sees its
bid matched in a round with the job made and its bill, the rounds and one round's prices, and
a day of posted prices; a bid without a limit is refused naming the options."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator

import httpx
import pytest
from svc_support import free_port, start_server, wait_for
from typer.testing import CliRunner

from suanwang.cli import app

TENANT_TOKEN = "tok-mkt-tenant"
OPS_TOKEN = "tok-mkt-ops"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("mkt-data")
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
    env = {"COLUMNS": "220", "SUANWANG_CLIENT": "/nonexistent/client.json",
           "SUANWANG_URL": url, "SUANWANG_TOKEN": token}
    out = CliRunner().invoke(app, list(args), env=env)
    return out.exit_code, out.output


def test_a_tenant_bids_sees_its_fill_the_round_and_posted_prices(server: str) -> None:
    code, out = run(server, TENANT_TOKEN, "market", "bid", "--origin", "yrd", "--kind",
                    "general", "--units", "8", "--duration-s", "1800", "--deadline-in-s",
                    "86400", "--limit", "40")
    assert code == 0, out
    bid_id = re.search(r"bid (b\S+) \(open\)", out).group(1)  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {TENANT_TOKEN}"}
    wait_for(lambda: httpx.get(f"{server}/v1/market/bids/{bid_id}", headers=headers).json(),
             lambda b: b["state"] != "open", limit_s=60)
    code, out = run(server, TENANT_TOKEN, "market", "bids", bid_id)
    assert code == 0 and "(filled)" in out and "¥" in out, out
    round_id = re.search(r"r\d{7}", out).group(0)  # type: ignore[union-attr]
    code, out = run(server, TENANT_TOKEN, "market", "bids")
    assert code == 0 and bid_id in out and "filled" in out, out
    code, out = run(server, TENANT_TOKEN, "market", "rounds")
    assert code == 0 and round_id in out, out
    code, out = run(server, TENANT_TOKEN, "market", "round", round_id)
    assert code == 0 and ("seller-priced" in out or "buyer-priced" in out), out
    assert "weakly budget balanced: True" in out
    code, out = run(server, TENANT_TOKEN, "market", "prices", "--site", "qingyang",
                    "--kind", "general")
    assert code == 0 and "qingyang" in out and "general" in out, out
    assert len([x for x in out.splitlines() if "qingyang" in x]) >= 24  # a day ahead


def test_a_bid_without_a_limit_is_refused(server: str) -> None:
    code, out = run(server, TENANT_TOKEN, "market", "bid", "--origin", "yrd", "--kind",
                    "general", "--units", "8", "--duration-s", "1800", "--deadline-in-s",
                    "86400")
    assert code == 2 and "--limit" in out, out


def test_a_bid_below_every_ask_carries_over_and_the_tenant_cancels_it(server: str) -> None:
    code, out = run(server, TENANT_TOKEN, "market", "bid", "--origin", "yrd", "--kind",
                    "general", "--units", "4", "--duration-s", "1800", "--deadline-in-s",
                    "86400", "--limit", "0.0001", "--max-rounds", "500")
    assert code == 0, out
    bid_id = re.search(r"bid (b\S+) \(open\)", out).group(1)  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {TENANT_TOKEN}"}
    wait_for(lambda: httpx.get(f"{server}/v1/market/bids/{bid_id}", headers=headers).json(),
             lambda b: len(b["rounds"]) >= 2, limit_s=60)
    code, out = run(server, TENANT_TOKEN, "market", "bids", bid_id)
    assert code == 0 and "(open)" in out, out
    assert "price_below_clearing 4 -> carried_over" in out, out
    assert "0 of 4 units" in out and "4 bid again" in out, out
    code, out = run(server, TENANT_TOKEN, "market", "bids", "--state", "open")
    assert code == 0 and bid_id in out and "price_below_clearing" in out, out
    code, out = run(server, TENANT_TOKEN, "market", "cancel", bid_id)
    assert code == 0 and "(cancelled)" in out, out
    code, out = run(server, TENANT_TOKEN, "market", "cancel", bid_id)
    assert code == 2 and "409" in out and "cancelled" in out, out
