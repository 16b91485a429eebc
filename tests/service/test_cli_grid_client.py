"""`suanwang grid post | list | show | cancel | report | flex` against a real server process
(the bundled network, a token of the `grid` role)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from svc_support import free_port, start_server
from typer.testing import CliRunner

from suanwang.cli import app

GRID_TOKEN = "tok-cli-grid"


def run(url: str, *args: str) -> tuple[int, str]:
    env = {"COLUMNS": "200", "SUANWANG_CLIENT": "/nonexistent/client.json",
           "SUANWANG_URL": url, "SUANWANG_TOKEN": GRID_TOKEN}
    out = CliRunner().invoke(app, ["grid", *args], env=env)
    return out.exit_code, out.output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("cli-grid")
    (data / "tokens.json").write_text(json.dumps({
        GRID_TOKEN: {"tenant": "sgcc", "role": "grid"},
        "tok-cli-grid-tenant": {"tenant": "t", "role": "tenant"}}), encoding="utf-8")
    port = free_port()
    proc = start_server(data, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def window(url: str, ahead_h: float, hours: float) -> tuple[str, str]:
    clock = httpx.get(f"{url}/healthz").json()
    now = datetime.fromisoformat(clock["clock"]["start_utc"]) + timedelta(
        seconds=clock["now_s"])
    start = now + timedelta(hours=ahead_h)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def test_post_list_show_report_cancel_flex(server: str) -> None:
    start, end = window(server, 2.0, 1.0)
    code, out = run(server, "post", "--kind", "cap", "--site", "guian", "--start", start,
                    "--end", end, "--target-kw", "1000", "--source", "test", "--id", "cli-cap")
    assert code == 0, out
    assert "notified" in out and "baseline guian" in out
    code, out = run(server, "list")
    assert code == 0 and "cli-cap" in out and "guian" in out
    code, out = run(server, "show", "cli-cap")
    assert code == 0 and "cap" in out
    code, out = run(server, "report", "cli-cap")
    assert code == 2 and "409" in out and "settled after its window ends" in out
    code, out = run(server, "post", "--kind", "shed", "--site", "atlantis", "--start", start,
                    "--end", end, "--target-kw", "10", "--source", "test")
    assert code == 2 and "422" in out and "atlantis" in out
    code, out = run(server, "cancel", "cli-cap")
    assert code == 0 and "cancelled" in out
    code, out = run(server, "flex", "--site", "guian", "--hours", "2")
    assert code == 0 and "shed kW" in out
    month = httpx.get(f"{server}/v1/grid/events/cli-cap",
                      headers={"Authorization": f"Bearer {GRID_TOKEN}"}).json()["month"]
    code, out = run(server, "report", month, "--format", "json")
    assert code == 0 and json.loads(out)["settled"] == 0 and "cli-cap" in out
