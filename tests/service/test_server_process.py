"""SIGKILL the server while clients are submitting; restart it; nothing acknowledged is lost and
nothing is duplicated (retries carry their idempotency keys)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from svc_support import free_port, start_server

TOKEN = "tok-crash-tenant"
OPS_TOKEN = "tok-crash-ops"


def body(i: int) -> dict[str, Any]:
    return {"origin": ["bth", "yrd", "gba", "cc"][i % 4], "kind": "general", "units": 64,
            "duration_s": 600.0 + i, "deadline_in_s": 86400.0}


def test_sigkill_while_submitting_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    (tmp_path / "tokens.json").write_text(json.dumps({
        TOKEN: {"tenant": "crash", "role": "tenant"},
        OPS_TOKEN: {"tenant": "ops", "role": "operator"}}), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)

    acked: dict[str, str] = {}  # idempotency key -> job id, for every 201/200 received
    tried: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=5,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            i = 0
            while not stop.is_set():
                key = f"c{n}-{i}"
                with lock:
                    tried.append(key)
                try:
                    r = c.post("/v1/jobs", json=body(i), headers={"Idempotency-Key": key})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code in (200, 201):
                    with lock:
                        acked[key] = r.json()["id"]
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    end = time.monotonic() + 30
    while len(acked) < 150 and time.monotonic() < end:
        time.sleep(0.02)
    os.killpg(server.pid, signal.SIGKILL)  # no shutdown, no flush
    server.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 150

    server = start_server(tmp_path, port)
    try:
        with httpx.Client(base_url=url, timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for key, job_id in acked.items():  # every acknowledged job is there
                r = c.get(f"/v1/jobs/{job_id}")
                assert r.status_code == 200, (key, job_id)
            for key in tried:  # retry everything: answered with the original, never a copy
                i = int(key.split("-")[1])
                r = c.post("/v1/jobs", json=body(i), headers={"Idempotency-Key": key})
                assert r.status_code in (200, 201)
                if key in acked:
                    assert r.status_code == 200 and r.json()["id"] == acked[key]
            ids: list[str] = []
            cursor = 0
            while True:
                page = c.get("/v1/jobs", params={"limit": 1000, "cursor": cursor}).json()
                ids += [j["id"] for j in page["jobs"]]
                if page["next_cursor"] is None:
                    break
                cursor = page["next_cursor"]
        assert len(ids) == len(set(ids)) == len(set(tried))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_cli_client_submits_and_reads_back(tmp_path: Path) -> None:
    """`suanwang submit`, `jobs`, `status` and `cancel` against a real server process."""
    from typer.testing import CliRunner

    from suanwang.cli import app

    (tmp_path / "tokens.json").write_text(json.dumps({
        TOKEN: {"tenant": "cli-user", "role": "tenant"}}), encoding="utf-8")
    port = free_port()
    server = start_server(tmp_path, port)
    env = {"SUANWANG_URL": f"http://127.0.0.1:{port}", "SUANWANG_TOKEN": TOKEN}
    runner = CliRunner()
    try:
        out = runner.invoke(app, ["submit", "--origin", "yrd", "--kind", "general",
                                  "--units", "128", "--duration-s", "36000",
                                  "--deadline-in-s", "90000"], env=env)
        assert out.exit_code == 0, out.output
        assert "cli-user" in out.output
        listed = runner.invoke(app, ["jobs"], env=env)
        assert listed.exit_code == 0 and "yrd" in listed.output
        with httpx.Client(base_url=env["SUANWANG_URL"],
                          headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            job_id = c.get("/v1/jobs").json()["jobs"][0]["id"]
        shown = runner.invoke(app, ["status", job_id], env=env)
        assert shown.exit_code == 0 and "submitted" in shown.output
        cancelled = runner.invoke(app, ["cancel", job_id], env=env)
        assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
        bad = runner.invoke(app, ["submit", "--origin", "mars", "--kind", "general",
                                  "--units", "1", "--duration-s", "60",
                                  "--rtt-bound-ms", "10"], env=env)
        assert bad.exit_code == 2 and "mars" in bad.output
        nobody = runner.invoke(app, ["jobs"], env={**env, "SUANWANG_TOKEN": "wrong"})
        assert nobody.exit_code == 2 and "401" in nobody.output
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
