"""``create_app(crm)``: the ASGI application of ``crmkit serve`` (Starlette).

Routes: ``/api/v1/...`` (the core's resources and every enabled plugin's endpoints, through
:class:`crmkit.web.dispatch.Dispatcher`), ``/openapi.json``, ``/docs`` and ``/health``; the
messages' tracking links (``/t/...``, no sign-in, :mod:`crmkit.web.tracking`); the
staff web app's pages (``/login``, ``/customers``…, :mod:`crmkit.web.pages`; each area of
the app, such as :mod:`crmkit.web.mywork`, adds its routes here: an area imports
:mod:`crmkit.web.pages`, so the pages module cannot import it); last, the enabled plugins'
pages at ``/<plugin>/…`` (:mod:`crmkit.web.plugin_pages`).  Every response carries
:data:`SECURITY_HEADERS` (:class:`SecurityHeaders`).
A developer can mount the application inside their own ASGI app::

    from starlette.applications import Starlette
    from starlette.routing import Mount
    crm = crmkit.CRM.open("sqlite:///crm.db")
    app = Starlette(routes=[Mount("/crm", app=crmkit.web.create_app(crm))])
"""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .dispatch import (API_PREFIX, MAX_BODY_BYTES, ApiError, ApiRequest, ApiResponse, Dispatcher,
                       allow_header, problem, route_path)
from .endpoints import METHODS
from .openapi import openapi_document
from .schemas import parse_integer


def create_app(crm, *, max_body_bytes: int = MAX_BODY_BYTES, close_crm: bool = False,
               threads: int | None = None) -> Starlette:
    """The ASGI application serving ``crm``'s HTTP API.

    ``max_body_bytes`` bounds a request body (413 beyond).  ``close_crm`` closes the CRM
    when the application shuts down (``crmkit serve`` opens one per worker process);
    otherwise the caller keeps owning it.  ``threads``: how many requests the process
    answers at once, set on the event loop's default thread limiter when the application
    starts (``crmkit serve --threads``; the process is the server's own); None leaves the
    limiter as the host application has it.
    """
    from . import admin, dashboards, mywork
    from .pages import Pages
    from .plugin_pages import plugin_routes
    from .resources import core_endpoints
    from .tracking import tracking_routes
    from .webhooks import webhook_endpoints

    dispatcher = Dispatcher(crm, [*core_endpoints(), *webhook_endpoints()], max_body_bytes)
    site = Pages(crm, dispatcher)

    async def api(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except ApiError as exc:
            return _send(problem(exc.status, exc.detail, headers=exc.headers))
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = route_path(request.scope).removeprefix(f"{API_PREFIX[1:]}/")
        answer = await run_in_threadpool(dispatcher.handle, ApiRequest(
            request.method, path, request.query_params.multi_items(), headers, body))
        return _send(answer)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        table = await run_in_threadpool(dispatcher.refresh)
        return JSONResponse(openapi_document(table))

    async def docs_page(request: Request) -> Response:
        return HTMLResponse(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_POLICY})

    async def docs_asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in DOCS_ASSETS:
            return _send(problem(404, f"no documentation file {name!r}"))
        return FileResponse(swagger_ui_folder() / name, media_type=DOCS_ASSETS[name])

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        headers = dict(getattr(exc, "headers", None) or {})
        detail = str(getattr(exc, "detail", "")) or "no such page"
        if status == 405:  # Starlette lists the route's methods in no fixed order
            headers["Allow"] = allow_header(headers["Allow"].split(", "))
            detail = (f"{request.method} is not allowed on {request.url.path} (allowed: "
                      f"{headers['Allow']})")
        return _send(problem(status, detail, headers=headers))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        if threads is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            yield
        finally:
            if close_crm:
                crm.close()

    core = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Route("/docs/{name}", docs_asset, methods=["GET"]),
        Route("/api/v1/{path:path}", api, methods=list(METHODS)),
        *tracking_routes(crm),
        *site.routes(),
        *mywork.routes(site),
        *admin.routes(site),
        *dashboards.routes(site),
    ]
    app = Starlette(routes=[*core, *plugin_routes(site, core)], lifespan=lifespan,
                    middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={HTTPException: http_error})
    app.state.dispatcher = dispatcher
    return app


SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; object-src 'none'; base-uri 'none'; "
                                "form-action 'self'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""The headers of every response, unless it sets one of them itself (as /docs does its
policy): scripts, styles and images only from the app's own files (no inline script, style
attribute or event handler), forms sent only to the app, no page shown inside another
site's frame, no content type guessed, no address sent to other sites."""

DOCS_POLICY = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
"""/docs's Content-Security-Policy: Swagger UI needs inline script and styles."""


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response that does not
    set them itself."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


DOCS_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript",
               "favicon-32x32.png": "image/png"}
"""The Swagger UI files /docs uses, served from the swagger-ui-py package (no CDN)."""

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>crmkit API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui",
                             persistAuthorization: false});
</script>
</body>
</html>
"""
"""The interactive page: Swagger UI on ``/openapi.json`` (relative URLs, so it works
wherever the application is mounted)."""


def swagger_ui_folder() -> Path:
    """The folder of Swagger UI's files in the installed swagger-ui-py package (found without
    importing it: crmkit needs its files, not its code)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (a crmkit dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _send(answer: ApiResponse) -> Response:
    return Response(answer.body, answer.status, dict(answer.headers), answer.media_type)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    too_large = ApiError(413, f"the request body is larger than {limit} bytes (the limit)")
    declared = parse_integer(request.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["create_app", "swagger_ui_folder", "SecurityHeaders", "SECURITY_HEADERS",
           "DOCS_POLICY", "DOCS_PAGE", "DOCS_ASSETS"]
