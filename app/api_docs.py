"""The interactive documentation, `/docs` (Swagger UI) and `/redoc`, served whole by tousu itself.

FastAPI's own pages load their script and style from a CDN (and ReDoc its fonts from Google): on a company intranet,
or wherever that CDN is slow or blocked, they stay blank. These pages load nothing from anywhere but tousu: the
assets come from the pinned `fastapi-offline` package (Swagger UI 5.32.6, ReDoc 2.5.3) and are served under
`/docs/assets`, and a Content-Security-Policy stops the browser from asking anywhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs/assets"
SWAGGER_UI_PATH = "/docs"
REDOC_PATH = "/redoc"
# The browser itself keeps the pages to tousu: ReDoc's footer fetches its maker's logo from a CDN, with no option to
# turn it off. Inline script and style: the page's start-up script and the styles ReDoc injects; blob: for ReDoc's
# search worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:"
)


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets; the app is made with `docs_url=None, redoc_url=None`."""
    assert app.openapi_url and app.swagger_ui_oauth2_redirect_url
    openapi_url, oauth2_redirect_url = app.openapi_url, app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    # Plain routes, as FastAPI adds its own pages: outside the OpenAPI document and the API's dependencies.
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=root + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route(SWAGGER_UI_PATH, same_origin_only(swagger_ui), include_in_schema=False)
    app.add_route(oauth2_redirect_url, swagger_ui_oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, same_origin_only(redoc), include_in_schema=False)


def same_origin_only(
    page: Callable[[Request], Awaitable[HTMLResponse]],
) -> Callable[[Request], Awaitable[HTMLResponse]]:
    async def served(request: Request) -> HTMLResponse:
        response = await page(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    return served
