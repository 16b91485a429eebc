"""Grid coordination on the dashboard (issue 14), in a real browser against a real
`suanwang serve`: the selected site's panel draws the flexibility curve (24 hours ahead) and
lists the site's grid events, in Chinese and in English."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web_support import OPS_TOKEN, Server, Traffic

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

expect.set_options(timeout=60_000)


def test_the_site_panel_draws_flexibility_and_lists_grid_events(
        page: tuple[Any, Traffic], server: Server, artifacts: Path) -> None:
    pg, traffic = page
    pg.goto(f"{server.url}/#token={OPS_TOKEN}")
    pg.wait_for_selector("body[data-ready='1']")
    site = pg.evaluate("() => window.suanwang.state.selected")
    with server.client() as c:
        clock = c.get("/healthz").json()
        now = datetime.fromisoformat(clock["clock"]["start_utc"]) + timedelta(
            seconds=clock["now_s"])
        start = now + timedelta(days=2)
        r = c.post("/v1/grid/events", json={
            "id": "web-shed", "kind": "shed", "site": site, "target_share": 0.2,
            "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
            "source": "test"})
        assert r.status_code == 201, r.text
    pg.reload()
    pg.wait_for_selector("body[data-ready='1']")
    expect(pg.locator("#chart-grid-flex")).to_have_attribute("data-hours", "24")
    expect(pg.locator("#grid-flex-title")).to_have_text("电网调节能力（未来24小时）")
    item = pg.locator('#grid-events li[data-event="web-shed"]')
    expect(item).to_have_attribute("data-state", "notified")
    expect(item).to_contain_text("已生效")
    series = pg.evaluate("""() => echarts.getInstanceByDom(
        document.querySelector('#chart-grid-flex')).getOption().series.map(s => s.id)""")
    assert series == ["shed", "add", "expected"]
    pg.click("#lang-toggle")
    expect(pg.locator("#grid-flex-title")).to_have_text("Grid flexibility (next 24 h)")
    expect(item).to_contain_text("notified")
    pg.screenshot(path=str(artifacts / "dashboard-grid.png"), full_page=True)
    assert traffic.problems == []
    with server.client() as c:
        assert c.delete("/v1/grid/events/web-shed").status_code == 200
