"""Helpers of the service tests (tokens, job bodies, waiting for a state)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKENS = {"tok-alice": ("alice", "tenant"), "tok-bob": ("bob", "tenant"),
          "tok-ops": ("ops", "operator")}
ALICE = {"Authorization": "Bearer tok-alice"}
BOB = {"Authorization": "Bearer tok-bob"}
OPS = {"Authorization": "Bearer tok-ops"}


def settings_for(db: tuple[str, str | None], **kw: Any) -> Any:
    """Settings of a test service on database `db` = (url, schema)."""
    from suanwang.service.app import Settings

    url, schema = db
    base: dict[str, Any] = {"db_url": url, "db_schema": schema, "speed": 3600.0,
                            "tick_s": 0.02, "tokens": TOKENS, "policy": "greenest"}
    base.update(kw)
    return Settings(**base)


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool],
             limit_s: float = 20.0) -> Any:
    """Poll until `done(fetch())`; fail with the last value after `limit_s` (not a timing
    assertion: a bound on how long to wait for something that must happen)."""
    end = time.monotonic() + limit_s
    value = fetch()
    while not done(value):
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting; last value: {value}")
        time.sleep(0.05)
        value = fetch()
    return value


def rt_job(**kw: Any) -> dict[str, Any]:
    body = {"origin": "bth", "kind": "intelligent", "units": 8, "duration_s": 1800.0,
            "rtt_bound_ms": 10.0}
    body.update(kw)
    return body


def batch_job(**kw: Any) -> dict[str, Any]:
    body = {"origin": "yrd", "kind": "general", "units": 1000, "duration_s": 3600.0,
            "deadline_in_s": 86400.0, "data_gb": 10.0}
    body.update(kw)
    return body


# ---- a real server process -------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command(data_dir: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "suanwang.cli", "serve", "--port", str(port),
            "--data-dir", str(data_dir), "--policy", "greenest", "--speed", "60",
            "--token-file", str(data_dir / "tokens.json"), *extra]


def start_server(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """`suanwang serve` as a process of its own (its own session), once /healthz answers."""
    proc = subprocess.Popen(serve_command(data_dir, port, *extra), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"server exited with {proc.returncode}: {err[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not come up")


class ProcessGroup:
    """Service processes a test starts by name, each in a session of its own: killed (-9)
    one at a time, and all stopped (TERM, then KILL after 20 s) at the end."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
