"""The service running jobs for real through executors: actual times charged, failures with
exit codes and retries, cancel reaching the process, an unreachable backend marking its site
unhealthy and its work placed elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, OPS, rt_job, wait_for

from suanwang.executors.base import BackendUnavailable, ExecStatus, ExecutorConfig, RunSpec
from suanwang.executors.local import LocalExecutor
from suanwang.executors.registry import BACKENDS, register_backend


def job(client: TestClient, job_id: str) -> Any:
    return client.get(f"/v1/jobs/{job_id}", headers=ALICE).json()


@pytest.fixture
def local_client(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(executor_default="local", log_dir=tmp_path / "logs",
                       allow_tenant_commands=True)


def test_a_job_runs_as_a_process_and_is_charged_for_its_actual_time(
        local_client: TestClient) -> None:
    # estimated 10 hours; really runs about 0.5 s of wall time = about 1,800 s at x3600
    body = rt_job(duration_s=36_000, command=["sh", "-c", "sleep 0.5; echo done"])
    j = local_client.post("/v1/jobs", json=body, headers=ALICE).json()
    done = wait_for(lambda: job(local_client, j["id"]), lambda x: x["state"] == "finished")
    ran_s = done["end_s"] - done["start_s"]
    assert 900 < ran_s < 20_000  # the actual run, not the 36,000 s estimate
    site = local_client.get(f"/v1/sites/{done['site']}", headers=ALICE).json()
    assert site["backend"] == "local"
    pool = next(p for p in site["pools"] if p["kind"] == "intelligent")
    expected = 8 * pool["kw_per_unit"] * site["pue"] * ran_s / 3600
    assert done["energy_kwh"] == pytest.approx(expected, rel=1e-6)
    assert done["exit_code"] == 0 and done["exec_handle"]


def test_a_failing_job_is_retried_then_reported_with_exit_code_and_log(
        local_client: TestClient) -> None:
    body = rt_job(command=["sh", "-c", "echo 'disk full' >&2; exit 3"], max_retries=1)
    j = local_client.post("/v1/jobs", json=body, headers=ALICE).json()
    failed = wait_for(lambda: job(local_client, j["id"]), lambda x: x["state"] == "failed")
    assert failed["exit_code"] == 3 and failed["attempts"] == 2
    assert "disk full" in failed["log_tail"]
    events = local_client.get(f"/v1/jobs/{j['id']}/events", headers=ALICE).json()
    assert any(e["state"] == "queued" and "attempt 1 failed" in e["reason"] for e in events)
    assert events[-1]["state"] == "failed"


def test_cancel_reaches_the_process(local_client: TestClient, tmp_path: Path) -> None:
    body = rt_job(command=["sh", "-c", "echo started; sleep 2; echo still-running"])
    j = local_client.post("/v1/jobs", json=body, headers=ALICE).json()
    wait_for(lambda: job(local_client, j["id"]), lambda x: x["state"] == "running")
    out = tmp_path / "logs" / f"{j['id']}.out"
    wait_for(lambda: out.read_text() if out.exists() else "", lambda text: "started" in text)
    r = local_client.post(f"/v1/jobs/{j['id']}/cancel", headers=ALICE)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    import time

    time.sleep(2.5)  # long enough for the process to have written its line had it lived
    assert "still-running" not in out.read_text()


# ---- an unreachable backend ----------------------------------------------------------------

class FlakyExecutor(LocalExecutor):
    """A local executor whose backend can be switched off, as a stopped controller would be."""

    name = "flaky"
    up = False

    def submit(self, spec: RunSpec) -> str:
        if not FlakyExecutor.up:
            raise BackendUnavailable("connection refused")
        return super().submit(spec)

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        if not FlakyExecutor.up:
            raise BackendUnavailable("connection refused")
        return super().poll(handles)

    def healthy(self) -> bool:
        return FlakyExecutor.up


@pytest.fixture
def flaky_client(make_client: Callable[..., TestClient], tmp_path: Path) -> Any:
    register_backend("flaky", lambda cfg, log_dir: FlakyExecutor(log_dir))
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text("default: {backend: local}\nsites:\n  zhangjiakou: {backend: flaky}\n",
                          encoding="utf-8")
    FlakyExecutor.up = False
    try:
        yield make_client(deployment_path=deployment, log_dir=tmp_path / "logs")
    finally:
        BACKENDS.pop("flaky", None)
        FlakyExecutor.up = False


def test_unreachable_backend_marks_site_unhealthy_and_work_goes_elsewhere(
        flaky_client: TestClient) -> None:
    c = flaky_client
    for site in ("jining", "horinger"):  # leave zhangjiakou the only site within 6 ms of bth
        assert c.patch(f"/v1/sites/{site}", json={"drained": True}, headers=OPS).is_success
    j = c.post("/v1/jobs", json=rt_job(rtt_bound_ms=6, duration_s=600), headers=ALICE).json()
    wait_for(lambda: c.get("/v1/sites/zhangjiakou", headers=ALICE).json(),
             lambda s: s["healthy"] is False)
    assert 'suanwang_site_healthy{site="zhangjiakou"} 0.0' in c.get("/metrics").text
    wait_for(lambda: job(c, j["id"]), lambda x: x["state"] == "queued")
    events = c.get(f"/v1/jobs/{j['id']}/events", headers=ALICE).json()
    assert any("zhangjiakou unavailable" in e["reason"] for e in events)
    # a site that can take it opens: the job goes there, not back to the broken one
    assert c.patch("/v1/sites/horinger", json={"drained": False}, headers=OPS).is_success
    done = wait_for(lambda: job(c, j["id"]), lambda x: x["state"] == "finished")
    assert done["site"] == "horinger"
    events = c.get(f"/v1/jobs/{j['id']}/events", headers=ALICE).json()
    assert sum(1 for e in events if e["state"] == "running") == 1  # never ran twice
    FlakyExecutor.up = True  # the backend comes back: so does the site
    wait_for(lambda: c.get("/v1/sites/zhangjiakou", headers=ALICE).json(),
             lambda s: s["healthy"] is True)


def test_deployment_file_errors_name_the_field(tmp_path: Path) -> None:
    from suanwang.errors import InputError
    from suanwang.executors.registry import load_deployment

    bad = tmp_path / "d.yaml"
    bad.write_text("sites:\n  atlantis: {backend: local}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"sites\.atlantis"):
        load_deployment(bad, ["horinger"])
    bad.write_text("sites:\n  horinger: {backend: kubernetes}\n", encoding="utf-8")
    with pytest.raises(InputError, match="kubernetes"):
        load_deployment(bad, ["horinger"])
    assert load_deployment(None, ["horinger"])["horinger"] == ExecutorConfig("clock")


# ---- a provider reached through a backend of its own ---------------------------------------

@pytest.fixture
def provider_flaky_client(make_client: Callable[..., TestClient], tmp_path: Path) -> Any:
    register_backend("flaky", lambda cfg, log_dir: FlakyExecutor(log_dir))
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text("default: {backend: local}\nsites:\n  horinger:\n    backend: local\n"
                          "    providers:\n      scnet: {backend: flaky}\n", encoding="utf-8")
    FlakyExecutor.up = False
    try:
        yield make_client(deployment_path=deployment, log_dir=tmp_path / "logs")
    finally:
        BACKENDS.pop("flaky", None)
        FlakyExecutor.up = False


def provider_row(c: TestClient, site: str, provider: str) -> dict[str, Any]:
    return c.get(f"/v1/providers/{site}/{provider}", headers=OPS).json()


def test_a_providers_own_backend_down_closes_that_provider_only(
        provider_flaky_client: TestClient) -> None:
    c = provider_flaky_client
    ask = rt_job(rtt_bound_ms=5, duration_s=600, units=2, providers_prefer=["scnet"])
    first = c.post("/v1/jobs", json=ask, headers=ALICE).json()
    done = wait_for(lambda: job(c, first["id"]), lambda x: x["state"] == "finished")
    events = c.get(f"/v1/jobs/{first['id']}/events", headers=ALICE).json()
    assert any("horinger/scnet unavailable" in e["reason"] for e in events)
    assert done["provider"] != "scnet"  # the preference fell through to the next provider
    assert sum(1 for e in events if e["state"] == "running") == 1
    row = provider_row(c, "horinger", "scnet")
    assert row["healthy"] is False and row["backend"] == "flaky"
    assert c.get("/v1/sites/horinger", headers=ALICE).json()["healthy"] is True
    others = [p for p in c.get("/v1/providers", headers=OPS).json()["providers"]
              if p["site"] == "horinger" and p["provider"] != "scnet"]
    assert others and all(p["healthy"] for p in others)
    # the next job that prefers scnet goes elsewhere at once: no wasted attempt
    second = c.post("/v1/jobs", json=ask, headers=ALICE).json()
    got = wait_for(lambda: job(c, second["id"]), lambda x: x["state"] == "finished")
    assert got["provider"] != "scnet"
    events = c.get(f"/v1/jobs/{second['id']}/events", headers=ALICE).json()
    assert not any("unavailable" in e["reason"] for e in events)
    # the backend answers again: scnet takes work again
    FlakyExecutor.up = True
    wait_for(lambda: provider_row(c, "horinger", "scnet"), lambda r: r["healthy"] is True)
    third = c.post("/v1/jobs", json=ask, headers=ALICE).json()
    got = wait_for(lambda: job(c, third["id"]), lambda x: x["state"] == "finished")
    assert (got["site"], got["provider"]) == ("horinger", "scnet")
    measured = provider_row(c, "horinger", "scnet")["sla"]["measured"]
    assert measured["down_s"] > 0 and measured["availability"] < 1.0
    assert provider_row(c, "horinger", "ctyun")["sla"]["measured"]["down_s"] == 0


def test_provider_bindings_in_the_deployment_file_are_checked(tmp_path: Path) -> None:
    from suanwang.errors import InputError
    from suanwang.executors.registry import binding_key, load_deployment

    bad = tmp_path / "d.yaml"
    provs = {"horinger": ["scnet", "ctyun"]}
    bad.write_text("sites:\n  horinger:\n    backend: local\n    providers:\n"
                   "      nosuch: {backend: local}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"sites\.horinger\.providers\.nosuch.*scnet, ctyun"):
        load_deployment(bad, ["horinger"], providers=provs)
    bad.write_text("sites:\n  horinger:\n    backend: local\n    providers:\n"
                   "      scnet: {backend: clock}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"providers\.scnet\.backend"):
        load_deployment(bad, ["horinger"], providers=provs)
    bad.write_text("sites:\n  horinger:\n    backend: local\n    providers:\n"
                   "      scnet: {backend: local, nonsense: 3}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"sites\.horinger\.providers\.scnet\.nonsense"):
        load_deployment(bad, ["horinger"], providers=provs)
    good = tmp_path / "g.yaml"
    good.write_text("sites:\n  horinger:\n    backend: local\n    providers:\n"
                    "      scnet: {backend: local, grace_s: 5}\n", encoding="utf-8")
    got = load_deployment(good, ["horinger"], providers=provs)
    assert got[binding_key("horinger", "scnet")].settings == {"grace_s": 5}
    assert got["horinger"].backend == "local"


# ---- reports newer than the tick's clock ----------------------------------------------------

class AheadExecutor(LocalExecutor):
    """A local executor that reports a run only once it has ended, both its times a minute
    ahead of the scheduler's tick (as a worker's are when a short run starts and ends between
    a tick's clock reading and its poll)."""

    name = "ahead"

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        from dataclasses import replace

        from suanwang.executors.base import ExecState

        out: dict[str, ExecStatus] = {}
        for h, st in super().poll(handles).items():
            if not st.ended or st.started_wall_s is None or st.ended_wall_s is None:
                out[h] = ExecStatus(ExecState.PENDING)
            else:
                out[h] = replace(st, started_wall_s=st.started_wall_s + 60.0,
                                 ended_wall_s=st.ended_wall_s + 60.0)
        return out


def test_a_run_reported_ahead_of_the_tick_keeps_its_measured_length(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    register_backend("ahead", lambda cfg, log_dir: AheadExecutor(log_dir))
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text("default: {backend: ahead}\n", encoding="utf-8")
    try:
        c = make_client(deployment_path=deployment, log_dir=tmp_path / "logs",
                        allow_tenant_commands=True)
        # about 0.5 s of wall time = about 1,800 s of the run clock at x3600
        body = rt_job(duration_s=36_000, command=["sh", "-c", "sleep 0.5"])
        j = c.post("/v1/jobs", json=body, headers=ALICE).json()
        done = wait_for(lambda: job(c, j["id"]), lambda x: x["state"] == "finished")
    finally:
        BACKENDS.pop("ahead", None)
    ran_s = done["end_s"] - done["start_s"]
    assert 900 < ran_s < 20_000  # not both times clamped to the tick: the length stands
    assert done["energy_kwh"] > 0
