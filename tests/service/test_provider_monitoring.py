"""Multi-cloud monitoring (issue 12 item 5) on a one-site network whose figures are worked out
by hand: `/v1/providers` (units, jobs, revenue, measured SLA beside the promised one), what a
tenant sees, the `provider` label in /metrics, and availability from recorded health
transitions.

The network is the tiny one cut to its `west` site, with providers `cheap` and `dear` holding
half of every pool (5 of its 10 cards each). At west a card-hour costs cheap 8 yuan (10 x 0.8)
plus 2 yuan per GB of input, dear 9.6 yuan and no egress; both promise 99.9 % availability and
a start within 60 s. Input data from `east` crosses a 40 Gbps link: 45 GB takes 9 s, 450 GB
90 s (beyond the promise).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, OPS, wait_for

from suanwang.executors.registry import BACKENDS, register_backend
from suanwang.model import Network
from suanwang.network.loader import parse_network
from suanwang.service import health_log


@pytest.fixture
def west_net(tiny_doc: dict[str, Any], provider_doc: Callable[..., dict[str, Any]]) -> Network:
    doc = provider_doc(copy.deepcopy(tiny_doc))
    doc["sites"] = [s for s in doc["sites"] if s["id"] == "west"]
    doc["latency"] = [x for x in doc["latency"] if x["site"] == "west"]
    return parse_network(doc, "<west with two providers>")


@pytest.fixture
def make_west(make_client: Callable[..., TestClient], west_net: Network
              ) -> Callable[..., TestClient]:
    def make(**kw: Any) -> TestClient:
        return make_client(network=west_net, **kw)

    return make


def job(units: int, hours: float, data_gb: float, provider: str) -> dict[str, Any]:
    return {"origin": "east", "kind": "intelligent", "units": units,
            "duration_s": hours * 3600.0, "deadline_in_s": max(86400.0, 2 * hours * 3600.0),
            "data_gb": data_gb,
            "providers_allow": [provider]}


def metric(text: str, series: str) -> float:
    """The value of one series in /metrics text (sums of floats: compared approximately)."""
    line = next(x for x in text.splitlines() if x.startswith(series + " "))
    return float(line.rsplit(" ", 1)[1])


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in body["providers"]}


def test_figures_per_provider_worked_out_by_hand(
        make_west: Callable[..., TestClient]) -> None:
    c = make_west(speed=3600.0)
    ids = [c.post("/v1/jobs", json=body, headers=ALICE).json()["id"] for body in (
        job(2, 1.0, 45.0, "cheap"),    # 2 x 8 + 45 x 2 = 106 yuan, starts 9 s after placement
        job(1, 1.0, 450.0, "cheap"),   # 8 + 900 = 908 yuan, 90 s: beyond the promised 60 s
        job(1, 2.0, 45.0, "dear"),     # 2 x 9.6 = 19.2 yuan, 9 s
    )]
    done = wait_for(lambda: [c.get(f"/v1/jobs/{i}", headers=ALICE).json() for i in ids],
                    lambda js: all(j["state"] == "finished" for j in js), limit_s=120.0)
    assert [j["provider"] for j in done] == ["cheap", "cheap", "dear"]
    assert [j["bill_yuan"] for j in done] == pytest.approx([106.0, 908.0, 19.2])
    # while nothing runs: a long job holding 3 of cheap's cards, placed and started
    long = c.post("/v1/jobs", json=job(3, 500.0, 0.0, "cheap"), headers=ALICE).json()["id"]
    wait_for(lambda: c.get(f"/v1/jobs/{long}", headers=ALICE).json(),
             lambda j: j["state"] == "running", limit_s=120.0)

    r = c.get("/v1/providers", headers=OPS)
    assert r.status_code == 200, r.text
    rows = by_id(r.json())
    assert set(rows) == {"west/cheap", "west/dear"}
    cheap, dear = rows["west/cheap"], rows["west/dear"]
    cards = {u["kind"]: u for u in cheap["units"]}["intelligent"]
    assert (cards["installed_units"], cards["offered_units"], cards["busy_units"]) == (5, 5, 3)
    assert {u["kind"]: u["busy_units"] for u in dear["units"]}["intelligent"] == 0
    assert {u["kind"]: u["installed_units"] for u in dear["units"]} == {
        "general": 50, "intelligent": 5, "hpc": 1}
    assert cheap["jobs"] == {"placed": 0, "running": 1, "finished": 2}
    assert dear["jobs"] == {"placed": 0, "running": 0, "finished": 1}
    assert cheap["revenue_yuan"] == pytest.approx(106.0 + 908.0)
    assert dear["revenue_yuan"] == pytest.approx(19.2)
    assert cheap["sla"]["promised"] == {"availability": 0.999, "start_s": 60.0}
    m = cheap["sla"]["measured"]
    # three started jobs: 9 s, 90 s and 0 s (no input) -> p50 9 s, p95 90 s, 2 of 3 in time
    assert m["start_samples"] == 3
    assert (m["start_p50_s"], m["start_p95_s"]) == pytest.approx((9.0, 90.0))
    assert m["start_within_share"] == pytest.approx(2 / 3)
    assert m["availability"] == 1.0 and m["down_s"] == 0.0  # the clock backend never fails
    d = dear["sla"]["measured"]
    assert (d["start_samples"], d["start_within_share"]) == (1, 1.0)
    assert d["start_p50_s"] == pytest.approx(9.0)
    national = {n["provider"]: n for n in r.json()["national"]}
    assert national["cheap"]["sites"] == ["west"]
    assert national["cheap"]["revenue_yuan"] == pytest.approx(1014.0)
    assert national["cheap"]["sla"]["measured"]["start_p95_s"] == pytest.approx(90.0)

    one = c.get("/v1/providers/west/dear", headers=OPS)
    assert one.status_code == 200 and one.json()["revenue_yuan"] == pytest.approx(19.2)

    # a tenant sees the public figures: units and the service level, not jobs nor revenue
    pub = by_id(c.get("/v1/providers", headers=ALICE).json())["west/cheap"]
    assert pub["jobs"] is None and pub["revenue_yuan"] is None
    assert pub["sla"]["measured"]["start_p95_s"] == pytest.approx(90.0)
    assert {u["kind"]: u["busy_units"] for u in pub["units"]}["intelligent"] == 3

    text = c.get("/metrics").text
    assert ('suanwang_provider_busy_units{kind="intelligent",provider="cheap",site="west"} 3.0'
            in text)
    # (bills are summed hour by hour, times are differences of run seconds: their last
    # digits depend on where the hours fall)
    assert metric(text, 'suanwang_provider_revenue_yuan_total{provider="dear",site="west"}'
                  ) == pytest.approx(19.2)
    assert 'suanwang_provider_jobs{provider="cheap",site="west",state="finished"} 2.0' in text
    assert metric(text, 'suanwang_provider_time_to_start_seconds{provider="cheap",'
                        'quantile="0.95",site="west"}') == pytest.approx(90.0)
    assert 'suanwang_provider_availability_ratio{provider="cheap",site="west"} 1.0' in text


def test_unknown_site_or_provider_is_a_404_naming_it(
        make_west: Callable[..., TestClient]) -> None:
    c = make_west()
    r = c.get("/v1/providers/nowhere/cheap", headers=ALICE)
    assert r.status_code == 404 and "no site nowhere" in r.text
    r = c.get("/v1/providers/west/huawei", headers=ALICE)
    assert r.status_code == 404
    assert "huawei does not sell at west" in r.text and "cheap, dear" in r.text
    assert c.get("/v1/providers").status_code == 401
    paths = c.get("/openapi.json").json()["paths"]
    assert "/v1/providers" in paths and "/v1/providers/{site_id}/{provider_id}" in paths
    assert "404" in paths["/v1/providers/{site_id}/{provider_id}"]["get"]["responses"]


# ---- availability from the backend's health ------------------------------------------------

def _flaky_executor(log_dir: Path) -> Any:
    from suanwang.executors.base import BackendUnavailable
    from suanwang.executors.local import LocalExecutor

    class Flaky(LocalExecutor):
        """A local executor whose backend is off until `Flaky.up` (a stopped controller)."""

        name = "flaky"
        up = False

        def submit(self, spec: Any) -> str:
            if not Flaky.up:
                raise BackendUnavailable("connection refused")
            return super().submit(spec)

        def healthy(self) -> bool:
            return Flaky.up

    return Flaky(log_dir)


def test_measured_availability_follows_the_recorded_health_transitions(
        make_west: Callable[..., TestClient], tmp_path: Path) -> None:
    made: list[Any] = []
    register_backend("flaky", lambda cfg, log_dir: made.append(_flaky_executor(log_dir))
                     or made[-1])
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text("sites:\n  west: {backend: flaky}\n", encoding="utf-8")
    try:
        c = make_west(speed=3600.0, deployment_path=deployment, log_dir=tmp_path / "logs")
        store = c.app.state.service.store
        c.post("/v1/jobs", json=job(1, 1.0, 0.0, "dear"), headers=ALICE)
        wait_for(lambda: c.get("/v1/providers/west/dear", headers=ALICE).json(),
                 lambda p: p["healthy"] is False, limit_s=60.0)
        type(made[0]).up = True  # the backend answers again
        wait_for(lambda: [e.healthy for e in health_log.read_log(store)],
                 lambda hs: hs == [False, True], limit_s=60.0)
        down_at, up_at = (e.at_s for e in health_log.read_log(store))
        assert up_at > down_at
        p = wait_for(lambda: c.get("/v1/providers/west/dear", headers=ALICE).json(),
                     lambda p: p["healthy"] is True)
        m = p["sla"]["measured"]
        assert m["down_s"] == pytest.approx(up_at - down_at)
        assert m["window_s"] > up_at
        assert m["availability"] == pytest.approx(1.0 - (up_at - down_at) / m["window_s"])
        assert p["sla"]["promised"]["availability"] == 0.999
    finally:
        BACKENDS.pop("flaky", None)


@pytest.mark.parametrize(("log", "start", "now", "down"), [
    ([], 0.0, 100.0, 0.0),                                             # never down
    ([("w", 10.0, False), ("w", 30.0, True)], 0.0, 100.0, 20.0),       # one outage
    ([("w", 10.0, False)], 0.0, 100.0, 90.0),                          # still down now
    ([("w", 10.0, False), ("w", 30.0, True), ("w", 50.0, False), ("w", 60.0, True)],
     0.0, 100.0, 30.0),                                                # two outages
    ([("w", 10.0, False), ("x", 20.0, False), ("w", 30.0, True)], 0.0, 100.0, 20.0),
    ([("w", 10.0, False), ("w", 30.0, True)], 20.0, 100.0, 10.0),      # window cuts it
])
def test_down_time_of_a_health_log(log: list[tuple[str, float, bool]], start: float,
                                   now: float, down: float) -> None:
    entries = [health_log.HealthTransition(s, t, h, "") for s, t, h in log]
    assert health_log.down_s(entries, "w", start, now) == pytest.approx(down)
    assert health_log.availability(entries, "w", start, now) == pytest.approx(
        1.0 - down / (now - start))


def test_the_health_log_is_persisted_and_a_restart_closes_an_open_outage(
        db: tuple[str, str | None]) -> None:
    from suanwang.service.db import make_engine
    from suanwang.service.store import Store

    store = Store(make_engine(*db))
    try:
        health_log.append(store, health_log.HealthTransition("w", 10.0, False, "refused"))
        health_log.append(store, health_log.HealthTransition("x", 12.0, False, "refused"))
        health_log.append(store, health_log.HealthTransition("x", 15.0, True, "back"))
        health_log.close_open_downs(store, 40.0, "restart")
        log = health_log.read_log(store)
        assert [(e.site, e.at_s, e.healthy) for e in log] == [
            ("w", 10.0, False), ("x", 12.0, False), ("x", 15.0, True), ("w", 40.0, True)]
        assert health_log.down_s(log, "w", 0.0, 100.0) == pytest.approx(30.0)
        assert health_log.down_s(log, "x", 0.0, 100.0) == pytest.approx(3.0)
    finally:
        store.engine.dispose()
