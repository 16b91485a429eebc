"""The dashboard as an operator sees it on a laptop (1366 x 768) and a wall screen
(1920 x 1080), in Chinese and English: screenshots of each (kept under the test's tmp path),
and what they must show: the sites table and the controls on the first screen of a wide
display, every site named on the map, flows coloured by their origin, money without false
precision, charts on hour ticks updated in place, a legend that hides nothing, and a logout
that leaves nothing of the last operator's view behind.

Jobs run for 10 run-days, so that the flows they make stay while the module runs.
"""

from __future__ import annotations

import math
import os
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import OPS_TOKEN, Server, Traffic, until

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

expect.set_options(timeout=30_000)

LONG_S = 10 * 86400.0
SIZES = [(1366, 768), (1920, 1080)]
ORIGINS = ("bth", "yrd", "gba", "cc")


def submit(c: httpx.Client, **body: Any) -> dict[str, Any]:
    r = c.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    return dict(until(lambda: c.get(f"/v1/jobs/{job_id}").json(),
                      lambda j: j["site"] is not None and j["state"] in ("placed", "running")))


@pytest.fixture(scope="module")
def flows(server: Server) -> list[dict[str, Any]]:
    """One long job from each demand region (so that every region has a flow), and the
    network's sites and regions."""
    with server.client() as c:
        for origin in ORIGINS:
            submit(c, origin=origin, kind="intelligent", units=40, duration_s=LONG_S,
                   deadline_in_s=2 * LONG_S)
        return list(c.get("/v1/dashboard/overview").json()["flows"])


def open_at(browser: Any, server: Server, size: tuple[int, int], lang: str,
            ) -> tuple[Any, Any, Traffic]:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  reduced_motion="reduce", device_scale_factor=1)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    traffic = Traffic(server.url)
    traffic.watch(pg)
    pg.goto(f"{server.url}/?lang={lang}#token={OPS_TOKEN}")
    pg.wait_for_selector("body[data-ready='1']")
    pg.wait_for_function("() => window.suanwang.state.series !== null")
    return context, pg, traffic


def in_viewport(pg: Any, selector: str, size: tuple[int, int]) -> None:
    box = pg.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= size[0] + 0.5, (selector, box)
    assert box["y"] + box["height"] <= size[1] + 0.5, (selector, box)


def names(server: Server, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    with server.client() as c:
        sites = c.get("/v1/sites").json()
        regions = c.get("/v1/regions").json()
    return ({s["id"]: s[f"name_{lang}"] for s in sites},
            {r["id"]: r[f"name_{lang}"] for r in regions})


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_screen_at_laptop_and_wall_sizes(browser: Any, server: Server,
                                             flows: list[dict[str, Any]], tmp_path: Path,
                                             size: tuple[int, int], lang: str) -> None:
    context, pg, traffic = open_at(browser, server, size, lang)
    try:
        site_names, region_names = names(server, lang)
        # every label laid out (after the map's own layout) before the picture is taken
        pg.wait_for_function("(n) => window.suanwang.labelBoxes().length === n",
                             arg=len(site_names) + len(region_names))
        shot = tmp_path / f"dashboard-{lang}-{size[0]}x{size[1]}.png"
        pg.screenshot(path=str(shot))
        assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
        print(f"screenshot: {shot}")

        if size == (1920, 1080):  # a wall screen: the table and the controls on screen
            in_viewport(pg, "#sites-table", size)
            in_viewport(pg, "#drain-button", size)
            in_viewport(pg, "#capacity-apply", size)
            in_viewport(pg, "#chart-load", size)
            in_viewport(pg, "#map", size)
            # no column of the sites table is cut off
            assert pg.eval_on_selector(".sites .scroll", "e => e.scrollWidth <= e.clientWidth")

        # every site and region is named on the map, and no two names overlap
        option = pg.evaluate("() => window.suanwang.mapOption()")
        series = {s["id"]: s for s in option["series"]}
        assert series["sites"]["label"]["show"] is True
        assert {d["id"]: d["name"] for d in series["sites"]["data"]} == site_names
        assert all(d.get("label", {}).get("show", True) for d in series["sites"]["data"])
        assert {d["id"]: d["name"] for d in series["regions"]["data"]} == region_names
        boxes = pg.evaluate("() => window.suanwang.labelBoxes()")
        assert {b["key"] for b in boxes} == ({f"s:{i}" for i in site_names}
                                             | {f"r:{i}" for i in region_names})
        for a, b in combinations(boxes, 2):
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, (a, b)
        width, height = pg.evaluate(
            "() => { const r = document.querySelector('#map').getBoundingClientRect();"
            " return [r.width, r.height]; }")
        for b in boxes:
            assert b["x"] >= 0 and b["y"] >= 0, b
            assert b["x"] + b["w"] <= width and b["y"] + b["h"] <= height, b
            # nor is any name written over another site's or region's marker
            for other in boxes:
                m = other["marker"]
                nearest_x = min(max(m["x"], b["x"]), b["x"] + b["w"])
                nearest_y = min(max(m["y"], b["y"]), b["y"] + b["h"])
                over = math.hypot(nearest_x - m["x"], nearest_y - m["y"]) < m["r"]
                assert other is b or not over, (b["key"], other["key"])

        # flows: one series per origin, each in its own colour, with an arrow; the legend
        # names the regions, whose markers wear their flows' colour
        colours = {}
        for origin in region_names:
            s = series[f"flows:{origin}"]
            assert s["name"] == region_names[origin]
            assert "arrow" in s["symbol"]
            colours[origin] = s["lineStyle"]["color"]
            expected = {f["site"] for f in flows if f["origin"] == origin}
            drawn = {d["flow"]["site"] for d in s["data"]}
            assert drawn == expected and drawn, origin
        assert len(set(colours.values())) == len(colours)
        assert {d["id"]: d["itemStyle"]["color"] for d in series["regions"]["data"]} == colours
        assert set(option["legend"][0]["data"]) == set(region_names.values())

        # money to 3 significant figures, in the language's units
        cost = pg.locator("[data-kpi='costNow'] .value").inner_text()
        money = r"¥\d+(\.\d+)?(万|亿)?/时" if lang == "zh" else r"¥\d+(\.\d+)?[kMB]?/h"
        assert re.fullmatch(money, cost), cost
        assert len(re.sub(r"\D", "", cost).lstrip("0")) <= 3, cost

        # the charts: a time axis with its ticks on the hour, and a legend showing all series
        for chart in ("#chart-energy", "#chart-load"):
            ticks = pg.evaluate(
                """(sel) => echarts.getInstanceByDom(document.querySelector(sel)).getModel()
                     .getComponent('xAxis', 0).axis.scale.getTicks().map((t) => t.value)""",
                chart)
            assert len(ticks) >= 3 and all(t % 3_600_000 == 0 for t in ticks), ticks
            chart_option = pg.evaluate(
                "(sel) => echarts.getInstanceByDom(document.querySelector(sel)).getOption()",
                chart)
            legend = chart_option["legend"][0]
            assert legend["type"] == "plain"
            assert set(legend["data"]) == {s["name"] for s in chart_option["series"]}
        assert traffic.problems == [] and traffic.outside() == []
    finally:
        context.close()


def test_money_has_three_significant_figures(browser: Any, server: Server) -> None:
    cases = {"zh": {537597.22: "¥53.8万", 999.4: "¥999", 12.345: "¥12.3", 0: "¥0",
                    123_456_789: "¥1.23亿", 9999.6: "¥1万", -4321: "−¥4320"},
             "en": {537597.22: "¥538k", 999.4: "¥999", 12.345: "¥12.3", 0: "¥0",
                    123_456_789: "¥123M", 999_950: "¥1M", 4.2e9: "¥4.2B"}}
    for lang, expected in cases.items():
        context, pg, _ = open_at(browser, server, SIZES[0], lang)
        try:
            got = {x: pg.evaluate("(x) => window.suanwang.money(x)", x) for x in expected}
            assert got == expected
        finally:
            context.close()


def test_charts_are_updated_in_place_while_polling(browser: Any, server: Server) -> None:
    context, pg, _ = open_at(browser, server, SIZES[1], "en")
    try:
        pg.locator("#sites-table tr[data-site='zhongwei']").click()
        expect(pg.locator("#detail-site")).to_have_text("Zhongwei")
        # the charts' canvases are marked: a chart drawn afresh would not keep the mark
        pg.evaluate("""() => { for (const c of document.querySelectorAll(
                          '#chart-energy canvas, #chart-load canvas')) c.dataset.mark = '1'; }""")
        before = pg.evaluate("() => window.suanwang.chartStats()")
        loaded = pg.evaluate("() => window.suanwang.state.seriesAt")
        # wait for the next load of the series and a few polls after it
        pg.wait_for_function(
            """([t, n]) => window.suanwang.state.seriesAt > t
                           && window.suanwang.chartStats().inPlace >= n""",
            arg=[loaded, before["inPlace"] + 6])
        after = pg.evaluate("() => window.suanwang.chartStats()")
        assert after["fresh"] == before["fresh"]  # nothing drawn from empty
        assert pg.locator("#chart-load canvas[data-mark='1']").count() >= 1
        assert pg.locator("#chart-energy canvas[data-mark='1']").count() >= 1
        option = pg.evaluate(
            "() => echarts.getInstanceByDom(document.querySelector('#chart-load')).getOption()")
        assert option["animation"] is False
        ids = [s["id"] for s in option["series"]]
        assert "intelligent:actual" in ids and "power:committed" in ids
        # another site is drawn afresh
        pg.locator("#sites-table tr[data-site='guian']").click()
        pg.wait_for_function("(n) => window.suanwang.chartStats().fresh > n",
                             arg=after["fresh"])
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_logout_empties_every_view_and_stops_polling(browser: Any, server: Server,
                                                     flows: list[dict[str, Any]],
                                                     lang: str) -> None:
    context, pg, traffic = open_at(browser, server, SIZES[1], lang)
    try:
        expect(pg.locator("#conn")).to_have_text("● 实时" if lang == "zh" else "● Live")
        assert pg.locator("#sites-table tbody tr").count() > 0
        pg.click("#logout")
        expect(pg.locator("#login")).to_be_visible()
        expect(pg.locator("#conn")).to_have_text("○ 已退出" if lang == "zh" else "○ Logged out")
        expect(pg.locator("#conn")).to_have_class(re.compile(r"\boff\b"))
        for sel in ("#sites-table tbody tr", "#placements-table tbody tr", "#kpi-now .kpi",
                    "#kpi-since .kpi", "#capacity-fields input"):
            expect(pg.locator(sel)).to_have_count(0)
        for sel in ("#policy-name", "#run-clock", "#detail-site"):
            expect(pg.locator(sel)).to_have_text("")
        series = pg.evaluate("() => window.suanwang.mapOption().series ?? []")
        assert series == []
        for chart in ("#chart-energy", "#chart-load"):
            assert pg.evaluate(
                "(s) => echarts.getInstanceByDom(document.querySelector(s)).getOption()"
                ".series ?? []", chart) == []
        # no poll after the logout: three poll periods pass without a request to the API
        asked = len([u for u in traffic.urls if "/v1/" in u])
        pg.wait_for_timeout(6_000)
        assert len([u for u in traffic.urls if "/v1/" in u]) == asked
        # logging in again shows the data again
        pg.fill("#token-input", OPS_TOKEN)
        pg.click("#login button[type=submit]")
        expect(pg.locator("#login")).to_be_hidden()
        expect(pg.locator("#conn")).to_have_text("● 实时" if lang == "zh" else "● Live")
        assert until(lambda: pg.locator("#sites-table tbody tr").count(), lambda n: n > 0)
    finally:
        context.close()
