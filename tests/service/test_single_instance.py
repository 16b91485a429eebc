"""A live service's state is its own: a second `suanwang serve` on the same data directory,
database or port exits with a message and changes nothing; a restarted service re-adopts the
local jobs still running, which then finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from svc_support import free_port, serve_command, settings_for, start_server, wait_for

from suanwang.executors.local import proc_start_ticks
from suanwang.service.app import create_app
from suanwang.service.instance_lock import InstanceBusy

TOKEN = "tok-single-tenant"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def write_tokens(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tokens.json").write_text(json.dumps({
        TOKEN: {"tenant": "single", "role": "tenant"},
        "tok-single-ops": {"tenant": "ops", "role": "operator"}}), encoding="utf-8")


def batch_body(duration_s: float) -> dict[str, Any]:
    return {"origin": "yrd", "kind": "general", "units": 16, "duration_s": duration_s,
            "deadline_in_s": 10 * duration_s}


def job_pid(job: dict[str, Any]) -> int:
    return int(job["exec_handle"].rsplit("@", 1)[1].split(":")[0])


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is not: the service's parent may be gone)."""
    found = proc_start_ticks(pid)
    return found is not None and found[1] != "Z"


@pytest.fixture
def stop_later() -> Iterator[Callable[[subprocess.Popen[bytes]], subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def keep(p: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        procs.append(p)
        return p

    yield keep
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)


def test_a_second_service_exits_and_leaves_the_live_one_alone(
        tmp_path: Path, stop_later: Callable[..., Any]) -> None:
    data = tmp_path / "data"
    write_tokens(data)
    port = free_port()
    live = stop_later(start_server(data, port, "--executor", "local"))
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as c:
        j = c.post("/v1/jobs", json=batch_body(1800)).json()  # 30 wall seconds at x60
        running = wait_for(lambda: c.get(f"/v1/jobs/{j['id']}").json(),
                           lambda x: x["state"] == "running" and x["exec_handle"])
        pid = job_pid(running)
        assert alive(pid)
        events_before = c.get(f"/v1/jobs/{j['id']}/events").json()

        # the same data directory, another port
        second = subprocess.run(serve_command(data, free_port(), "--executor", "local"),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert "in use by another suanwang service" in second.stderr
        assert f"pid {live.pid}" in second.stderr  # it names the live one
        assert "serving on" not in second.stdout

        # another data directory, the live one's port
        other = tmp_path / "other"
        write_tokens(other)
        third = subprocess.run(serve_command(other, port, "--executor", "local"),
                               capture_output=True, text=True, timeout=120)
        assert third.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in third.stderr
        assert "serving on" not in third.stdout
        assert not (other / "suanwang.db").exists()

        # the live service and its job are untouched
        after = c.get(f"/v1/jobs/{j['id']}").json()
        assert after["state"] == "running" and after["exec_handle"] == running["exec_handle"]
        assert c.get(f"/v1/jobs/{j['id']}/events").json() == events_before
        assert alive(pid)


def test_a_restart_re_adopts_a_running_local_job_which_then_finishes(
        tmp_path: Path, stop_later: Callable[..., Any]) -> None:
    data = tmp_path / "data"
    write_tokens(data)
    port = free_port()
    server = start_server(data, port, "--executor", "local")
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as c:
        j = c.post("/v1/jobs", json=batch_body(1500)).json()  # 25 wall seconds at x60
        running = wait_for(lambda: c.get(f"/v1/jobs/{j['id']}").json(),
                           lambda x: x["state"] == "running" and x["exec_handle"])
    pid = job_pid(running)
    os.killpg(server.pid, signal.SIGKILL)  # the service dies without a word
    server.wait()
    assert alive(pid)  # the job is a process of its own

    stop_later(start_server(data, port, "--executor", "local"))
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as c:
        now = c.get(f"/v1/jobs/{j['id']}").json()
        assert now["state"] == "running" and now["exec_handle"] == running["exec_handle"]
        done = wait_for(lambda: c.get(f"/v1/jobs/{j['id']}").json(),
                        lambda x: x["state"] != "running", limit_s=60)
        events = c.get(f"/v1/jobs/{j['id']}/events").json()
    assert done["state"] == "finished", events
    assert done["exit_code"] == 0 and done["attempts"] == 0
    assert done["end_s"] - done["start_s"] == pytest.approx(1500, abs=120)  # its real run
    assert not any("lost" in e["reason"] for e in events)
    assert not alive(pid)


def test_a_second_service_on_one_database_is_refused(
        make_client: Callable[..., TestClient], db: tuple[str, str | None]) -> None:
    first = make_client()
    with pytest.raises(InstanceBusy, match="in use by another suanwang service"):
        create_app(settings_for(db))
    assert first.get("/healthz").status_code == 200
    first.__exit__(None, None, None)  # once it stops, the database is free again
    again = create_app(settings_for(db))
    again.state.service.stop()
