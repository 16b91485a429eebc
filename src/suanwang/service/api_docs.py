"""`/docs`: Swagger UI served from the package (no CDN), on the app's OpenAPI document.

The assets live in `swagger_ui/` (Swagger UI's own files and licence) and are served under
`/docs/assets/`; the bearer token is an HTTPBearer security scheme of the document, so the
page has an Authorize button.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).parent / "swagger_ui"
ASSETS_URL = "/docs/assets"
# the title 算网 in the dashboard's bundled Chinese font (a machine may have none)
CJK_FONT_STYLE = ('<style>@font-face{font-family:"Suanwang Sans SC";font-weight:700;'
                  'src:url("/web/vendor/noto-sans-sc-subset-700.woff") format("woff")}'
                  '.swagger-ui .info .title{font-family:sans-serif,"Suanwang Sans SC"}</style>')


def mount_docs(app: FastAPI) -> None:
    """Serve /docs from local files; `app` must be made with docs_url=None, redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True})
        html = bytes(page.body).decode("utf-8").replace("</head>", CJK_FONT_STYLE + "</head>", 1)
        return HTMLResponse(html)
