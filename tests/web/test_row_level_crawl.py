"""A customer a plugin's row-level rule hides leaks through no GET route of the API and no
page of the web app, those of routes added later included: every route is crawled.

The ``crmkit demo`` CRM (every built-in plugin enabled), plus one customer with distinctive
identifying texts (:data:`HIDDEN`, :data:`NOTE`) and rows in every plugin's lists
(:func:`hide_a_customer`), hidden from mia by the webtest plugin's rule (customers tagged
"secret" exist only for admins; mia's role grants every permission, as root's).  Every GET
route of the API (its OpenAPI document) and every page of the web app (the app's route
table, the plugins' pages included), path parameters filled from what the lists answer
(:mod:`crawl_support`), is requested as root, whom the rule lets see the customer, then as
mia (API token and web session) with every URL root's crawl requested but those naming the
customer: no answer of mia's (JSON, HTML, CSV, SVG in pages, problems) holds one of the
texts.  Counts and totals may still count the customer.  Root's crawl finds the texts in
every plugin's routes (the crawl reaches the data), and a route it cannot reach fails the
test unless :data:`EXEMPT` names it.  SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import html
import random
import urllib.parse

import attrs
import pytest
from starlette.testclient import TestClient

import crmkit.demo as sample
import crmkit_webtest
from crawl_support import Answer, Crawl
from crmkit import CRM, FixedClock
from crmkit.cli import main
from crmkit.clock import NOW_VARIABLE
from crmkit.devtools.testing import backends
from crmkit.web import create_app
from web_support import PASSWORD, csrf

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)
HIDDEN = {"external_id": "ZQ-HIDDEN-417", "name": "Zanthe Quillfeather",
          "email": "zanthe.quill@hidden-quokka.example", "phone": "+442079460417"}
"""The hidden customer's identifying fields (the phone as stored, E.164)."""
NOTE = "Quokka whistles at dawn"
"""The text of the hidden customer's notes, messages, mention, tasks, case and opportunity."""
TEXTS = (*HIDDEN.values(), NOTE)
EXEMPT = {
    "/docs/{name}": "Swagger UI's files, the same for everyone",
    "/static/{name:path}": "the web app's style sheets and scripts",
    "/{plugin}/static/{name:path}": "plugins' style sheets and scripts",
    "/t/c/{token}": "a message's tracking link, signed for its recipient: no member asks",
    "/t/o/{token}": "a message's open pixel, signed for its recipient",
    "/t/u/{token}": "a message's unsubscribe page, signed for its recipient",
}
"""Routes the crawl leaves out: none is about a customer a member may ask for."""
PLUGINS_WITH_CUSTOMERS = ("analytical", "campaigns", "catalogue", "collaborative", "idic",
                          "loyalty", "operational", "social", "valuechain")
"""The built-in plugins whose routes show customers (assessment's show none)."""


def hide_a_customer(crm) -> None:
    """The customer of :data:`HIDDEN`, tagged "secret", in the demo's first organisation,
    with the demo's history and rows of its own in every plugin's lists: a lead, an
    opportunity, tasks of mia and root, a case, a handle and a mention, referrals both ways,
    loyalty points and a reward, a coupon, next-best offers, an idic group, a look-alike
    (ZQ-TWIN), a record merged into it (ZQ-OLD), a dialogue, an SSC mark (stages 1 and 2 of
    the value chain completed again with it among the SSCs), a network member, work items
    handed off to mia's team; staff members root (admin) and mia (every permission too) of
    that team; a webhook for every event."""
    config = crm.plugin_config("analytical")  # a CLV fit on the small demo: predictions
    crm.plugins.configure("analytical", {**config, "clv": {**config["clv"],
                                                           "penalizer_coef": 0.01}})
    crm.plugins.configure_core({**crm.core_config, "roles": {**crm.core_config["roles"],
                                                             "chief": ["*"]}})
    for handle, role in (("root", "admin"), ("mia", "chief")):
        crm.staff.add(handle, handle.title(), "billing", role=role)
        crm.staff.set_password(handle, PASSWORD)
    crm.webhooks.add("https://93.184.216.34/hook", sorted(crm.events.types()), "s" * 16)
    ref = HIDDEN["external_id"]
    crm.customers.add(ref, HIDDEN["name"], email=HIDDEN["email"], phone=HIDDEN["phone"],
                      tags=["secret", "watch"], organisation="ORG-000",
                      preferred_channel="email")
    crm.customers.add("ZQ-OLD", "Old record")
    crm.customers.merge(ref, "ZQ-OLD")
    crm.customers.add("ZQ-TWIN", "Zan Quillfeather", tags=["watch"])
    crm.customers.add("ZQ-FRIEND", "Friend of Zanthe")
    social = crm.plugin("social")
    social.redeem_referral(social.referral_code("C00001"), ref)
    social.redeem_referral(social.referral_code(ref), "ZQ-FRIEND")
    for channel in ("email", "phone", "sms"):
        crm.customers.set_consent(ref, channel, True, "crawl test")
    history = list(sample.interactions(crm, random.Random(4), [ref], 12,
                                       end=NOW - dt.timedelta(days=1)))
    lines = [{"sku": "TEA-GREEN", "qty": 200, "unit_price": "4.50"}]
    days = dt.timedelta(days=1)
    crm.interactions.record_many([
        *({**row, "external_id": f"zq-{n}"} for n, row in enumerate(history)),
        *({"customer": ref, "occurred_at": NOW - n * days, "kind": "purchase", "amount": "900",
           "external_id": f"zq-buy-{n}", "payload": {"items": lines, "note": NOTE}}
          for n in (40, 20, 3)),
        {"customer": ref, "occurred_at": NOW - 5 * days, "kind": "survey",
         "payload": {"nps": 3, "comment": NOTE}, "external_id": "zq-survey"},
        {"customer": ref, "occurred_at": NOW - 4 * days, "kind": "browse", "channel": "web",
         "external_id": "zq-browse"},
        *({"customer": ref, "occurred_at": NOW - dt.timedelta(hours=n), "kind": kind,
           "channel": channel, "direction": "inbound", "payload": {"text": NOTE},
           "external_id": f"zq-{kind}"}
          for n, kind, channel in ((3, "note", "web"), (2, "complaint", "email"),
                                   (1, "message", "sms"))),
        {"customer": "ZQ-FRIEND", "occurred_at": NOW - 5 * days, "kind": "purchase",
         "amount": "30", "external_id": "zq-friend"}])
    operational = crm.plugin("operational")
    if operational.lead(ref)["stage"] == "lead":
        operational.set_lead_stage(ref, "mql")
    operational.create_opportunity(ref, NOTE, "1200", owner="mia")
    operational.create_opportunity("ZQ-TWIN", "Refit", "300")  # the small demo has none
    for handle in ("mia", "root"):
        operational.create_task(ref, NOTE, handle, NOW + days)
    operational.open_case(ref, NOTE, priority="high")
    for customer, platform in ((ref, "twitter"), ("ZQ-TWIN", "instagram")):
        social.link_handle(customer, platform, "@zanthe_quill")
    social.import_mentions([{"platform": "twitter", "post_id": "zq-post",
                             "handle": "@zanthe_quill", "text": f"{NOTE}: worst service ever",
                             "posted_at": (NOW - days).isoformat()}])
    crm.plugin("loyalty").redeem(ref, "COFFEE")
    campaigns = crm.plugin("campaigns")
    campaigns.add("leak-watch", channel="email", subject="Hello {{ name }}",
                  template="Dear {{ name }}",
                  condition={"field": "tags", "op": "contains", "value": "watch"})
    campaigns.run("leak-watch")
    campaigns.set_offer("leak-watch", "percent", "10", valid_days=14)
    crm.plugin("catalogue").save_offers("demo-next-best", replace=True)
    crm.plugin("analytical").save_segment(
        "watched", {"field": "tags", "op": "contains", "value": "watch"})
    idic = crm.plugin("idic")
    idic.differentiate(NOW)
    idic.record_dialogue(ref, NOTE, "email", NOW - 200 * days)
    chain = crm.plugin("valuechain")
    chain.mark_ssc(ref, ["high_value"], "key accounts", note=NOTE)
    chain.reopen("portfolio")  # the demo completed stages 1 and 2; stage 2's audit names
    for stage in ("portfolio", "intimacy"):  # its least complete SSCs, the customer among them
        chain.complete(stage)
    chain.add_network_member("partner", "Quill fitters", NOTE, customer=ref)
    collaborative = crm.plugin("collaborative")
    for item in collaborative.items_of(ref):
        collaborative.hand_off(item.id, "billing", NOTE)
    collaborative.contact(ref, NOTE)


def found(answer: Answer) -> list[str]:
    """The texts of :data:`TEXTS` the answer holds (any case; HTML and URL escapes read)."""
    forms = {answer.text, html.unescape(answer.text), urllib.parse.unquote(answer.text)}
    return [text for text in TEXTS if any(text.casefold() in form.casefold() for form in forms)]


def names_the_customer(url: str) -> bool:
    """Whether ``url`` names the hidden customer (its own routes echo its external id)."""
    return HIDDEN["external_id"].casefold() in urllib.parse.unquote(url).casefold()


@attrs.frozen
class Crawls:
    """Root's crawl and mia's, done (``.answers``: URL → answer)."""

    root: Crawl
    mia: Crawl


def crawler(crm, app, handle: str) -> Crawl:
    """A crawl as ``handle``: a new API token, a web session signed in with the password."""
    _, token = crm.tokens.create(handle, name="crawl")
    session = TestClient(app, raise_server_exceptions=False)
    signed = session.post("/login", data={"csrf_token": csrf(session.get("/login")),
                                          "username": handle, "password": PASSWORD},
                          follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return Crawl(app, crm, token, session, EXEMPT, TEXTS)


@pytest.fixture(scope="module", params=backends())
def crawls(request, tmp_path_factory):
    """The crawls of the demo CRM with the hidden customer, on the module's backend."""
    folder = tmp_path_factory.mktemp("crawl")
    url = (f"sqlite:///{folder / 'crm.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_server").create_database())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NOW_VARIABLE, NOW.isoformat())
        patch.chdir(folder)  # where the demo draws the charts of a PostgreSQL database
        assert main(["--db", url, "--plugin", "crmkit_webtest", "demo", "--customers", "50",
                     "--interactions-per-customer", "3"]) == 0
    with CRM.open(url, clock=FixedClock(NOW),
                  extra_plugins={"webtest": crmkit_webtest}) as crm:
        hide_a_customer(crm)
        app = create_app(crm)
        root, mia = crawler(crm, app, "root"), crawler(crm, app, "mia")
        root.run()
        mia.run((root.template(answer.route), url) for url, answer in root.answers.items()
                if not names_the_customer(url))
        yield Crawls(root, mia)


def test_the_crawl_reaches_every_get_route_and_page_without_an_error(crawls):
    assert crawls.root.unreached() == {}
    assert crawls.mia.unreached() == {}
    failed = [(answer.status, url) for crawl in (crawls.root, crawls.mia)
              for url, answer in crawl.answers.items() if answer.status >= 500]
    assert failed == []


def test_without_the_rule_the_crawl_finds_the_customer_in_every_plugin_s_routes(crawls):
    showing = {answer.route for answer in crawls.root.answers.values() if found(answer)}
    for route in ("GET /api/v1/customers", "GET /api/v1/interactions", "GET /api/v1/events",
                  "GET /api/v1/customers/{external_id}/export", "GET /customers",
                  "GET /customers/{external_id}", "GET /my-work", "GET /admin/audit"):
        assert route in showing, route
    for plugin in PLUGINS_WITH_CUSTOMERS:
        assert any(route.startswith(f"GET /api/v1/{plugin}/") for route in showing), plugin
    assert {text for answer in crawls.root.answers.values() for text in found(answer)} == set(
        TEXTS)


def test_no_get_route_or_page_shows_a_hidden_customer(crawls):
    leaks = sorted((answer.route, url, text) for url, answer in crawls.mia.answers.items()
                   for text in found(answer))
    assert leaks == []
