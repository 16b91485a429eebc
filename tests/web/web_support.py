"""Helpers of the browser tests: tokens, the server under test, the page's traffic, waiting."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

OPS_TOKEN = "tok-web-ops"
TENANT_TOKEN = "tok-web-tenant"


def until(fetch: Callable[[], Any], done: Callable[[Any], bool], limit_s: float = 30.0) -> Any:
    """Poll `fetch()` until `done` says so; fail with the last value after `limit_s` (a bound
    on waiting for something that must happen, not a timing assertion)."""
    end = time.monotonic() + limit_s
    value = fetch()
    while not done(value):
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting; last value: {value}")
        time.sleep(0.1)
        value = fetch()
    return value


@dataclass
class Server:
    url: str
    port: int

    def client(self, token: str = OPS_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10,
                            headers={"Authorization": f"Bearer {token}"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Traffic:
    """Every request the page made, and what went wrong: failed requests, HTTP errors,
    console errors, uncaught exceptions."""

    allowed_origin: str
    urls: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("request", lambda r: self.urls.append(r.url))
        # net::ERR_ABORTED is the browser cancelling a request still in flight because the
        # page itself reloaded, navigated or closed (the grid panel's flexibility curve takes
        # a projection to answer): not a failure of the server's
        page.on("requestfailed", lambda r: "ERR_ABORTED" not in str(r.failure)
                and self.problems.append(f"failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def outside(self) -> list[str]:
        """Requests that left this server (data: and blob: URLs stay in the page)."""
        out = []
        for u in self.urls:
            parts = urlsplit(u)
            if parts.scheme in ("data", "blob"):
                continue
            if f"{parts.scheme}://{parts.netloc}" != self.allowed_origin:
                out.append(u)
        return out
