"""Helpers of the service tests (tokens, job bodies, waiting for a state)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

TOKENS = {"tok-alice": ("alice", "tenant"), "tok-bob": ("bob", "tenant"),
          "tok-ops": ("ops", "operator")}
ALICE = {"Authorization": "Bearer tok-alice"}
BOB = {"Authorization": "Bearer tok-bob"}
OPS = {"Authorization": "Bearer tok-ops"}


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
