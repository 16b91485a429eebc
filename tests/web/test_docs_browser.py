"""/docs in Chromium: Swagger UI renders from the service's own files (nothing fetched from
elsewhere), and its Authorize button takes a bearer token that the page then sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from web_support import TENANT_TOKEN, Server


def test_docs_render_offline_and_authorize_with_a_token(
        page: tuple[Any, Any], server: Server, artifacts: Path) -> None:
    pg, traffic = page
    pg.goto(f"{server.url}/docs")
    pg.wait_for_selector(".opblock-summary-path")
    paths = pg.locator(".opblock-summary-path").all_inner_texts()
    assert "/v1/jobs" in paths and "/v1/jobs/{job_id}/logs" in paths
    pg.locator("button.authorize").first.click()
    pg.locator(".modal-ux input").first.fill(TENANT_TOKEN)
    pg.locator(".modal-ux button.authorize").first.click()
    pg.locator(".modal-ux button.btn-done").first.click()
    block = pg.locator(".opblock", has=pg.locator(".opblock-summary-path",
                                                  has_text="/v1/regions")).first
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    with pg.expect_response(lambda r: r.url.endswith("/v1/regions")) as got:
        block.locator("button.execute").click()
    response = got.value
    assert response.status == 200
    assert response.request.headers.get("authorization") == f"Bearer {TENANT_TOKEN}"
    pg.screenshot(path=str(artifacts / "docs-1366.png"))
    # the title's 算网 is drawn in the bundled font, not as empty boxes
    assert pg.evaluate("document.fonts.check('700 36px \"Suanwang Sans SC\"', '算网')")
    assert pg.evaluate("[...document.fonts].some(f => f.family.includes('Suanwang')"
                       " && f.status === 'loaded')")
    assert traffic.outside() == []
    assert traffic.problems == []
