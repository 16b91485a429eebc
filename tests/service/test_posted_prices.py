"""Posted prices (issue 13 item 1): the scarcity rule and its bounded step, and a day of
prices per (site, provider, kind, hour) served by the API, never below the floor."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from svc_support import ALICE, wait_for

from suanwang.service.posted_prices import ALPHA, HORIZON_H, STEP, U0, scarcity_target, smoothed


def test_scarcity_is_zero_up_to_the_threshold_and_alpha_times_the_floor_when_full() -> None:
    assert scarcity_target(10.0, 0.0) == 0.0
    assert scarcity_target(10.0, U0) == 0.0
    assert scarcity_target(10.0, 1.0) == pytest.approx(10.0 * ALPHA)
    assert 0 < scarcity_target(10.0, (U0 + 1) / 2) < 10.0 * ALPHA


def test_a_revision_moves_the_price_by_at_most_the_step_and_never_below_the_floor() -> None:
    floor = 4.0
    assert smoothed(None, floor, 3.0) == pytest.approx(7.0)  # first posting: the target
    p = floor
    for _ in range(20):  # scarcity appears: the price climbs a bounded step at a time
        q = smoothed(p, floor, ALPHA * floor)
        assert q - p <= STEP * floor + 1e-12
        p = q
    assert p == pytest.approx(floor * (1 + ALPHA))
    for _ in range(20):  # and falls back the same way, to the floor and not below
        q = smoothed(p, floor, 0.0)
        assert p - q <= STEP * floor + 1e-12 and q >= floor
        p = q
    assert p == pytest.approx(floor)


def test_a_day_of_posted_prices_per_site_is_served(client: TestClient) -> None:
    def day(_: object = None) -> dict:
        return client.get("/v1/market/prices", params={"site": "qingyang"},
                          headers=ALICE).json()

    def a_day_each(d: dict) -> bool:  # the first revision may be older than this hour
        by: dict[tuple[str, str], int] = {}
        for p in d["prices"]:
            by[(p["provider"], p["kind"])] = by.get((p["provider"], p["kind"]), 0) + 1
        return bool(by) and min(by.values()) >= HORIZON_H

    got = wait_for(day, a_day_each)
    rows = got["prices"]
    slices = {(p["provider"], p["kind"]) for p in rows}
    assert slices and all(p["site"] == "qingyang" for p in rows)
    for prov, kind in slices:
        hours = sorted(p["hour"] for p in rows if (p["provider"], p["kind"]) == (prov, kind))
        assert len(hours) >= HORIZON_H  # a day ahead
        assert hours == list(range(hours[0], hours[0] + len(hours)))
    assert all(p["price_yuan_per_unit_h"] >= p["floor_yuan_per_unit_h"] - 1e-9 for p in rows)
    assert all(p["scarcity_yuan_per_unit_h"] >= -1e-9 for p in rows)
    one = client.get("/v1/market/prices", params={"site": "qingyang", "kind": "general",
                                                  "provider": rows[0]["provider"]},
                     headers=ALICE).json()["prices"]
    assert {(p["provider"], p["kind"]) for p in one} <= {(rows[0]["provider"], "general")}


def test_a_bad_time_range_is_a_422_naming_it(client: TestClient) -> None:
    r = client.get("/v1/market/prices", params={"from": "yesterday"}, headers=ALICE)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "from"]
    r = client.get("/v1/market/prices", params={"from": "2026-12-06T10:00+00:00",
                                                "to": "2026-12-06T09:00+00:00"},
                   headers=ALICE)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "to"]
