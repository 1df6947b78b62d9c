"""A local test plugin with web pages, written as a vendor would (the crmkit_web_pages hook)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import PlainTextResponse

import crmkit
from crmkit.plugin import N_, ValidationError, WebPage, WebPages, WorkSection, countdown

PLUGIN = crmkit.PluginInfo(name="pagetest", description="Web pages for the web app tests.")
SEEN: list[tuple[str, dict]] = []
"""The POSTs the handler ran: (member, form)."""
BROKEN: list[Exception] = []
"""What crmkit_my_work raises (the first one), when the test sets it."""
TEMPLATE = ["pagetest_item.html"]
"""The template of the calls section's items."""


def hello(site, request, principal, form):
    """The plugin's template (extending the core's base) with the member and a value."""
    return site.render(request, "pagetest.html", principal=principal,
                       greeting=request.query_params.get("greeting", "<b>hello</b>"))


def item(site, request, principal, form):
    number = request.path_params["number"]
    if number > 100:
        raise ValidationError(f"item {number}: at most 100")
    return PlainTextResponse(f"item {number + 1}")


def note(site, request, principal, form):
    SEEN.append((principal.handle, dict(form)))
    return PlainTextResponse("noted")


def add(site, request, principal, form):
    """My work's action: create the customer named by the form, through the core API."""
    return site.my_work_action(request, principal, "customers",
                               {"external_id": form.get("customer", "")}, "pagetest.added")


@crmkit.hookimpl
def crmkit_my_work(site, principal, now):
    if BROKEN:
        raise BROKEN[0]
    due = [{"title": "<i>Ring</i> Ada", "customer": "ADA",
            "countdown": countdown("2025-01-01T14:05:00+00:00", now)}]
    return [WorkSection("pagetest-calls", "Calls to make", due, TEMPLATE[0],
                        "No calls.", hint="Ring them today.", values={"names": {}},
                        notices={"pagetest.added": "Customer added."}),
            WorkSection("pagetest-empty", "Nothing here", [], "pagetest_item.html",
                        "No letters.")]


@crmkit.hookimpl
def crmkit_web_pages(crm):
    return WebPages(Path(__file__).parent / "pagetest", [
        WebPage("/hello", hello, title=N_("Hello page"), permission="customers.read"),
        WebPage("/items/{number:int}", item, title="Items"),
        WebPage("/notes", note, methods=["POST"]),
        WebPage("/add", add, methods=["POST"]),
    ])
