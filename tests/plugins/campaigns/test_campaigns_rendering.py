"""Rendering when due: the worker job ``campaigns.render`` turns planned recipients into queued
messages (sandboxed templates, tracked links, open pixel, unsubscribe link, quiet hours)."""

from __future__ import annotations

import datetime as dt

import pytest
from campaigns_support import PUBLIC_URL
from sqlalchemy import select

from crmkit.tables import customers
from crmkit.worker import WorkContext, collect_jobs
from crmkit_campaigns import templates
from crmkit_campaigns.tables import campaigns, recipients

UTC = dt.timezone.utc
ALL = {"field": "type", "op": "eq", "value": "person"}
LINK = "https://shop.example.com/spring?ref=mail"


@pytest.fixture
def shop(crm, campaigns):
    """Three consented customers (Ann in Tokyo, Bob in New York, Cy with no time zone) and
    Dee, who never consented; the declared attributes ``city`` and ``timezone``."""
    crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL,
                                "customer_attributes": {"type": "object", "properties": {
                                    "city": {"type": "string"},
                                    "timezone": {"type": "string"}}}})
    crm.customers.add_many([
        {"external_id": "ANN", "name": "Ann <b>", "email": "ann@example.com",
         "attributes": {"city": "Tokyo", "timezone": "Asia/Tokyo"}},
        {"external_id": "BOB", "name": "Bob", "email": "bob@example.com",
         "attributes": {"city": "New York", "timezone": "America/New_York"}},
        {"external_id": "CY", "name": "Cy", "email": "cy@example.com"},
        {"external_id": "DEE", "name": "Dee", "email": "dee@example.com"}])
    for x in ("ANN", "BOB", "CY"):
        crm.customers.set_consent(x, "email", True, "signup form")
    crm.customers.set_consent("ANN", "webhook", True, "app")
    return campaigns({"quiet_hours": {"start": "21:00", "end": "08:00"}})


def render(crm, clock) -> int:
    """One run of the worker job campaigns.render."""
    job = next(j for j in collect_jobs(crm) if j.name == "campaigns.render")
    return job.run(WorkContext(crm, "test", clock.now(), 100))


def statuses(crm, campaign: str | None = None) -> dict[str, tuple]:
    """``external id: (status, reason, Message-ID)`` of the recipients (of ``campaign``)."""
    query = (select(customers.c.external_id, recipients.c.status, recipients.c.reason,
                    recipients.c.message_id)
             .join_from(recipients, customers, customers.c.id == recipients.c.customer_id)
             .join(campaigns, campaigns.c.id == recipients.c.campaign_id))
    if campaign is not None:
        query = query.where(campaigns.c.name == campaign)
    with crm.read() as conn:
        return {r.external_id: (r.status, r.reason, r.message_id) for r in conn.execute(query)}


def click_target(crm, url: str) -> tuple[str, str]:
    """``(Message-ID, target)`` of a click tracking link."""
    return crm.messages.read_token("c", url.rsplit("/", 1)[1])


def test_due_recipients_become_tracked_messages_once(crm, clock, shop):
    shop.add("spring", channel="email", condition=ALL, subject="Spring in {{ attributes.city "
             "or 'town' }}", template=f"Dear {{{{ name }}}},\nsee {LINK}.\n")
    shop.run("spring")
    assert render(crm, clock) == 3
    messages = {m.customer: m for m in crm.messages.list(meta={"campaign": "spring"})}
    assert sorted(messages) == ["ANN", "BOB", "CY"]
    assert {x: s[2] for x, s in statuses(crm).items() if s[0] == "queued"} == {
        x: m.message_id for x, m in messages.items()}
    assert statuses(crm)["DEE"][:2] == ("skipped", "no consent")
    cy = messages["CY"]
    assert (cy.channel, cy.recipient, cy.subject, cy.source) == (
        "email", "cy@example.com", "Spring in town", "campaigns")
    assert cy.meta == {"campaign": "spring", "variant": None}
    assert LINK not in cy.body and f"{PUBLIC_URL}/t/c/" in cy.body
    click = cy.body.split("see ")[1].split(".\n")[0]
    assert crm.messages.read_token("c", click.rsplit("/", 1)[1]) == (cy.message_id, LINK)
    assert f"Unsubscribe: {crm.messages.unsubscribe_url(cy.message_id)}" in cy.body
    assert crm.messages.open_pixel_url(cy.message_id) in cy.html
    assert f'<a href="{click}">' in cy.html
    assert "Dear Ann &lt;b&gt;," in messages["ANN"].html     # plain text, escaped once in HTML
    assert "&amp;lt;" not in messages["ANN"].html
    assert "Dear Ann <b>" in messages["ANN"].body
    assert shop.show("spring")["status"] == "done"
    assert render(crm, clock) == 0                     # nothing planned is left
    assert len(crm.messages.list(meta={"campaign": "spring"})) == 3


def test_quiet_hours_in_the_customers_time_zone_delay_the_message(crm, clock, shop):
    # 2025-01-01 12:00 UTC is 21:00 in Tokyo (quiet until 08:00 there, 23:00 UTC) and 07:00 in
    # New York (quiet until 08:00 there, 13:00 UTC); Cy has no time zone: the CRM's, UTC, noon
    shop.add("spring", channel="email", condition=ALL, subject="Hi", template="Hi")
    shop.run("spring")
    render(crm, clock)
    due = {m.customer: m.next_attempt_at for m in crm.messages.list(meta={"campaign": "spring"})}
    assert due == {"ANN": dt.datetime(2025, 1, 1, 23, tzinfo=UTC),
                   "BOB": dt.datetime(2025, 1, 1, 13, tzinfo=UTC),
                   "CY": clock.now()}


def test_an_html_template_escapes_values_and_tracks_its_links(crm, clock, shop):
    shop.add("html", channel="email", condition={"field": "external_id", "op": "eq",
                                                 "value": "ANN"}, subject="Hi",
             template=f'<html><body><p>Dear {{{{ name }}}}</p><a href="{LINK}">Shop</a>'
                      '</body></html>')
    shop.run("html")
    render(crm, clock)
    [ann] = crm.messages.list(meta={"campaign": "html"})
    assert "Dear Ann &lt;b&gt;" in ann.html and LINK not in ann.html
    assert ann.html.index(crm.messages.open_pixel_url(ann.message_id)) < ann.html.index("</body>")
    assert "Dear Ann <b>" in ann.body and f"Shop ({PUBLIC_URL}/t/c/" in ann.body


def test_the_sandbox_refuses_internals_and_skips_that_recipient(crm, clock, shop):
    shop.add("probe", channel="email", condition={"field": "external_id", "op": "eq",
                                                  "value": "CY"},
             subject="Hi", template="{{ name.__class__.__mro__ }}")
    shop.run("probe")
    assert render(crm, clock) == 1
    status, reason, message_id = statuses(crm)["CY"]
    assert (status, message_id) == ("skipped", None)
    assert reason.startswith("render failed: line 1: access to attribute '__class__' of 'str' "
                             "object is unsafe")
    assert crm.messages.list(meta={"campaign": "probe"}) == []


@pytest.mark.parametrize("failing, reason", [
    ("{% for x in range(200000) %}{% endfor %}",
     "line 2: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."),
    ("{{ 1 // 0 }}", "line 2: integer division or modulo by zero"),
    ("{{ name + 1 }}", 'line 2: can only concatenate str (not "int") to str'),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "line 2: maximum recursion depth"),
])
def test_a_template_failing_for_one_customer_skips_only_that_recipient(crm, clock, shop, failing,
                                                                        reason):
    shop.add("odd", channel="email", condition=ALL, subject="Hi",
             template=f"Hi {{{{ name }}}},\n{{% if name == 'Bob' %}}{failing}{{% endif %}}\n")
    shop.add("fine", channel="email", condition=ALL, subject="Hi", template="Hello\n")
    shop.run("odd")
    shop.run("fine")
    assert render(crm, clock) == 6                     # the job goes on: nothing raised
    odd = statuses(crm, "odd")
    assert odd["BOB"][0] == "skipped" and odd["BOB"][1].startswith(f"render failed: {reason}")
    assert [odd[x][0] for x in ("ANN", "CY")] == ["queued", "queued"]
    assert {x: s[0] for x, s in statuses(crm, "fine").items()} == {
        "ANN": "queued", "BOB": "queued", "CY": "queued", "DEE": "skipped"}
    assert render(crm, clock) == 0


CPU = {"cpu_seconds": 1}, "took more than 1 s of CPU (campaigns render.cpu_seconds)"
MEMORY = {"memory_mb": 64}, "needed more than 64 MB of memory (campaigns render.memory_mb)"


@pytest.mark.parametrize("failing, limit", [
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", CPU),
    ("{{ 9 ** (9 ** 9) }}", CPU),                        # one operation in C
    ("{{ 'a'.ljust(10 ** 9) }}", MEMORY),               # built before any size check
    ("{{ 'a'|center(10 ** 9) }}", MEMORY),
])
def test_a_template_past_a_render_limit_skips_only_that_recipient(crm, clock, shop, failing,
                                                                   limit):
    limits, reason = limit
    crm.plugins.configure("campaigns", {"render": limits})
    shop.add("odd", channel="email", condition=ALL, subject="Hi {{ name }}",
             template=f"Hi {{{{ name }}}},\n{{% if name == 'Bob' %}}{failing}{{% endif %}}\n")
    shop.run("odd")
    assert render(crm, clock) == 3                     # the job goes on: nothing raised
    odd = statuses(crm, "odd")
    assert odd["BOB"][:2] == ("skipped", f"render failed: {reason}")
    assert [odd[x][0] for x in ("ANN", "CY")] == ["queued", "queued"]  # Cy after Bob
    assert [m.subject for m in crm.messages.list(meta={"campaign": "odd"})] == ["Hi Ann <b>",
                                                                               "Hi Cy"]


def test_checking_and_compiling_a_template_computes_nothing_it_holds():
    # Jinja2 folds constant expressions while compiling: outside the render limits
    source = ("{{ 9 ** (9 ** 9) }}{{ 'a'|center(1000000000) }}{{ '%01000000000d' % 1 }}"
              "{{ -(7 ** 7) }}{% if (10 ** 10) is divisibleby 3 %}{% endif %}")
    templates.check(source, "template", [])            # returns: nothing was computed
    code = templates.environment(False).compile(source, raw=True)
    for call in ("environment.call_binop(context, '**', 9, environment.call_binop(context, "
                 "'**', 9, 9))", "(context, 'a', 1000000000)",
                 "environment.call_binop(context, '%', '%01000000000d', 1)",
                 "environment.call_unop(context, '-', environment.call_binop(context, '**', 7, 7))",
                 "(context, environment.call_binop(context, '**', 10, 10), 3)"):
        assert call in code                            # each runs when a message is rendered


def test_a_message_the_outbox_would_refuse_skips_only_that_recipient(crm, clock, shop):
    # Cy has no city: an empty subject; Bob's body holds a NUL, which no database stores
    shop.add("odd", channel="email", condition=ALL, subject="{{ attributes.city }}",
             template="Hi{% if name == 'Bob' %}{{ '%c'|format(0) }}{% endif %}\n")
    shop.run("odd")
    assert render(crm, clock) == 3
    odd = statuses(crm, "odd")
    assert odd["CY"][:2] == ("skipped", "render failed: subject: required: one line of text")
    assert odd["BOB"][0] == "skipped" and len(odd["BOB"][1]) == 100
    assert odd["BOB"][1].startswith("render failed: body: contains a NUL character (U+0000)")
    assert odd["BOB"][1].endswith("…")
    assert odd["ANN"][0] == "queued"


def test_an_error_of_crmkit_itself_while_rendering_fails_the_job(crm, clock, shop, monkeypatch):
    shop.add("spring", channel="email", condition=ALL, subject="Hi", template="Hi")
    shop.run("spring")

    def broken(message_id):
        raise TypeError("a bug outside the template")

    monkeypatch.setattr(crm.messages, "open_pixel_url", broken)
    with pytest.raises(TypeError, match="a bug outside the template"):
        render(crm, clock)
    assert {s[0] for x, s in statuses(crm).items() if x != "DEE"} == {"planned"}


@pytest.mark.parametrize("template", [
    "{{ 'ab' * 10 ** 20 }}",                            # refused before it is built
    "{{ ([0] * 10 ** 20)|length }}",
    "{% set half = 'a' * 600000 %}{{ half + half }}",
    "{% for i in range(100000) %}0123456789{% endfor %}!",  # stopped at 1,000,001 characters
    "{% for i in range(20000) %}https://shop.example.com/ {% endfor %}",  # its tracking links
])
def test_a_message_larger_than_the_limit_is_skipped(crm, clock, shop, template):
    ann = {"field": "external_id", "op": "eq", "value": "ANN"}
    shop.add("limit", channel="webhook", condition=ann, template="{{ 'a' * 1000000 }}")
    shop.add("over", channel="webhook", condition=ann, template=template)
    shop.run("limit")
    shop.run("over")
    assert render(crm, clock) == 2
    status, reason, _ = statuses(crm, "over")["ANN"]
    assert status == "skipped"
    assert reason.startswith("render failed: ")
    assert reason.endswith("message larger than 1000000 characters")
    [message] = crm.messages.list(meta={"campaign": "limit"})
    assert message.body == "a" * 1_000_000             # the limit itself goes


def test_a_substituted_value_never_becomes_a_tracking_link(crm, clock, shop):
    crm.customers.update("BOB", name='<a href="https://evil.example/">click</a>')
    shop.add("hello", channel="email", subject="Hi", template="Hello {{ name }}\n",
             condition={"field": "external_id", "op": "eq", "value": "BOB"})
    shop.run("hello")
    render(crm, clock)
    [bob] = crm.messages.list(meta={"campaign": "hello"})
    assert bob.body.startswith('Hello <a href="https://evil.example/">click</a>\n\n--\n')
    assert "/t/c/" not in bob.body and "/t/c/" not in bob.html
    assert bob.html.startswith('<div style="white-space:pre-wrap">Hello &lt;a href='
                               '"https://evil.example/"&gt;click&lt;/a&gt;\n</div>')


def test_a_value_may_fill_in_a_template_links_path_never_its_host(crm, clock, shop):
    crm.customers.update("ANN", attributes={"city": "@evil.example/"})
    ann = {"field": "external_id", "op": "eq", "value": "ANN"}
    shop.add("text", channel="webhook", condition=ann,
             template="Yours: https://shop.example.com/offer?u={{ external_id }}.\n"
                      "Not: https://shop.example.com{{ attributes.city }} {{ attributes.city }}")
    shop.add("html", channel="email", condition=ann, subject="Hi",
             template='<p><a href="https://shop.example.com/offer?u={{ external_id }}">Yours</a>'
                      '<a href="https://shop.example.com{{ attributes.city }}">Not</a></p>')
    shop.run("text")
    shop.run("html")
    render(crm, clock)
    [text] = crm.messages.list(meta={"campaign": "text"})
    yours, theirs = text.body.split("\n")
    assert click_target(crm, yours.removeprefix("Yours: ").removesuffix(".")) == (
        text.message_id, "https://shop.example.com/offer?u=ANN")
    assert theirs == "Not: https://shop.example.com@evil.example/ @evil.example/"
    [html] = crm.messages.list(meta={"campaign": "html"})
    tracked = html.html.split('<a href="')[1].split('"')[0]
    assert click_target(crm, tracked) == (html.message_id, "https://shop.example.com/offer?u=ANN")
    assert '<a href="https://shop.example.com@evil.example/">Not</a>' in html.html


def test_a_scheduled_campaign_is_planned_and_sent_when_due_and_pause_holds_it(crm, clock, shop):
    shop.add("later", channel="webhook", condition=ALL, template=f"Hi {{{{ name }}}} {LINK}")
    shop.schedule("later", clock.now() + dt.timedelta(hours=1))
    assert render(crm, clock) == 0 and statuses(crm) == {}
    clock.advance(hours=1)
    assert render(crm, clock) == 1 + 1                 # the campaign planned, Ann rendered
    [ann] = crm.messages.list(meta={"campaign": "later"})
    assert (ann.recipient, ann.html) == ("ANN", None)
    assert ann.body.startswith("Hi Ann <b> https://crm.example.com/t/c/")
    assert shop.show("later")["status"] == "done"

    shop.add("held", channel="email", condition=ALL, subject="Hi", template="Hi")
    shop.run("held")
    shop.pause("held")
    assert render(crm, clock) == 0
    shop.run("held")                                   # resumes it
    assert render(crm, clock) == 3


def test_consent_withdrawn_after_planning_is_respected_when_rendering(crm, clock, shop):
    shop.add("spring", channel="email", condition=ALL, subject="Hi", template="Hi")
    shop.schedule("spring", clock.now() + dt.timedelta(days=1))
    shop.run("spring")                                 # planned now, rendered tomorrow
    crm.customers.set_consent("CY", "email", False, "phone call")
    crm.customers.erase("BOB")
    clock.advance(days=1)
    assert render(crm, clock) == 3
    assert sorted(s[:2] for s in statuses(crm).values() if s[0] != "queued") == [
        ("skipped", "consent withdrawn"), ("skipped", "erased"), ("skipped", "no consent")]
    assert statuses(crm)["CY"][:2] == ("skipped", "consent withdrawn")
    assert [m.customer for m in crm.messages.list(meta={"campaign": "spring"})] == ["ANN"]
