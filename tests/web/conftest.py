"""Fixtures of the browser tests: a real `suanwang serve` process on a free loopback port and
Debian's Chromium driven by Playwright (never `playwright install`: no browser is downloaded).

`.ci/run` installs the `chromium` package; where it or Playwright is missing, the browser tests
are skipped with the reason (and fail under CI=true, where both must be there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import OPS_TOKEN, TENANT_TOKEN, Server, Traffic, free_port

CHROMIUM = os.environ.get("SUANWANG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`suanwang serve` on a fresh SQLite file: the national network, policy `greenest`, the
    clock at x60, no demo stream (the tests' jobs are the only ones)."""
    data = tmp_path_factory.mktemp("web-server")
    (data / "tokens.json").write_text(json.dumps({
        OPS_TOKEN: {"tenant": "ops", "role": "operator"},
        TENANT_TOKEN: {"tenant": "acme", "role": "tenant"}}), encoding="utf-8")
    port = free_port()
    cmd = [sys.executable, "-m", "suanwang.cli", "serve", "--port", str(port),
           "--data-dir", str(data), "--policy", "greenest", "--speed", "60",
           "--token-file", str(data / "tokens.json")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"server exited with {proc.returncode}: {err[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > end:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("server did not come up")
        time.sleep(0.1)
    try:
        yield Server(url, port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # in CI (.ci/run installs both) a missing browser is a failure, not a skip
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[tuple[Any, Traffic]]:
    """A fresh browser context (empty localStorage) on a laptop-sized window, with motion
    reduced (the page then draws no animations)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900},
                                  reduced_motion="reduce", device_scale_factor=1)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    traffic = Traffic(server.url)
    traffic.watch(pg)
    try:
        yield pg, traffic
    finally:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

