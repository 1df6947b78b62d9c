"""This plugin's web pages (the plugin part ``pages``): My work's **Acknowledge**
(``work.py`` lists the hand-offs)."""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request
from starlette.responses import Response

from crmkit.plugin import Site, WebPage


def acknowledge(site: Site, request: Request, principal, form) -> Response:
    """Acknowledge the hand-off for the member's team through ``POST items/{id}/acknowledge``
    (409 on My work when it was acknowledged already)."""
    item = urllib.parse.quote(request.path_params["item_id"], safe="")
    return site.my_work_action(request, principal, f"collaborative/items/{item}/acknowledge",
                               None, "collaborative.handoff")


PAGES = [WebPage("/my-work/handoffs/{item_id}/acknowledge", acknowledge, methods=["POST"])]
"""The plugin's web pages."""
