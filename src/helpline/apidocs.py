"""GET /api/docs: Swagger UI served from the package, under a CSP that allows no other origin.

The UI's files come from the `fastapi-offline` distribution (Swagger UI's own release files,
packaged for FastAPI); nothing is fetched from a CDN, so the page works without internet and
no third-party script runs on the origin where staff are signed in. The page has no inline
script: its start-up code is a same-origin file too, so `script-src 'self'` suffices.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

DOCS_PATH = "/api/docs"
ASSETS_PATH = DOCS_PATH + "/assets"

# Swagger UI sets some styles inline (style attributes, not scripts); images are our favicon
# and the SVG icons it embeds as data: URLs.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

_INIT_JS = """\
"use strict";
// Started from a file, not an inline script, so the page's CSP needs no 'unsafe-inline'.
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
"""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, openapi_url: str) -> None:
    """Add the page, its start-up script and Swagger UI's files to `app`."""
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH)
    async def docs_page(request: Request) -> HTMLResponse:
        root = escape(str(request.scope.get("root_path", "")))
        title = escape(f"{app.title} API")
        html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="{root}{ASSETS_PATH}/favicon.png">
<link rel="stylesheet" href="{root}{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{escape(openapi_url)}"></div>
<script src="{root}{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{root}{DOCS_PATH}/init.js"></script>
</body>
</html>
"""
        return HTMLResponse(html, headers=_HEADERS)

    @router.get(DOCS_PATH + "/init.js")
    async def docs_init() -> Response:
        return Response(_INIT_JS, media_type="text/javascript", headers=_HEADERS)

    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=_assets_dir()), name="apidocs-assets")
