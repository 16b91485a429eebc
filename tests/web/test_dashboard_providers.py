"""The providers on the dashboard (issue 12, multi-cloud monitoring), in a real browser against
a real `suanwang serve`: the national provider view and the provider table in the selected
site's panel, with units busy / installed, jobs, and the measured SLA beside the promised one,
in Chinese and in English.

Every wait is for a condition (Playwright's `expect` retries until it holds, generously);
nothing is timed. The job runs for 10 run-days, so it holds its units while the module runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from web_support import OPS_TOKEN, Server, Traffic, until

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed", allow_module_level=True)

expect.set_options(timeout=60_000)

LONG_S = 10 * 86400.0


def test_national_and_per_site_provider_tables(page: tuple[Any, Traffic], server: Server,
                                               artifacts: Path) -> None:
    pg, traffic = page
    with server.client() as c:
        # within 5 ms of bth, huawei sells only at jining
        r = c.post("/v1/jobs", json={"origin": "bth", "kind": "intelligent", "units": 8,
                                     "duration_s": LONG_S, "rtt_bound_ms": 5.0,
                                     "providers_prefer": ["huawei"]})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        until(lambda: c.get(f"/v1/jobs/{job_id}").json(),
              lambda j: j["state"] == "running", limit_s=90.0)
        at_jining = [p for p in c.get("/v1/providers").json()["providers"]
                     if p["site"] == "jining"]
        national = c.get("/v1/providers").json()["national"]
    assert any(p["provider"] == "huawei" for p in at_jining)

    pg.goto(f"{server.url}/#token={OPS_TOKEN}")
    pg.wait_for_selector("body[data-ready='1']")
    expect(pg.locator("#providers-title")).to_have_text("全国服务商（多云）")
    rows = pg.locator("#providers-table tbody tr")
    expect(rows).to_have_count(len(national))
    huawei = pg.locator('#providers-table tbody tr[data-provider="huawei"]')
    expect(huawei.locator('span.pu[data-kind="intelligent"]')).to_have_attribute(
        "data-busy", "8")
    expect(huawei.locator("td.jobs")).to_have_text("1 / 0 / 0")  # running / placed / finished
    expect(huawei.locator("td.avail")).to_contain_text("100.00%")  # the clock never fails
    expect(huawei.locator("td.start")).to_have_attribute("data-samples", "1")

    # the site's panel lists the providers selling there
    pg.click('#sites-table tbody tr[data-site="jining"]')
    site_rows = pg.locator("#detail-providers-table tbody tr")
    expect(site_rows).to_have_count(len(at_jining))
    here = pg.locator('#detail-providers-table tbody tr[data-provider="jining/huawei"]')
    expect(here.locator('span.pu[data-kind="intelligent"]')).to_have_attribute(
        "data-busy", "8")
    name = next(p for p in at_jining if p["provider"] == "huawei")
    expect(here.locator("th .name")).to_have_text(name["name_zh"])

    pg.click("#lang-toggle")
    expect(pg.locator("#providers-title")).to_have_text("Providers nationwide (multi-cloud)")
    expect(here.locator("th .name")).to_have_text(name["name_en"])
    expect(here.locator("td.start")).to_contain_text("within the promise")
    pg.screenshot(path=str(artifacts / "dashboard-providers-en.png"), full_page=True)
    assert traffic.problems == []
    assert traffic.outside() == []
