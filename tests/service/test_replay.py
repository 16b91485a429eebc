"""Deterministic replay (issue 16 item 4): a live session — real-time and deferrable jobs, a
cancel, a drain, a capacity cut, a restart — fed back from the scheduler's log to the same
core reproduces every decision the live scheduler took, decision by decision; a tampered log
or another network is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from svc_support import ALICE, BOB, OPS, batch_job, rt_job, wait_for
from typer.testing import CliRunner

from suanwang.cli import app as cli_app
from suanwang.network.loader import load_network
from suanwang.service.replay import ReplayError, replay

TERMINAL = ("finished", "failed", "rejected", "cancelled")


def session(make_client: Callable[..., TestClient], policy: str) -> TestClient:
    """A live session with a restart in the middle; the second service, still open."""
    first = make_client(policy=policy)
    ids = []
    for k in range(6):
        ids.append(first.post("/v1/jobs", json=rt_job(units=4 + k, duration_s=1800.0 + 600 * k),
                              headers=ALICE).json()["id"])
        ids.append(first.post("/v1/jobs", json=batch_job(units=200 + 50 * k,
                                                         deadline_in_s=20 * 3600.0),
                              headers=BOB).json()["id"])
    victim = first.post("/v1/jobs", json=batch_job(units=300, duration_s=40 * 3600.0,
                                                   deadline_in_s=80 * 3600.0),
                        headers=BOB).json()["id"]
    wait_for(lambda: first.get(f"/v1/jobs/{victim}", headers=BOB).json()["state"],
             lambda st: st != "submitted")  # the scheduler has it: its cancel is an input
    assert first.post(f"/v1/jobs/{victim}/cancel", headers=BOB).status_code == 200
    assert first.patch("/v1/sites/horinger", json={"drained": True}, headers=OPS).is_success
    ids += [first.post("/v1/jobs", json=rt_job(rtt_bound_ms=20.0), headers=ALICE).json()["id"]
            for _ in range(3)]
    assert first.patch("/v1/sites/horinger", json={"drained": False}, headers=OPS).is_success
    assert first.patch("/v1/sites/guian", json={"capacity_units": {"intelligent": 5000}},
                       headers=OPS).is_success
    first.__exit__(None, None, None)  # a restart: the next service recovers what is in flight
    second = make_client(policy=policy)
    ids += [second.post("/v1/jobs", json=batch_job(units=100, deadline_in_s=10 * 3600.0),
                        headers=BOB).json()["id"] for _ in range(4)]
    wait_for(lambda: [second.get(f"/v1/jobs/{i}", headers=OPS).json()["state"] for i in ids],
             lambda states: all(s in TERMINAL for s in states), limit_s=60)
    return second


@pytest.mark.parametrize("policy", ["greenest", "green-window", "rolling"])
def test_a_live_session_replays_decision_by_decision(
        make_client: Callable[..., TestClient], policy: str) -> None:
    live = session(make_client, policy)
    store = live.app.state.service.store  # type: ignore[attr-defined]
    log = store.scheduler_log()
    assert sum(1 for r in log if r[1] == "start") == 2  # before and after the restart
    kinds = {r[1] for r in log}
    assert {"submit", "placed", "cancel", "drain_site", "set_capacity"} <= kinds
    result = replay(store, load_network(), log)
    assert result.starts == 2 and result.decisions >= 20
    assert result.reproduced, result.differing[:3]
    # the decisions it reproduced are the ones the jobs table shows
    placed = {r["live"]["body"]["job"]: r["live"]["body"]["site"] for r in result.rows
              if r["live"] and r["live"]["kind"] == "placed"}
    for job_id, site in list(placed.items())[:10]:
        events = live.get(f"/v1/jobs/{job_id}/events", headers=OPS).json()
        assert site in [e["site"] for e in events if e["state"] == "placed"]


def test_the_cli_replays_and_a_tampered_decision_is_caught(
        make_client: Callable[..., TestClient], db: tuple[str, str | None],
        tmp_path: Path) -> None:
    live = session(make_client, "green-window")
    url, schema = db
    args = ["replay", "--db", url, "--out", str(tmp_path / "run")]
    if schema:
        args += ["--schema", schema]
    out = CliRunner().invoke(cli_app, args)
    assert out.exit_code == 0, out.output
    assert "0 differ" in " ".join(out.output.split())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["reproduced"] and summary["starts"] == 2
    assert (tmp_path / "run" / "decisions.csv").read_text(encoding="utf-8").count("\n") \
        == summary["decisions"] + 1
    # a decision the live scheduler did not take: the replay says which
    engine = live.app.state.service.store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        seq, body = conn.execute(text("SELECT seq, body FROM scheduler_log WHERE kind = 'placed' "
                                      "ORDER BY seq LIMIT 1")).one()
        changed = {**json.loads(body), "site": "atlantis"}
        conn.execute(text("UPDATE scheduler_log SET body = :b WHERE seq = :s"),
                     {"b": json.dumps(changed), "s": seq})
    out = CliRunner().invoke(cli_app, args)
    flat = " ".join(out.output.split())
    assert out.exit_code == 1 and "1 differ" in flat and "atlantis" in flat


def test_a_replay_against_another_network_is_refused(
        make_client: Callable[..., TestClient]) -> None:
    from dataclasses import replace

    live = make_client()
    live.post("/v1/jobs", json=rt_job(), headers=ALICE)
    store = live.app.state.service.store  # type: ignore[attr-defined]
    wait_for(lambda: store.scheduler_log(), lambda log: any(r[1] == "placed" for r in log))
    net = load_network()
    other = replace(net, sites=net.sites[:-1])
    with pytest.raises(ReplayError, match="another network"):
        replay(store, other, store.scheduler_log())
