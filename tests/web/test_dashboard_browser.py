"""The dashboard in a real browser (Debian's Chromium through Playwright), against a real
`suanwang serve` process: what an operator sees and does.

Every wait is for a condition (Playwright's `expect` retries until it holds or its bound runs
out); nothing is timed. Jobs run for 10 run-days (4 wall hours at x60), so none ends while the
module runs and the busy units they hold are exact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import OPS_TOKEN, TENANT_TOKEN, Server, Traffic, until

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

expect.set_options(timeout=30_000)

LONG_S = 10 * 86400.0


def open_dashboard(pg: Any, server: Server, query: str = "") -> None:
    """The link `suanwang up` prints: the token in the fragment (never sent to the server)."""
    pg.goto(f"{server.url}/{query}#token={OPS_TOKEN}")
    pg.wait_for_selector("body[data-ready='1']")
    assert "token" not in pg.url  # taken out of the address bar at once


def submit(c: httpx.Client, **body: Any) -> dict[str, Any]:
    """Submit a job and wait until the scheduler has placed it."""
    r = c.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    return dict(until(lambda: c.get(f"/v1/jobs/{job_id}").json(),
                      lambda j: j["site"] is not None and j["state"] in ("placed", "running")))


def sites_by_id(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as c:
        return {s["id"]: s for s in c.get("/v1/sites").json()}


def test_page_loads_from_this_server_alone_and_maps_every_site(
        page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    pg.goto(f"{server.url}/")
    login = pg.locator("#login")
    expect(login).to_be_visible()
    expect(pg.locator("#login h2")).to_have_text("运营方令牌")  # Chinese by default
    pg.fill("#token-input", OPS_TOKEN)
    pg.click("#login button[type=submit]")
    expect(login).to_be_hidden()
    pg.wait_for_selector("body[data-ready='1']")

    sites = sites_by_id(server)
    expect(pg.locator("#sites-table tbody tr")).to_have_count(len(sites))
    # every site is drawn on the map of China, where its coordinates put it
    drawn = pg.wait_for_function(
        """(n) => { const d = window.suanwang.drawnSites();
                    return d.length === n && d.every((s) => s.onMap) ? d : null; }""",
        arg=len(sites)).json_value()
    assert {d["id"] for d in drawn} == set(sites)
    assert {d["name"] for d in drawn} == {s["name_zh"] for s in sites.values()}
    # and the map's accessible description names them all
    label = pg.get_attribute("#map", "aria-label") or ""
    assert all(s["name_zh"] in label for s in sites.values()), label

    # pointing at the site drawn farthest from the others shows its tooltip
    def room(d: dict[str, Any]) -> float:
        return min((d["x"] - e["x"]) ** 2 + (d["y"] - e["y"]) ** 2 for e in drawn if e is not d)

    loneliest = max(drawn, key=room)
    name_en = sites[loneliest["id"]]["name_en"]
    box = pg.locator("#map").bounding_box()
    assert box is not None
    tooltip = ""
    for _ in range(5):  # under load the map may still be settling: point again where it is now
        here = next(d for d in pg.evaluate("window.suanwang.drawnSites()")
                    if d["id"] == loneliest["id"])
        pg.mouse.move(box["x"] + here["x"] - 3, box["y"] + here["y"] - 3)
        pg.mouse.move(box["x"] + here["x"], box["y"] + here["y"])
        pg.wait_for_timeout(300)
        tooltip = pg.locator("#map").inner_text()
        if name_en in tooltip:
            break
    assert name_en in tooltip, tooltip

    # the token is remembered: a reload goes straight to the dashboard
    pg.reload()
    pg.wait_for_selector("body[data-ready='1']")
    expect(login).to_be_hidden()

    assert traffic.problems == []
    assert traffic.outside() == []
    assert any(u.endswith("/web/vendor/echarts.min.js") for u in traffic.urls)
    assert any(u.endswith("/web/vendor/china.json") for u in traffic.urls)


def test_a_submitted_job_is_listed_and_moves_its_sites_load(
        page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    open_dashboard(pg, server)
    with server.client() as c:
        busy_before = {s["site"]: {p["kind"]: p["busy_units"] for p in s["pools"]}
                       for s in c.get("/v1/live").json()["sites"]}
        job = submit(c, origin="gba", kind="intelligent", units=24, duration_s=LONG_S,
                     deadline_in_s=2 * LONG_S)
    site = sites_by_id(server)[job["site"]]

    row = pg.locator(f"#placements-table tr[data-job='{job['id']}']")
    expect(row).to_be_visible()
    expect(row.locator("td.route")).to_have_text(f"粤港澳大湾区 → {site['name_zh']}")
    expect(row).to_contain_text("ops")
    # the policy's reason in Chinese, naming the site (not its id)
    reason = row.locator("td.reason")
    expect(reason).to_contain_text(
        re.compile(f"最低碳：{re.escape(site['name_zh'])}( · [\\w.-]+)?，"))
    expect(reason).to_contain_text("个可行集群中最优")
    expect(reason).not_to_contain_text(site["id"])
    pg.click("#lang-toggle")
    expect(reason).to_contain_text(
        re.compile(f"greenest: {re.escape(site['name_en'])}( · [\\w.-]+)?, best of "))
    expect(reason).to_contain_text("gCO2 per unit-hour")
    expect(row).not_to_have_class(re.compile("violation"))

    cell = pg.locator(f"#sites-table tr[data-site='{site['id']}'] "
                      "td.pool[data-kind='intelligent']")
    busy = busy_before[site["id"]]["intelligent"] + 24
    expect(cell).to_have_attribute("data-busy", str(busy))
    expect(cell.locator(".busy")).to_have_text(str(busy))
    assert traffic.problems == [] and traffic.outside() == []


def test_the_language_toggle_switches_labels_and_numbers(
        page: tuple[Any, Traffic], server: Server, artifacts: Path) -> None:
    pg, traffic = page
    open_dashboard(pg, server)
    html = pg.locator("html")
    horinger = pg.locator("#sites-table tr[data-site='horinger']")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(pg.locator("#sites-title")).to_have_text("数据中心集群")
    expect(pg.locator("#lang-toggle")).to_have_text("EN")
    expect(horinger.locator("th .name")).to_have_text("和林格尔新区")
    expect(horinger.locator("td.num").first).to_have_text("2.4万P")  # 24,000 P, in 万
    pg.wait_for_function("() => window.suanwang.state.series !== null")
    pg.screenshot(path=str(artifacts / "dashboard-zh.png"), full_page=True)

    pg.click("#lang-toggle")
    expect(html).to_have_attribute("lang", "en-US")
    expect(pg.locator("#sites-title")).to_have_text("Data-center clusters")
    expect(pg.locator("#lang-toggle")).to_have_text("中文")
    expect(pg.locator("#placements-title")).to_have_text("Latest placements")
    expect(horinger.locator("th .name")).to_have_text("Horinger New Area (Hohhot)")
    expect(horinger.locator("td.num").first).to_have_text("24,000 P")  # thousands grouped
    pg.wait_for_function(
        "() => window.suanwang.drawnSites().some((d) => d.name === 'Horinger New Area (Hohhot)')")
    pg.screenshot(path=str(artifacts / "dashboard-en.png"), full_page=True)

    pg.reload()  # the choice is remembered
    pg.wait_for_selector("body[data-ready='1']")
    expect(pg.locator("#sites-title")).to_have_text("Data-center clusters")
    pg.click("#lang-toggle")
    expect(pg.locator("#sites-title")).to_have_text("数据中心集群")
    assert traffic.problems == [] and traffic.outside() == []


def test_draining_a_site_from_the_page_stops_new_placements_there(
        page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    open_dashboard(pg, server)
    body = {"origin": "yrd", "kind": "general", "units": 2000, "duration_s": LONG_S,
            "deadline_in_s": 2 * LONG_S}
    with server.client() as c:
        probe = submit(c, **body)  # where such a job goes now
    target = sites_by_id(server)[probe["site"]]

    row = pg.locator(f"#sites-table tr[data-site='{target['id']}']")
    row.click()
    expect(pg.locator("#detail-site")).to_have_text(target["name_zh"])
    expect(pg.locator("#drain-button")).to_have_text("停止调度（排空）")
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    pg.once("dialog", accept)
    pg.click("#drain-button")
    expect(row).to_have_class(re.compile(r"\bdrained\b"))
    expect(row.locator("td.state")).to_have_text("已停止调度")
    expect(pg.locator("#drain-button")).to_have_text("恢复调度")
    assert target["name_zh"] in asked[0]
    assert sites_by_id(server)[target["id"]]["drained"] is True

    with server.client() as c:
        after = [submit(c, **body) for _ in range(3)]
    for job in after:
        assert job["site"] != target["id"]
        placed = pg.locator(f"#placements-table tr[data-job='{job['id']}']")
        expect(placed).to_have_attribute("data-site", job["site"])

    pg.click("#drain-button")  # undrain: no question asked
    expect(row).not_to_have_class(re.compile(r"\bdrained\b"))
    assert until(lambda: sites_by_id(server)[target["id"]]["drained"], lambda d: d is False) \
        is False
    assert traffic.problems == [] and traffic.outside() == []


def test_changing_capacity_from_the_page(page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    open_dashboard(pg, server, "?lang=en")
    site = sites_by_id(server)["zhongwei"]
    installed = next(p["capacity_units"] for p in site["pools"] if p["kind"] == "intelligent")
    pg.locator("#sites-table tr[data-site='zhongwei']").click()
    expect(pg.locator("#detail-site")).to_have_text("Zhongwei")
    field = pg.locator("#capacity-fields input[name='intelligent']")
    expect(field).to_have_value(str(installed))

    field.fill("1234")
    pg.click("#capacity-apply")
    expect(pg.locator("#action-status")).to_have_text("Updated: Zhongwei")
    cell = pg.locator("#sites-table tr[data-site='zhongwei'] td.pool[data-kind='intelligent']")
    expect(cell).to_have_attribute("data-capacity", "1234")
    expect(cell.locator(".cap")).to_have_text("1,234")
    pools = {p["kind"]: p["capacity_units"] for p in sites_by_id(server)["zhongwei"]["pools"]}
    assert pools["intelligent"] == 1234

    pg.locator("#capacity-fields input[name='intelligent']").fill(str(installed))
    pg.click("#capacity-apply")
    expect(cell).to_have_attribute("data-capacity", str(installed))
    assert traffic.problems == [] and traffic.outside() == []


def test_a_tenant_token_is_not_let_in_and_logout_forgets_the_token(
        page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    pg.goto(f"{server.url}/?lang=en")
    pg.fill("#token-input", TENANT_TOKEN)
    pg.click("#login button[type=submit]")
    expect(pg.locator("#login-error")).to_have_text("This is not an operator token")
    expect(pg.locator("#login")).to_be_visible()

    pg.fill("#token-input", OPS_TOKEN)
    pg.click("#login button[type=submit]")
    expect(pg.locator("#login")).to_be_hidden()
    pg.click("#logout")
    expect(pg.locator("#login")).to_be_visible()
    pg.reload()
    expect(pg.locator("#login")).to_be_visible()
    assert traffic.outside() == []


def test_the_capacity_form_refuses_absurd_values_and_asks_before_a_cut_below_busy(
        page: tuple[Any, Traffic], server: Server) -> None:
    pg, traffic = page
    patches: list[Any] = []
    pg.on("request", lambda r: r.method == "PATCH" and patches.append(r.post_data_json))
    with server.client() as c:
        job = submit(c, origin="bth", kind="intelligent", units=24, duration_s=LONG_S,
                     deadline_in_s=2 * LONG_S)
    site = sites_by_id(server)[job["site"]]
    pools = {p["kind"]: p["capacity_units"] for p in site["pools"]}
    open_dashboard(pg, server, "?lang=en")
    pg.locator(f"#sites-table tr[data-site='{site['id']}']").click()
    expect(pg.locator("#detail-site")).to_have_text(site["name_en"])
    status = pg.locator("#action-status")
    ai = pg.locator("#capacity-fields input[name='intelligent']")
    general = pg.locator("#capacity-fields input[name='general']")
    expect(ai).to_have_value(str(pools["intelligent"]))

    # refused in the page, naming the field and the value; nothing is sent
    for value in ("1e15", "12.5", "-3", "many"):
        ai.fill(value)
        pg.click("#capacity-apply")
        expect(status).to_have_text(f"AI: “{value}” is not a whole number ≥ 0")
        expect(status).to_have_class(re.compile(r"\bbad\b"))
    limit = 100 * pools["intelligent"]
    ai.fill(str(limit + 1))
    pg.click("#capacity-apply")
    expect(status).to_have_text(f"AI: {limit + 1:,} is above the limit of {limit:,} "
                                "(100 × installed)")
    # an empty field leaves its pool as it is
    general.fill("")
    ai.fill("")
    pg.click("#capacity-apply")
    expect(status).to_contain_text("Nothing changed")
    assert patches == []

    # a cut below the units busy now is asked about first, as drain is
    with server.client() as c:
        live = c.get("/v1/live").json()["sites"]
    busy = next(p["busy_units"] for s in live if s["site"] == site["id"]
                for p in s["pools"] if p["kind"] == "intelligent")
    assert busy >= 24
    asked: list[str] = []

    def answer(accept: bool) -> Any:
        def on(dialog: Any) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return on

    ai.fill("1")
    pg.once("dialog", answer(False))
    pg.click("#capacity-apply")
    until(lambda: len(asked), lambda n: n == 1)
    assert f"from {pools['intelligent']:,} to 1, below the {busy:,} units busy now" in asked[0]
    assert site["name_en"] in asked[0]
    assert patches == []  # declined: nothing sent
    pg.once("dialog", answer(True))
    pg.click("#capacity-apply")
    expect(status).to_contain_text(f"Updated: {site['name_en']} · Note: "
                                   f"capacity_units.intelligent = 1 is below the {busy} units")
    assert patches == [{"capacity_units": {"intelligent": 1}}]  # the empty field left out
    now = {p["kind"]: p["capacity_units"] for p in sites_by_id(server)[site["id"]]["pools"]}
    assert now == {**pools, "intelligent": 1}

    with server.client() as c:  # as it was, for the other tests
        assert c.patch(f"/v1/sites/{site['id']}",
                       json={"capacity_units": {"intelligent": pools["intelligent"]}}
                       ).status_code == 200
    assert traffic.problems == [] and traffic.outside() == []
