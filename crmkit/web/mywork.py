"""My work ``/my-work``: what is waiting for the signed-in member, in sections the enabled
plugins give (the ``crmkit_my_work`` hook).

Each plugin whose ``<plugin>.read`` the member holds returns :class:`WorkSection` s: a
title, the items, the plugin's template showing one item, the text of an empty section, and
the notices its actions may leave.  The page shows them in plugin order, on the CRM clock,
with :func:`countdown` s written out ("2 h 5 min left", "breached 1 d 3 h ago": colour is
never the only signal).  An action is a plugin page (``crmkit_web_pages``) answering with
:meth:`crmkit.web.pages.Pages.my_work_action`: one API write, then this page with the
notice of the action's key, or with the refusal.  A plugin whose hook raises a crmkit error shows
its text in place of its sections; one that fails otherwise, or answers something else
than a list of :class:`WorkSection`, shows :data:`SECTIONS_FAILED` (logged).  The other
sections still show.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import attrs
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..errors import PluginError
from ..i18n import N_, gettext
from .cards import readable_answers
from .signin import signed_in, site_pages

log = logging.getLogger("crmkit.web")

SECTIONS_FAILED = N_("this plugin's work could not be shown (the server logged why)")
"""Shown in place of a plugin's sections when its hook fails with something else than a
crmkit error, or answers something else than a list of WorkSection."""


def span(seconds: float) -> dict[str, int]:
    """A length of time (its absolute value) as whole days, hours and minutes."""
    minutes = int(abs(seconds) // 60)
    return {"days": minutes // 1440, "hours": minutes // 60 % 24, "minutes": minutes % 60}


def countdown(due: str | None, now: dt.datetime, breached_at: str | None = None
              ) -> dict[str, Any] | None:
    """``{"due", "late", "span"}`` of a deadline (an ISO timestamp, as the API writes it) at
    ``now``: late once it passed (or the plugin recorded a breach); ``span`` is the time
    left, or how long ago it passed (:func:`span`).  The template ``work.html``'s macros
    write it out."""
    if due is None:
        return None
    seconds = (dt.datetime.fromisoformat(due) - now).total_seconds()
    return {"due": due, "late": seconds <= 0 or breached_at is not None, "span": span(seconds)}


@attrs.frozen
class WorkSection:
    """One section of My work.

    ``name`` (``<plugin>-<slug>``) marks the section (``data-section``); ``title`` heads it
    and ``hint`` (optional) explains it; ``items`` are shown in order, each rendered by the
    plugin's ``template`` (from its ``templates/`` folder, :class:`crmkit.plugin.WebPages`)
    as one ``<li>``, with ``item`` and ``values`` in its context besides the page's own
    (``root``, ``csrf``, ``csrf_field``, ``principal``, ``locale``, ``timezone``); ``empty``
    is shown when there are none.  ``notices`` maps the ``done`` keys the plugin's actions
    send back (``<plugin>.<key>``) to the line the page then shows.  Texts are shown as
    text; mark them for translation with ``gettext``.
    """

    name: str
    title: str
    items: tuple[Any, ...] = attrs.field(converter=tuple)
    template: str
    empty: str
    hint: str | None = None
    values: dict[str, Any] = attrs.field(factory=dict)
    notices: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ShownSection:
    """A section as the page shows it: its title, hint and items' HTML, or the problem
    that kept the plugin's sections from being shown."""

    name: str
    title: str
    hint: str | None = None
    items: tuple[Markup, ...] = ()
    empty: str = ""
    problem: str | None = None


def sections(site, request: Request, principal, now: dt.datetime
             ) -> tuple[list[ShownSection], dict[str, str]]:
    """Every section the enabled plugins give ``principal`` at ``now``, rendered, and the
    notices of their actions by ``done`` key."""
    shown, notices = [], {}
    arguments = {"site": site, "principal": principal, "now": now}
    for name, answer, error in readable_answers(site.crm, "crmkit_my_work", principal,
                                                arguments):
        if isinstance(error, PluginError):
            log.error("plugin %r: its My work sections failed: %s", name, error)
            problem = gettext(SECTIONS_FAILED)
        elif error is not None:
            problem = str(error)
        elif not (isinstance(answer, (list, tuple))
                  and all(isinstance(section, WorkSection) for section in answer)):
            log.error("plugin %r: crmkit_my_work returned %s, not a list of WorkSection",
                      name, type(answer).__name__)
            problem = gettext(SECTIONS_FAILED)
        else:
            problem = None
        if problem is None:
            try:
                rendered = _rendered(site, request, principal, name, answer)
            except Exception:  # the plugin's template: a missing one, a bug in it
                log.exception("plugin %r: its My work sections could not be rendered", name)
                problem = gettext(SECTIONS_FAILED)
        if problem is not None:
            shown.append(ShownSection(name, name, problem=problem))
            continue
        shown.extend(rendered)
        for section in answer:
            notices.update(section.notices)
    return shown, notices


def _rendered(site, request: Request, principal, plugin: str,
              sections: list[WorkSection]) -> list[ShownSection]:
    """``plugin``'s sections with each item rendered by the plugin's template."""
    folder = site.plugin_pages.folder(plugin)
    return [ShownSection(section.name, section.title, section.hint, empty=section.empty,
                         items=tuple(site.fragment(request, folder, section.template,
                                                   principal=principal, item=item,
                                                   **section.values)
                                     for item in section.items))
            for section in sections]


def show(site, request: Request, principal, status: int = 200,
         error: str | None = None) -> Response:
    """The page (``error``: why the last action's change was refused)."""
    now = site.crm.clock.now()
    shown, notices = sections(site, request, principal, now)
    done = site.done_notice(request)[0] if error is None else ""
    return site.render(request, "mywork.html", status, principal=principal, now=now,
                       sections=shown, error=error, notice=notices.get(done))


@signed_in
def my_work(site, request: Request, principal, form) -> Response:
    return show(site, request, principal)


def routes(site) -> list[BaseRoute]:
    """My work's page."""
    return site_pages(site, ("GET", "/my-work", my_work))


__all__ = ["routes", "show", "sections", "countdown", "span", "WorkSection", "ShownSection",
           "SECTIONS_FAILED"]
