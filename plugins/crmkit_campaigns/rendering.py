"""Rendering when due: the worker job ``campaigns.render`` turns planned recipients into messages.

Each round it first plans the scheduled campaigns whose time has come, then
takes a batch of planned recipients of running campaigns that are due (no
schedule, or the schedule has passed) and, in one transaction, renders each
one's message (the variant's subject and template, sandboxed Jinja2 over the
customer's fields, run in a child process with CPU and memory limits:
:mod:`.render_process`), queues them all with ``crm.messages.enqueue`` (meta
``{"campaign", "variant"}``) and marks the recipients queued with their
Message-ID.  The links the template writes go through ``crm.messages.click_url`` (a
value substituted from customer data never becomes a tracking link); an email also
gets an open pixel and an unsubscribe link.  A customer inside the quiet hours (in
the time zone of the customer's attribute, else the CRM's) gets the message's
``not_before`` set to their end.  A message that cannot be rendered (the template
failed for that customer or passed a render limit, the message is too large, or the
outbox would refuse it) skips that recipient with the reason, and so does a customer
who withdrew consent (or was erased) after the campaign was planned.
"""

from __future__ import annotations

import datetime as dt
import functools
import html as html_lib
import re
from email.utils import make_msgid
from html.parser import HTMLParser
from typing import Any, Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy import and_, bindparam, exists, or_, select, update

from crmkit.plugin import (UTC, Job, Outgoing, ValidationError, consents, customer_address,
                           customers, is_timezone, outgoing_problems)

from . import render_process, templates
from .coupons import issue_for
from .definition import attribute_names, campaign_variants
from .planning import due_scheduled, run
from .settings import settings_of
from .tables import campaigns, recipients
from .templates import CLOSE, OPEN, RenderError, unmark

REASON_MAX = 100
TRAILING = ".,;:!?)"
LINK = re.compile(f"{OPEN}([^{OPEN}{CLOSE}]+){CLOSE}([^\\s<>\"'{OPEN}{CLOSE}]*)")
"""A link the template wrote (its marked text) and the text that continues it (a value)."""
HREF = re.compile(f"""(\\bhref\\s*=\\s*)(["']){OPEN}([^"'{OPEN}{CLOSE}]+){CLOSE}([^"']*)\\2""",
                  re.I)
"""An ``href`` whose value starts with a link the template wrote."""
HOST = re.compile(r"https?://[^/?#]+[/?#]", re.I)
"""The start of a link up to the end of its host."""


def jobs(crm) -> list[Job]:
    """The plugin's worker job."""
    return [Job("campaigns.render", render_job)]


def render_job(ctx) -> int:
    """One round: plan due scheduled campaigns, then render one batch of due recipients."""
    planned = 0
    for name in due_scheduled(ctx.crm, ctx.now):
        run(ctx.crm, name)
        planned += 1
    return planned + render_batch(ctx.crm, ctx.now, ctx.batch_size)


def quiet_until(now: dt.datetime, zone: ZoneInfo, start: dt.time, end: dt.time
                ) -> dt.datetime | None:
    """When the quiet hours ``start``–``end`` (local to ``zone``) around ``now`` end, in UTC;
    None when ``now`` is outside them (or start equals end: no quiet hours)."""
    local = now.astimezone(zone)
    at = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        if not start <= at < end:
            return None
        day = local.date()
    else:  # over midnight
        if end <= at < start:
            return None
        day = local.date() + dt.timedelta(days=1) if at >= start else local.date()
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def own_link(written: str, substituted: str) -> str | None:
    """The link the template wrote (``written``) followed by the ``substituted`` text that
    continues it; None when that text would continue its host (a value may fill in a link's
    path or query, never where it leads)."""
    if substituted and not HOST.match(written):
        return None
    return written + substituted


def pieces(rendered: str, link: Callable[[str], str]) -> list[tuple[str, bool]]:
    """``rendered`` (a template's output, its own links marked) as ``(text, False)`` and
    ``(tracking link, True)`` pieces, marks removed; a sentence's trailing punctuation is not
    part of a link."""
    found, at = [], 0
    for match in LINK.finditer(rendered):
        url = own_link(match[1], match[2])
        if url is None:
            continue
        kept = url.rstrip(TRAILING)
        found += [(unmark(rendered[at:match.start()]), False), (link(kept), True),
                  (url[len(kept):], False)]
        at = match.end()
    return found + [(unmark(rendered[at:]), False)]


def track_text(rendered: str, link: Callable[[str], str]) -> str:
    """``rendered`` with each link the template wrote replaced by its tracking link."""
    return "".join(text for text, _ in pieces(rendered, link))


def track_html(rendered: str, link: Callable[[str], str]) -> str:
    """``rendered`` markup with each ``href="http(s)://…"`` the template wrote pointing at its
    tracking link."""
    def one(match: re.Match) -> str:
        url = own_link(match[3], unmark(match[4]))
        if url is None:
            return match[0]
        return f"{match[1]}{match[2]}{html_lib.escape(link(html_lib.unescape(url)))}{match[2]}"

    return unmark(HREF.sub(one, rendered))


class _Text(HTMLParser):
    """The text of an HTML message, for its plain-text part: blocks on their own lines, a
    link's address after its text."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: list[str | None] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self.skip += 1
        if tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        if tag == "a" and self.href:
            href = self.href.pop()
            if href:
                self.parts.append(f" ({href})")
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The plain-text alternative of an HTML message."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def email_parts(rendered: str, is_html: bool, link: Callable[[str], str], pixel: str,
                unsubscribe: str) -> tuple[str, str]:
    """``(text, html)`` of an email: tracked links, the unsubscribe link in both parts and the
    open pixel in the HTML."""
    footer_html = (f'<p style="font-size:small"><a href="{html_lib.escape(unsubscribe)}">'
                   f'Unsubscribe</a></p><img src="{html_lib.escape(pixel)}" width="1" '
                   'height="1" alt="">')
    if is_html:
        markup = track_html(rendered, link)
        text = html_to_text(markup)
        end = markup.lower().rfind("</body>")
        markup = (markup[:end] + footer_html + markup[end:] if end >= 0
                  else markup + footer_html)
    else:
        parts = pieces(rendered, link)
        text = "".join(part for part, _ in parts)
        linked = "".join(f'<a href="{html_lib.escape(part)}">{html_lib.escape(part)}</a>'
                         if is_link else html_lib.escape(part, False) for part, is_link in parts)
        markup = f'<div style="white-space:pre-wrap">{linked}</div>{footer_html}'
    text = text.rstrip("\n") + f"\n\n--\nUnsubscribe: {unsubscribe}\n"
    return text, markup


def render_batch(crm, now: dt.datetime, limit: int) -> int:
    """Render up to ``limit`` due planned recipients into queued messages; returns how many."""
    settings = settings_of(crm.plugin_config("campaigns"))
    renderer = render_process.renderer(settings.render)
    attributes = attribute_names(crm)
    quiet = settings.quiet_hours
    default_zone = crm.core_config["timezone"]
    zone_key = settings.timezone_attribute
    domain = urlsplit(crm.core_config.get("public_url") or "").hostname or "crmkit.invalid"
    r, c, cu = recipients.c, campaigns.c, customers.c
    query = (select(r.id, r.customer_id, r.variant, r.campaign_id, c.name.label("campaign"),
                    c.channel,
                    c.subject.label("campaign_subject"), c.template.label("campaign_template"),
                    cu.external_id, cu.type, cu.name, cu.email, cu.phone, cu.preferred_channel,
                    cu.lifecycle_stage, cu.tags, cu.attributes, cu.erased_at,
                    consents.c.granted)
             .join_from(recipients, campaigns, c.id == r.campaign_id)
             .join(customers, cu.id == r.customer_id)
             .outerjoin(consents, and_(consents.c.customer_id == cu.id,
                                       consents.c.channel == c.channel))
             .where(r.status == "planned", c.status == "running",
                    or_(c.schedule_at.is_(None), c.schedule_at <= now))
             .order_by(r.id).limit(limit).with_for_update(of=recipients, skip_locked=True))

    def work(tx) -> int:
        rows = [dict(row) for row in tx.conn.execute(query).mappings()]
        if not rows:
            return 0
        chosen = {cid: {v.name: v for v in campaign_variants(tx.conn, cid)}
                  for cid in {row["campaign_id"] for row in rows}}
        for cid in chosen:  # the campaign's coupon codes, when it has an offer
            codes = issue_for(tx, cid, [row["customer_id"] for row in rows
                                        if row["campaign_id"] == cid])
            for row in rows:
                row.setdefault("coupon", codes.get(row["customer_id"]))
        outgoing, queued, skipped, sending = [], [], [], []
        for row in rows:
            if row["erased_at"] is not None or not row["granted"]:  # since it was planned
                skipped.append({"rid": row["id"], "why": "erased" if row["erased_at"]
                                else "consent withdrawn"})
            else:
                sending.append(row)
        tasks = [_task(row, chosen[row["campaign_id"]], attributes) for row in sending]
        for row, task, result in zip(sending, tasks, renderer.render_many(tasks)):
            try:
                if isinstance(result, RenderError):
                    raise result
                message = _message(crm, row, task, result, domain)
            except (RenderError, ValidationError) as exc:  # the template's, or a link's
                why = f"render failed: {exc}"
                skipped.append({"rid": row["id"], "why": why if len(why) <= REASON_MAX
                                else why[:REASON_MAX - 1] + "…"})
                continue
            zone_name = (row["attributes"] or {}).get(zone_key)
            known = isinstance(zone_name, str) and is_timezone(zone_name)
            zone = _zone(zone_name if known else default_zone)
            wait = None if quiet is None else quiet_until(now, zone, quiet.start, quiet.end)
            outgoing.append(message if wait is None else attrs.evolve(message, not_before=wait))
            queued.append(row["id"])
        ids = crm.messages.enqueue(outgoing) if outgoing else []
        if queued:
            tx.conn.execute(update(recipients).where(r.id == bindparam("rid"))
                            .values(status="queued", message_id=bindparam("mid")),
                            [{"rid": rid, "mid": mid} for rid, mid in zip(queued, ids)])
        if skipped:
            tx.conn.execute(update(recipients).where(r.id == bindparam("rid"))
                            .values(status="skipped", reason=bindparam("why")), skipped)
        pending = exists().where(r.campaign_id == c.id, r.status == "planned")
        tx.conn.execute(update(campaigns).where(
            c.id.in_({row["campaign_id"] for row in rows}), c.status == "running", ~pending)
            .values(status="done"))
        return len(rows)

    return crm.run_transaction(work)


def _task(row: dict[str, Any], chosen: dict, attributes: list[str]) -> render_process.Task:
    """What to render for one recipient: the template and subject of their variant (else the
    campaign's) and the values they see."""
    variant = chosen.get(row["variant"]) if row["variant"] is not None else None
    subject = variant.subject if variant is not None else row["campaign_subject"]
    template = variant.template if variant is not None else row["campaign_template"]
    values = {**templates.context(row, attributes, row["campaign"]), "coupon": row["coupon"]}
    return render_process.Task(template, subject, values)


def _message(crm, row: dict[str, Any], task: render_process.Task,
             rendered: render_process.Rendered, domain: str) -> Outgoing:
    """One recipient's message from their ``task``'s rendered template and subject
    (Message-ID chosen here, so its links can name it)."""
    body = rendered.body
    title = None if rendered.subject is None else " ".join(unmark(rendered.subject).split())
    message_id = make_msgid(domain=domain)

    def link(url: str) -> str:
        return crm.messages.click_url(message_id, url)

    channel = row["channel"]
    if channel == "email":
        body, html = email_parts(body, templates.is_html(task.template), link,
                                 crm.messages.open_pixel_url(message_id),
                                 crm.messages.unsubscribe_url(message_id))
    else:
        body, html = track_text(body, link), None
    if max(len(body), len(html or "")) > templates.MAX_MESSAGE_CHARS:
        raise templates.too_large()
    message = Outgoing(channel=channel, recipient=customer_address(channel, row), body=body,
                       subject=title, html=html,
                       meta={"campaign": row["campaign"], "variant": row["variant"]},
                       customer=row["external_id"], source="campaigns", message_id=message_id)
    problems = outgoing_problems(message)
    if problems:  # (the outbox would refuse the whole batch)
        raise RenderError(": ".join(problems[0]))
    return message
