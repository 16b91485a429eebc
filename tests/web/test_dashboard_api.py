"""The dashboard's server side: the page and its files, who may read the views, and the views'
numbers on a tiny network whose answers are worked out by hand (the run clock is held still
and the scheduler ticked by the test)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from suanwang.model import Network
from suanwang.service.app import Service, Settings, create_app
from suanwang.service.clock import RunClock
from suanwang.service.dashboard import (
    WEB_DIR,
    interval_means,
    network_now,
    placement_out,
    reason_parts,
)

TOKENS = {"tok-ops": ("ops", "operator"), "tok-ann": ("ann", "tenant")}
OPS = {"Authorization": "Bearer tok-ops"}
ANN = {"Authorization": "Bearer tok-ann"}
VIEWS = ("/v1/dashboard/overview", "/v1/dashboard/placements", "/v1/dashboard/series")


class HeldClock:
    """The run clock, held at `now_s` until the test moves it."""

    def __init__(self, service: Service) -> None:
        self.now_s = 0.0
        origin = service.clock.origin_epoch_s
        clock = RunClock(origin, 1.0, wall=lambda: origin + self.now_s)
        service.clock = clock
        service.live.clock = clock


@pytest.fixture
def tiny_app(tiny_net: Network, tmp_path: Path) -> Iterator[tuple[TestClient, Service, HeldClock]]:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'dash.db'}", tokens=TOKENS,
                              policy="greenest", start_scheduler=False), tiny_net)
    service: Service = app.state.service
    clock = HeldClock(service)
    with TestClient(app) as client:
        yield client, service, clock


# ---- the page ----------------------------------------------------------------------------------

def test_page_and_its_files_are_served_without_a_token(tiny_app: Any) -> None:
    client, _, _ = tiny_app
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "算网" in page.text
    # every file the page names is there
    for ref in re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text):
        assert client.get(ref).status_code == 200, ref
    for ref in ("/web/vendor/china.json", "/web/vendor/echarts.min.js", "/web/i18n.js",
                "/web/vendor/noto-sans-sc-subset-400.woff"):
        assert client.get(ref).status_code == 200, ref


def test_the_page_names_no_outside_address() -> None:
    """Nothing of ours points at a CDN or any host: only paths on this server."""
    ours = [p for p in WEB_DIR.iterdir() if p.suffix in (".html", ".js", ".css", ".svg")]
    assert {p.name for p in ours} >= {"index.html", "app.js", "map.js", "dashboard.css"}
    for p in ours:
        text = p.read_text(encoding="utf-8")
        urls = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, flags=re.I)
        assert [u for u in urls if "www.w3.org" not in u] == [], p.name


def test_views_need_the_operator(tiny_app: Any) -> None:
    client, _, _ = tiny_app
    for path in VIEWS:
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(path, headers=ANN).status_code == 403
        assert client.get(path, headers=OPS).status_code == 200
    assert client.get("/v1/dashboard/series", headers=OPS,
                      params={"hours_back": 10_000}).status_code == 422


# ---- the views on the tiny network ---------------------------------------------------------

def submit(client: TestClient, **body: Any) -> str:
    r = client.post("/v1/jobs", json=body, headers=OPS)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def two_jobs(tiny_app: Any) -> tuple[TestClient, Service, str, str]:
    """At t = 1000 s: 4 intelligent units from `east` for 2 h within 5 ms (only `local` is
    that near: 1 kW x PUE 1.5 = 6 kW), and 2 HPC nodes for 30 min (only `west` has HPC:
    2 x 3 kW x PUE 1.2 = 7.2 kW). Then the clock moves to 5400 s, when the HPC job has ended
    (at 2800 s) and the other runs until 8200 s."""
    client, service, clock = tiny_app
    clock.now_s = 1000.0
    ai = submit(client, origin="east", kind="intelligent", units=4, duration_s=7200.0,
                rtt_bound_ms=5.0)
    hpc = submit(client, origin="east", kind="hpc", units=2, duration_s=1800.0,
                 deadline_in_s=86400.0)
    service.live.tick()
    clock.now_s = 5400.0
    service.live.tick()
    assert client.get(f"/v1/jobs/{hpc}", headers=OPS).json()["state"] == "finished"
    assert client.get(f"/v1/jobs/{ai}", headers=OPS).json()["state"] == "running"
    return client, service, ai, hpc


def test_overview_flows_and_the_network_now(two_jobs: Any) -> None:
    client, service, _, _ = two_jobs
    o = client.get("/v1/dashboard/overview", headers=OPS).json()
    assert o["now_s"] == 5400.0
    assert o["flows"] == [{"origin": "east", "site": "local", "jobs": 1,
                           "units_by_kind": {"intelligent": 4}, "pflops": 4.0,
                           "power_kw": pytest.approx(6.0)}]
    sites = {s["site"]: s for s in o["sites"]}
    assert sites["local"] == {"site": "local", "placed_jobs": 0, "running_jobs": 1,
                              "pflops_busy": 4.0,
                              "installed_units": {"general": 40, "intelligent": 8},
                              "max_capacity_units": {"general": 4000, "intelligent": 800}}
    assert sites["west"]["running_jobs"] == 0
    series = service.live.series
    hour = 1  # 5400 s
    assert o["now"]["power_kw"] == pytest.approx(6.0)
    assert o["now"]["green_share"] == pytest.approx(series.green_share[0, hour])
    assert o["now"]["carbon_kg_per_h"] == pytest.approx(
        6.0 * series.intensity_g_per_kwh[0, hour] / 1000)
    assert o["now"]["cost_yuan_per_h"] == pytest.approx(6.0 * series.price_yuan_per_kwh[0, hour])
    # installed P: local 40 x 0.01 + 8, west 100 x 0.01 + 10 + 2 x 0.05, mid 60 x 0.01 + 6
    assert o["now"]["pflops_capacity"] == pytest.approx(8.4 + 11.1 + 6.6)
    assert o["now"]["pflops_busy"] == 4.0


def test_placements_newest_first_with_the_policy_reason(two_jobs: Any) -> None:
    client, _, ai, hpc = two_jobs
    p = client.get("/v1/dashboard/placements", headers=OPS).json()
    rows = {r["job"]: r for r in p["placements"]}
    assert [r["job"] for r in p["placements"]] == [hpc, ai]  # decided in arrival order
    assert rows[ai]["site"] == "local" and rows[hpc]["site"] == "west"
    assert rows[ai]["placed_s"] == 1000.0 and rows[ai]["rtt_ms"] == 1.0
    assert rows[ai]["reason"].startswith("greenest")
    # the reason as data, for the page to say in its language with the site's name
    parts = rows[ai]["reason_parts"]
    assert parts["form"] == "ranked" and parts["policy"] == "greenest"
    assert parts["site"] == "local" and parts["unit"] == "g_co2_per_unit_h"
    assert parts["feasible"] == 1 and parts["late"] is False
    assert f"{parts['score']:.4g}" in rows[ai]["reason"]
    assert not rows[ai]["latency_violation"] and not rows[hpc]["late"]
    assert p["violations"] == {"latency": 0, "late": 0, "rejected": 0}
    one = client.get("/v1/dashboard/placements", headers=OPS, params={"limit": 1}).json()
    assert [r["job"] for r in one["placements"]] == [hpc]


def test_series_history_and_what_is_committed_ahead(two_jobs: Any) -> None:
    client, service, _, _ = two_jobs
    s = client.get("/v1/dashboard/series", headers=OPS,
                   params={"hours_back": 24, "hours_ahead": 3}).json()
    assert s["history_hours"] == [0, 1] and s["forecast_hours"] == [1, 2, 3]
    sites = {row["site"]: row for row in s["sites"]}
    local = {p["kind"]: p for p in sites["local"]["pools"]}
    west = {p["kind"]: p for p in sites["west"]["pools"]}
    # hour 0 = [0, 3600): the AI job holds 4 units from 1000 s; hour 1 so far = [3600, 5400)
    assert local["intelligent"]["busy_units"] == pytest.approx([4 * 2600 / 3600, 4.0])
    assert local["intelligent"]["capacity_units"] == 8
    assert local["general"]["busy_units"] == [0.0, 0.0]
    assert west["hpc"]["busy_units"] == pytest.approx([2 * 1800 / 3600, 0.0])
    # ahead: [5400, 7200), [7200, 10800), [10800, 14400); the job ends at 8200 s
    assert local["intelligent"]["committed_units"] == pytest.approx([4.0, 4 * 1000 / 3600, 0])
    assert west["hpc"]["committed_units"] == [0.0, 0.0, 0.0]
    assert sites["local"]["history"]["power_kw"] == pytest.approx([6 * 2600 / 3600, 6.0])
    assert sites["local"]["forecast"]["power_kw"] == pytest.approx([6.0, 6 * 1000 / 3600, 0])
    assert sites["west"]["history"]["power_kw"] == pytest.approx([7.2 * 0.5, 0.0])
    # the energy series: actuals for past hours, the forecaster's view from this hour on
    series = service.live.series
    assert sites["mid"]["history"]["green_share"] == pytest.approx(
        series.green_share[2, :2].tolist())
    view = service.live.scheduler.state.forecaster.view(5400.0)
    assert sites["mid"]["forecast"]["green_share"] == pytest.approx(view.green_share[2][:3])
    assert sites["mid"]["forecast"]["green_share"][0] == pytest.approx(
        series.green_share[2, 1])  # the hour in progress is known


# ---- pure helpers ------------------------------------------------------------------------------

def test_interval_means_by_hand() -> None:
    edges = np.array([0.0, 3600.0, 5400.0])
    start = np.array([1000.0, 0.0, 4000.0])
    end = np.array([8200.0, 1800.0, 4000.0])  # the last one is empty
    weight = np.array([4.0, 2.0, 9.0])
    group = np.array([0, 1, 1])
    out = interval_means(edges, start, end, weight, group, 2)
    assert out == pytest.approx(np.array([[4 * 2600 / 3600, 4.0], [1.0, 0.0]]))
    # a bin of no width takes what is active at its instant
    assert interval_means(np.array([3600.0, 3600.0]), start, end, weight, group, 2) == \
        pytest.approx(np.array([[4.0], [0.0]]))
    assert interval_means(edges, np.array([]), np.array([]), np.array([]),
                          np.array([], dtype=int), 1).tolist() == [[0.0, 0.0]]


def test_network_now_by_hand() -> None:
    sites = [
        {"power_kw": 100.0, "green_share": 0.8, "intensity_g_per_kwh": 100.0,
         "price_yuan_per_kwh": 0.3},
        {"power_kw": 300.0, "green_share": 0.2, "intensity_g_per_kwh": 500.0,
         "price_yuan_per_kwh": 0.6},
        {"power_kw": 0.0, "green_share": 1.0, "intensity_g_per_kwh": 0.0,
         "price_yuan_per_kwh": 0.1},
    ]
    now = network_now(sites)
    assert now["power_kw"] == 400.0
    assert now["green_share"] == pytest.approx((80 + 60) / 400)
    assert now["carbon_kg_per_h"] == pytest.approx((100 * 100 + 300 * 500) / 1000)
    assert now["cost_yuan_per_h"] == pytest.approx(100 * 0.3 + 300 * 0.6)
    assert network_now([])["green_share"] == 0.0


@pytest.mark.parametrize(("rtt_ms", "bound_ms", "end_s", "deadline_s", "latency", "late"), [
    (5.0, 10.0, None, None, False, False),  # real-time, within its bound
    (12.0, 10.0, None, None, True, False),  # real-time, over its bound
    (20.0, None, 900.0, 1000.0, False, False),  # ends before its deadline
    (20.0, None, 1100.0, 1000.0, False, True),  # ends after it
])
def test_violations_are_flagged(rtt_ms: float, bound_ms: float | None, end_s: float | None,
                                deadline_s: float | None, latency: bool, late: bool) -> None:
    row = SimpleNamespace(id="j1", tenant="t", origin="east", site="west", kind="general",
                          units=1, state="running", start_s=0.0, end_s=end_s, rtt_ms=rtt_ms,
                          rtt_bound_ms=bound_ms, deadline_s=deadline_s, workload="")
    out = placement_out(row, 0.0, "why")
    assert (out["latency_violation"], out["late"]) == (latency, late)


def test_the_bundled_font_has_every_chinese_character_the_page_and_network_use() -> None:
    """Machines without a CJK font still read the page: the vendored subset covers the page's
    own text, the bundled network's names and the map's provinces (re-run
    `python src/suanwang/web/vendor.py` after adding Chinese text)."""
    from fontTools.ttLib import TTFont

    cjk = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
    texts = [p.read_text(encoding="utf-8") for p in WEB_DIR.iterdir()
             if p.suffix in (".html", ".js")]
    texts.append((WEB_DIR.parent / "network" / "data" / "national.yaml")
                 .read_text(encoding="utf-8"))
    used = {c for text in texts for c in cjk.findall(text)}
    for weight in (400, 700):
        cmap = TTFont(WEB_DIR / "vendor" / f"noto-sans-sc-subset-{weight}.woff").getBestCmap()
        assert sorted(c for c in used if ord(c) not in cmap) == [], weight


# ---- the operator's capacity form: PATCH /v1/sites/{id} ------------------------------------

@pytest.mark.parametrize(("field", "value", "says"), [
    ("intelligent", -1, "must be >= 0"),
    ("intelligent", 2.5, "whole number"),
    ("intelligent", 1e15, "whole number"),  # JSON 1e15 is a float
    ("intelligent", 801, "must be <= 800 (100 x the 8 installed units)"),
    ("intelligent", 10**15, "must be <= 800"),
    ("intelligent", "12", "whole number"),
    ("intelligent", None, "whole number"),
    ("gpu", 4, "unknown kind; this site has general, intelligent"),
    ("hpc", 4, "site local has no hpc pool"),
])
def test_absurd_capacities_are_refused_naming_the_field_and_value(
        tiny_app: Any, field: str, value: Any, says: str) -> None:
    client, _, _ = tiny_app
    r = client.patch("/v1/sites/local", json={"capacity_units": {field: value}}, headers=OPS)
    assert r.status_code == 422, r.text
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "capacity_units", field]
    assert err["input"] == value
    assert err["msg"].startswith(f"capacity_units.{field} = {value!r}: ")
    assert says in err["msg"]
    # nothing changed
    pools = {p["kind"]: p["capacity_units"]
             for p in client.get("/v1/sites/local", headers=OPS).json()["pools"]}
    assert pools == {"general": 40, "intelligent": 8}


def test_a_capacity_patch_changes_only_the_pools_it_names(tiny_app: Any) -> None:
    client, _, _ = tiny_app
    r = client.patch("/v1/sites/local", json={"capacity_units": {"intelligent": 800}},
                     headers=OPS)
    assert r.status_code == 200, r.text
    assert "warnings" not in r.json()
    assert {p["kind"]: p["capacity_units"] for p in r.json()["pools"]} == {
        "general": 40, "intelligent": 800}
    # the bound is 100 x what the network installs, not x the current value
    assert client.patch("/v1/sites/local", json={"capacity_units": {"intelligent": 801}},
                        headers=OPS).status_code == 422
    assert client.patch("/v1/sites/local", json={"capacity_units": {}},
                        headers=OPS).status_code == 200
    assert client.patch("/v1/sites/local", json={"capacity_units": {"general": 0}},
                        headers=ANN).status_code == 403


def test_a_cut_below_the_busy_units_is_applied_with_a_warning(two_jobs: Any) -> None:
    client, _, _, _ = two_jobs  # 4 intelligent units busy at `local`
    r = client.patch("/v1/sites/local", json={"capacity_units": {"intelligent": 2}},
                     headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == [
        "capacity_units.intelligent = 2 is below the 4 units busy now: running jobs keep "
        "them; nothing new is placed there until enough end"]
    pool = next(p for p in r.json()["pools"] if p["kind"] == "intelligent")
    assert pool["capacity_units"] == 2


@pytest.mark.parametrize(("reason", "parts"), [
    # reasons from before providers name the site only
    ("greenest: zhongwei best of 11 feasible (0.0894 g CO2/unit-h)",
     {"form": "ranked", "policy": "greenest", "site": "zhongwei", "provider": None,
      "feasible": 11, "score": 0.0894, "unit": "g_co2_per_unit_h", "late": False,
      "notes": []}),
    ("cheapest: guian best of 3 feasible (0.312 yuan/unit-h); deadline cannot be met",
     {"form": "ranked", "policy": "cheapest", "site": "guian", "provider": None, "feasible": 3,
      "score": 0.312, "unit": "yuan_per_unit_h", "late": True, "notes": []}),
    ("nearest: yangtze-demo best of 2 feasible (1.2 ms)",
     {"form": "ranked", "policy": "nearest", "site": "yangtze-demo", "provider": None,
      "feasible": 2, "score": 1.2, "unit": "ms", "late": False, "notes": []}),
    ("rolling: horinger (1.5e+03 incl. capacity price)",
     {"form": "priced", "policy": "rolling", "site": "horinger", "provider": None,
      "score": 1500.0, "late": False, "notes": []}),
    # a provider's pool, with the clauses a tenant's preferences add, kept as written
    ("cheapest: guian/ctyun best of 3 feasible (0.312 yuan/unit-h); expected bill 12.5 yuan; "
     "preferred provider ctyun; deadline cannot be met",
     {"form": "ranked", "policy": "cheapest", "site": "guian", "provider": "ctyun",
      "feasible": 3, "score": 0.312, "unit": "yuan_per_unit_h", "late": True,
      "notes": ["expected bill 12.5 yuan", "preferred provider ctyun"]}),
    ("rolling: horinger/scnet (1.5e+03 incl. capacity price)",
     {"form": "priced", "policy": "rolling", "site": "horinger", "provider": "scnet",
      "score": 1500.0, "late": False, "notes": []}),
    ("exit code 0", None),
])
def test_reason_parts_of_each_policy_form(reason: str, parts: dict[str, Any] | None) -> None:
    assert reason_parts(reason) == parts
