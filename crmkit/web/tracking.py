"""Tracking links of messages, served without sign-in: clicks, opens and one-click unsubscribe.

``/t/c/{token}`` records a click and redirects (302) to the link's target, ``/t/o/{token}``
records an opening and answers a 1×1 transparent GIF, ``/t/u/{token}`` shows a confirmation
page (GET) and withdraws consent (POST: the page's button, or a mail program's RFC 8058
one-click ``List-Unsubscribe=One-Click``).  Tokens are made and checked by
:class:`crmkit.messaging.MessageService`: a forged or altered one is a 404 and records
nothing.  A HEAD request (a link checker) records nothing either.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from .signin import path_routes

PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00"
         b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
"""A 1×1 transparent GIF."""

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class Tracking:
    """The tracking handlers of one CRM."""

    def __init__(self, crm):
        self.crm = crm

    def page(self, request: Request, state: str, status: int = 200) -> HTMLResponse:
        from .pages import templates

        html = templates().get_template("tracking.html").render(
            root=request.scope.get("root_path", ""), state=state)
        return HTMLResponse(html, status, headers=NO_STORE)

    async def click(self, request: Request) -> Response:
        found = await run_in_threadpool(self.crm.messages.resolve, "c",
                                        request.path_params["token"])
        if found is None:
            return self.page(request, "invalid", 404)
        message, target = found
        if request.method == "GET":
            await run_in_threadpool(self.crm.messages.record_click, message, target)
        return RedirectResponse(target, 302, headers=NO_STORE)

    async def pixel(self, request: Request) -> Response:
        found = await run_in_threadpool(self.crm.messages.resolve, "o",
                                        request.path_params["token"])
        if found is None:
            return self.page(request, "invalid", 404)
        if request.method == "GET":
            await run_in_threadpool(self.crm.messages.record_open, found[0])
        return Response(PIXEL, 200, headers=NO_STORE, media_type="image/gif")

    async def confirm(self, request: Request) -> Response:
        found = await run_in_threadpool(self.crm.messages.resolve, "u",
                                        request.path_params["token"])
        if found is None:
            return self.page(request, "invalid", 404)
        return self.page(request, "confirm")

    async def unsubscribe(self, request: Request) -> Response:
        found = await run_in_threadpool(self.crm.messages.resolve, "u",
                                        request.path_params["token"])
        if found is None:
            return self.page(request, "invalid", 404)
        changed = await run_in_threadpool(self.crm.messages.unsubscribe, found[0])
        return self.page(request, "done" if changed else "already")

    def routes(self) -> list[BaseRoute]:
        return path_routes([("GET", "/t/c/{token}", self.click),
                            ("GET", "/t/o/{token}", self.pixel),
                            ("GET", "/t/u/{token}", self.confirm),
                            ("POST", "/t/u/{token}", self.unsubscribe)])


def tracking_routes(crm) -> list[BaseRoute]:
    """The tracking routes for ``crm`` (no sign-in)."""
    return Tracking(crm).routes()


__all__ = ["Tracking", "tracking_routes", "PIXEL"]
