"""The call auction in split mode (PostgreSQL): a bid posted to an API replica is cleared by
the leading scheduler's tick, its job runs and the replica serves the round."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from svc_support import free_port, wait_for

PG_URL = os.environ.get("SUANWANG_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
TOKENS = '{"tok-mr": {"tenant": "mr", "role": "tenant"}}'
HEADERS = {"Authorization": "Bearer tok-mr"}
BID = {"origin": "gba", "kind": "general", "units": 12, "duration_s": 1200.0,
       "deadline_in_s": 86400.0, "limit_yuan_per_unit_h": 40.0}


@pytest.fixture
def split(tmp_path: Path) -> Iterator[str]:
    """An API replica's URL, with a leading scheduler, on a fresh PostgreSQL schema."""
    schema = f"sw_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    (tmp_path / "tokens.json").write_text(TOKENS, encoding="utf-8")
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, role: str, *extra: str) -> subprocess.Popen[bytes]:
        out = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "suanwang.cli", role, "--db", url, "--data-dir",
             str(tmp_path / name), "--policy", "greenest", "--speed", "3600",
             "--token-file", str(tmp_path / "tokens.json"), *extra],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        start("sched", "scheduler", "--tick-s", "0.05")
        port = free_port()
        api = start("api", "api", "--port", str(port))
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if api.poll() is not None:
                pytest.fail((tmp_path / "api.log").read_text(errors="replace")[-2000:])
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, bool, limit_s=60)
        yield base
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_the_leader_clears_a_bid_posted_to_a_replica(split: str) -> None:
    r = httpx.post(f"{split}/v1/market/bids", json=BID, headers=HEADERS, timeout=10)
    assert r.status_code == 201, r.text
    bid_id = r.json()["id"]
    done = wait_for(lambda: httpx.get(f"{split}/v1/market/bids/{bid_id}", headers=HEADERS,
                                      timeout=10).json(),
                    lambda b: b["state"] != "open", limit_s=60)
    assert done["state"] == "filled", done
    job_id = done["result"]["jobs"][0]["job"]
    job = wait_for(lambda: httpx.get(f"{split}/v1/jobs/{job_id}", headers=HEADERS,
                                     timeout=10).json(),
                   lambda j: j["state"] == "finished", limit_s=60)
    assert job["market_round"] == done["round_id"]
    rnd = httpx.get(f"{split}/v1/market/rounds/{done['round_id']}", headers=HEADERS,
                    timeout=10).json()
    assert rnd["matched"] and rnd["ledger_seq"] is not None
