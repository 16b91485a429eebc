"""The HTTP API end to end, on SQLite and PostgreSQL: lifecycle on an accelerated clock,
auth and tenant isolation, idempotency, validation, operator actions, restart recovery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, BOB, OPS, batch_job, rt_job, wait_for


def job_state(client: TestClient, job_id: str, headers: dict[str, str] = ALICE) -> Any:
    return client.get(f"/v1/jobs/{job_id}", headers=headers).json()


# ---- lifecycle -----------------------------------------------------------------------------

def test_submit_is_placed_runs_and_finishes(client: TestClient) -> None:
    r = client.post("/v1/jobs", json=rt_job(duration_s=600), headers=ALICE)
    assert r.status_code == 201
    job = r.json()
    assert job["state"] == "submitted" and job["tenant"] == "alice"
    done = wait_for(lambda: job_state(client, job["id"]), lambda j: j["state"] == "finished")
    assert done["site"] in {"zhangjiakou", "jining", "horinger"}  # within 10 ms of bth
    assert done["rtt_ms"] <= 10
    assert done["end_s"] == pytest.approx(done["start_s"] + 600)
    assert done["energy_kwh"] > 0 and 0 <= done["green_kwh"] <= done["energy_kwh"]
    states = [e["state"] for e in client.get(f"/v1/jobs/{job['id']}/events",
                                             headers=ALICE).json()]
    assert states == ["submitted", "placed", "running", "finished"]
    summary = client.get("/v1/summary", headers=ALICE).json()
    assert summary["finished"] == 1
    assert summary["energy_kwh"] == pytest.approx(done["energy_kwh"])
    # the nearest site within reach of bth, what `nearest` would have used
    assert done["baseline_site"] == "zhangjiakou"
    assert summary["carbon_saved_kg"] == pytest.approx(
        done["baseline_carbon_kg"] - done["carbon_kg"])


def test_energy_of_a_finished_job_follows_the_network(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=rt_job(units=10, duration_s=3600), headers=ALICE).json()
    done = wait_for(lambda: job_state(client, job["id"]), lambda j: j["state"] == "finished")
    site = client.get(f"/v1/sites/{done['site']}", headers=ALICE).json()
    pool = next(p for p in site["pools"] if p["kind"] == "intelligent")
    assert done["energy_kwh"] == pytest.approx(10 * pool["kw_per_unit"] * site["pue"] * 1.0)


def test_batch_submission_and_pagination(client: TestClient) -> None:
    r = client.post("/v1/jobs/batch", json={"jobs": [batch_job() for _ in range(25)]},
                    headers=ALICE)
    assert r.status_code == 201
    ids = [j["id"] for j in r.json()["jobs"]]
    assert len(set(ids)) == 25
    seen: list[str] = []
    cursor = 0
    while True:
        page = client.get("/v1/jobs", params={"limit": 10, "cursor": cursor},
                          headers=ALICE).json()
        seen += [j["id"] for j in page["jobs"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == ids
    newest = client.get("/v1/jobs", params={"limit": 5, "order": "desc"}, headers=ALICE).json()
    assert [j["id"] for j in newest["jobs"]] == ids[::-1][:5]


def test_cancel_stops_a_job(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=batch_job(duration_s=50 * 3600,
                                                 deadline_in_s=80 * 3600),
                      headers=ALICE).json()
    wait_for(lambda: job_state(client, job["id"]), lambda j: j["state"] != "submitted")
    r = client.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE).status_code == 409


# ---- auth and tenants ----------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer nope"}, 401),
    ({"Authorization": "Basic dG9rLWFsaWNl"}, 401),
])
def test_unauthenticated_requests_get_401(client: TestClient, headers: dict[str, str],
                                          status: int) -> None:
    assert client.get("/v1/jobs", headers=headers).status_code == status
    assert client.post("/v1/jobs", json=rt_job(), headers=headers).status_code == status


def test_tenants_see_only_their_own_jobs(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=rt_job(), headers=ALICE).json()
    assert client.get(f"/v1/jobs/{job['id']}", headers=BOB).status_code == 404
    assert client.get(f"/v1/jobs/{job['id']}/events", headers=BOB).status_code == 404
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=BOB).status_code == 404
    assert client.get("/v1/jobs", headers=BOB).json()["jobs"] == []
    assert client.get(f"/v1/jobs/{job['id']}", headers=OPS).status_code == 200
    assert [j["id"] for j in client.get("/v1/jobs", headers=OPS).json()["jobs"]] == [job["id"]]


def test_operator_routes_are_forbidden_to_tenants(client: TestClient) -> None:
    r = client.patch("/v1/sites/horinger", json={"drained": True}, headers=ALICE)
    assert r.status_code == 403


# ---- idempotency ---------------------------------------------------------------------------

def test_idempotency_key_returns_the_original_job(client: TestClient) -> None:
    headers = {**ALICE, "Idempotency-Key": "order-42"}
    first = client.post("/v1/jobs", json=rt_job(), headers=headers)
    again = client.post("/v1/jobs", json=rt_job(), headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/jobs", json=rt_job(), headers={**BOB, "Idempotency-Key": "order-42"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert len(client.get("/v1/jobs", headers=ALICE).json()["jobs"]) == 1


def test_an_idempotency_key_with_a_hash_is_refused_naming_the_header(
        client: TestClient) -> None:
    """A batch's jobs are kept under KEY, KEY#1 ...: "K#1" would collide with them."""
    batch = client.post("/v1/jobs/batch", json={"jobs": [rt_job(), rt_job()]},
                        headers={**ALICE, "Idempotency-Key": "K"})
    assert batch.status_code == 201
    r = client.post("/v1/jobs", json=rt_job(), headers={**ALICE, "Idempotency-Key": "K#1"})
    assert r.status_code == 422 and "idempotency-key" in r.text.lower()
    again = client.post("/v1/jobs/batch", json={"jobs": [rt_job(), rt_job()]},
                        headers={**ALICE, "Idempotency-Key": "K"})
    assert again.status_code == 200
    assert [j["id"] for j in again.json()["jobs"]] == [j["id"] for j in batch.json()["jobs"]]


def test_a_database_failure_loses_no_decided_transition(client: TestClient) -> None:
    """The scheduler's transitions survive a failed commit and go out with the next."""
    live = client.app.state.service.live  # type: ignore[attr-defined]
    store = live.store
    real = store.apply
    failures = {"left": 2}

    def flaky(transitions: Any) -> None:
        if failures["left"] > 0 and transitions:
            failures["left"] -= 1
            raise OSError("database went away")
        real(transitions)

    with live.lock:
        store.apply = flaky  # type: ignore[method-assign]
        ids = [client.post("/v1/jobs", json=rt_job(duration_s=600), headers=ALICE).json()["id"]
               for _ in range(3)]
    try:
        done = [wait_for(lambda i=i: client.get(f"/v1/jobs/{i}", headers=ALICE).json(),
                         lambda j: j["state"] == "finished") for i in ids]
    finally:
        store.apply = real  # type: ignore[method-assign]
    assert failures["left"] == 0
    for j in done:
        states = [e["state"] for e in
                  client.get(f"/v1/jobs/{j['id']}/events", headers=ALICE).json()]
        assert states[0] == "submitted" and states[-1] == "finished" and "placed" in states


# ---- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field", "value"), [
    (rt_job(duration_s=-30), "duration_s", -30),
    (rt_job(units=0), "units", 0),
    (rt_job(origin="mars"), "origin", "mars"),
    (rt_job(kind="quantum"), "kind", "quantum"),
    (rt_job(rtt_bound_ms=0.5), "rtt_bound_ms", 0.5),
    (rt_job(units=10_000_000), "units", 10_000_000),
    (rt_job(deadline_in_s=3600), None, None),  # both latency classes
    ({**batch_job(), "deadline_in_s": 60}, None, None),  # deadline shorter than the job
    ({**rt_job(), "colour": "red"}, "colour", "red"),
])
def test_bad_bodies_get_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                             field: str | None, value: Any) -> None:
    r = client.post("/v1/jobs", json=body, headers=ALICE)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    if field is not None:
        assert any(field in [str(x) for x in d["loc"]] and d.get("input") == value
                   for d in detail), detail
    assert client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


def test_a_bad_job_in_a_batch_names_its_index_and_accepts_nothing(client: TestClient) -> None:
    jobs = [batch_job(), batch_job(origin="atlantis"), batch_job()]
    r = client.post("/v1/jobs/batch", json={"jobs": jobs}, headers=ALICE)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "jobs", 1, "origin"]
    assert client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


def test_oversized_batches_and_bodies_are_refused(client: TestClient) -> None:
    r = client.post("/v1/jobs/batch", json={"jobs": [batch_job()] * 10_001}, headers=ALICE)
    assert r.status_code == 422
    big = b'{"jobs": [' + b" " * (9 * 1024 * 1024) + b"]}"
    r = client.post("/v1/jobs/batch", content=big,
                    headers={**ALICE, "Content-Type": "application/json"})
    assert r.status_code == 413


# ---- operator ------------------------------------------------------------------------------

def test_drained_site_takes_no_new_work(client: TestClient) -> None:
    assert client.patch("/v1/sites/zhangjiakou", json={"drained": True},
                        headers=OPS).status_code == 200
    assert client.patch("/v1/sites/jining", json={"drained": True},
                        headers=OPS).status_code == 200
    ids = [client.post("/v1/jobs", json=rt_job(rtt_bound_ms=6), headers=ALICE).json()["id"]
           for _ in range(5)]
    for job_id in ids:
        j = wait_for(lambda job_id=job_id: job_state(client, job_id),
                     lambda j: j["site"] is not None)
        assert j["site"] == "horinger"  # the only undrained site within 6 ms of bth
    live = client.get("/v1/live", headers=ALICE).json()
    assert {s["site"] for s in live["sites"] if s["drained"]} == {"zhangjiakou", "jining"}


def test_operator_changes_capacity(client: TestClient) -> None:
    r = client.patch("/v1/sites/horinger", json={"capacity_units": {"intelligent": 100}},
                     headers=OPS)
    assert r.status_code == 200
    pool = next(p for p in r.json()["pools"] if p["kind"] == "intelligent")
    assert pool["capacity_units"] == 100
    bad = client.patch("/v1/sites/horinger", json={"capacity_units": {"intelligent": -1}},
                       headers=OPS)
    assert bad.status_code == 422


# ---- metrics and health --------------------------------------------------------------------

def test_metrics_in_prometheus_format(client: TestClient) -> None:
    client.post("/v1/jobs", json=rt_job(), headers=ALICE)
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    for name in ("suanwang_jobs_submitted_total", "suanwang_pool_busy_units",
                 "suanwang_site_green_share_ratio", "suanwang_energy_kilowatt_hours_total",
                 "suanwang_http_request_duration_seconds_bucket"):
        assert name in text


# ---- restart -------------------------------------------------------------------------------

def test_restart_reloads_state_and_carries_on(make_client: Callable[..., TestClient]) -> None:
    first = make_client(speed=1.0)  # a slow clock: nothing finishes before the restart
    ids = [first.post("/v1/jobs", json=batch_job(duration_s=7200), headers=ALICE).json()["id"]
           for _ in range(3)]
    wait_for(lambda: [job_state(first, i)["state"] for i in ids],
             lambda states: "submitted" not in states)
    before = {i: job_state(first, i) for i in ids}
    first.__exit__(None, None, None)
    second = make_client(speed=1.0)
    after = {i: job_state(second, i) for i in ids}
    for i in ids:
        # the same state, or the next one if its input data arrived meanwhile
        assert (before[i]["state"], after[i]["state"]) in {
            (x, x) for x in ("queued", "deferred", "placed", "running")} | {
            ("placed", "running")}
        assert after[i]["site"] == before[i]["site"]
    live = second.get("/v1/live", headers=ALICE).json()
    busy = sum(p["busy_units"] for s in live["sites"] for p in s["pools"]
               if p["kind"] == "general")
    placed = sum(1 for j in after.values() if j["state"] in ("placed", "running"))
    assert busy == 1000 * placed  # running jobs hold their units again
