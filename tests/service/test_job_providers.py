"""Providers in the live service (issue 12): a job's price cap, allow/deny lists and
preference order reach placement; the provider it ran with and its bill (price items in force,
plus egress) come back from the API; bad provider lists are refused naming the field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, batch_job, rt_job, wait_for

from suanwang.network.loader import load_network
from suanwang.pricing.tariff import item_in_force, unit_price_at


def finished(client: TestClient, job_id: str) -> dict[str, Any]:
    return wait_for(lambda: client.get(f"/v1/jobs/{job_id}", headers=ALICE).json(),
                    lambda j: j["state"] in ("finished", "failed", "rejected"))


def test_a_preferred_provider_is_placed_first_and_billed_by_its_price_items(
        client: TestClient) -> None:
    # within 5 ms of bth: zhangjiakou, jining, horinger; huawei sells only at jining
    r = client.post("/v1/jobs", json=rt_job(duration_s=1800, rtt_bound_ms=5.0, data_gb=10.0,
                                           providers_prefer=["huawei"]), headers=ALICE)
    assert r.status_code == 201, r.text
    assert r.json()["providers_prefer"] == ["huawei"]
    done = finished(client, r.json()["id"])
    assert done["state"] == "finished"
    assert (done["site"], done["provider"]) == ("jining", "huawei")
    events = client.get(f"/v1/jobs/{done['id']}/events", headers=ALICE).json()
    placed = next(e for e in events if e["state"] == "placed")
    assert "jining/huawei" in placed["reason"]  # the placement explains the provider
    huawei = next(p for s in load_network().sites if s.id == "jining"
                  for p in s.providers if p.id == "huawei")
    assert done["egress_yuan"] == pytest.approx(10.0 * huawei.egress_yuan_per_gb)
    # the bill by hand: 8 units for half an hour at the price items huawei sells at
    compute = done["bill_yuan"] - done["egress_yuan"]
    intelligent = [i for i in huawei.prices if i.kind.value == "intelligent"]
    lo = min(unit_price_at(i, i.effective_from) for i in intelligent) * 8 * 0.5
    hi = max(unit_price_at(i, i.effective_from) for i in intelligent) * 8 * 0.5
    assert lo - 1e-9 <= compute <= hi + 1e-9


def test_allow_deny_and_price_cap_are_honoured(client: TestClient) -> None:
    only = client.post("/v1/jobs", json=rt_job(rtt_bound_ms=5.0, providers_allow=["scnet"]),
                       headers=ALICE).json()
    cheap = client.post("/v1/jobs", json=rt_job(rtt_bound_ms=5.0,
                                               max_price_yuan_per_unit_h=12.0,
                                               providers_deny=["ctyun"]),
                        headers=ALICE).json()
    a, b = finished(client, only["id"]), finished(client, cheap["id"])
    assert (a["site"], a["provider"]) == ("horinger", "scnet")
    assert b["state"] == "finished" and b["provider"] != "ctyun"
    net = load_network()
    prov = next(p for s in net.sites if s.id == b["site"] for p in s.providers
                if p.id == b["provider"])
    item = item_in_force(prov.items(next(k for k, _ in prov.units if k.value == "intelligent")),
                         min(i.effective_from for i in prov.prices) + timedelta(days=400))
    assert item.yuan_per_unit_h <= 12.0


def test_a_cap_no_provider_meets_leaves_the_job_unplaced_with_a_reason(
        client: TestClient) -> None:
    job = client.post("/v1/jobs", json=rt_job(rtt_bound_ms=5.0,
                                             max_price_yuan_per_unit_h=0.01),
                      headers=ALICE).json()
    got = wait_for(lambda: client.get(f"/v1/jobs/{job['id']}", headers=ALICE).json(),
                   lambda j: j["state"] not in ("submitted",))
    assert got["state"] in ("rejected", "queued")
    assert got["provider"] is None and got["bill_yuan"] is None
    assert got["reason"]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("providers_prefer", ["nosuch"], "unknown provider"),
    ("providers_allow", ["huawei", "huawei"], "more than once"),
    ("providers_prefer", ["bad id!"], "pattern"),
    ("max_price_yuan_per_unit_h", -1.0, "greater than 0"),
    ("max_bill_yuan", 0, "greater than 0"),
])
def test_bad_provider_asks_are_refused_naming_the_field(
        client: TestClient, field: str, value: Any, says: str) -> None:
    r = client.post("/v1/jobs", json=batch_job(**{field: value}), headers=ALICE)
    assert r.status_code == 422, r.text
    text = r.text
    assert field in text and says in text


def test_allow_and_deny_naming_one_provider_is_refused(client: TestClient) -> None:
    r = client.post("/v1/jobs", json=batch_job(providers_allow=["ctyun"],
                                               providers_deny=["ctyun"]), headers=ALICE)
    assert r.status_code == 422
    assert "providers_allow and providers_deny both list ctyun" in r.text


def test_a_restart_keeps_each_running_jobs_provider(
        make_client: Callable[..., TestClient]) -> None:
    first = make_client(speed=1.0)  # slow: nothing ends before the restart
    ids = [first.post("/v1/jobs", json=batch_job(duration_s=7200, providers_prefer=[p]),
                      headers=ALICE).json()["id"] for p in ("scnet", "huawei")]
    before = wait_for(lambda: [first.get(f"/v1/jobs/{i}", headers=ALICE).json() for i in ids],
                      lambda js: all(j["state"] in ("placed", "running") for j in js))
    first.__exit__(None, None, None)
    second = make_client(speed=1.0)
    after = [second.get(f"/v1/jobs/{i}", headers=ALICE).json() for i in ids]
    assert [j["provider"] for j in after] == [j["provider"] for j in before] \
        == ["scnet", "huawei"]
    assert [second.app.state.service.live.provider_of(i) for i in ids] == ["scnet", "huawei"]
