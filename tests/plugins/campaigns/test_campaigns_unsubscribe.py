"""An unsubscribe link in a campaign email withdraws consent through the consent ledger (one
click, no sign-in), and the next campaign sends that customer nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

from campaigns_support import PUBLIC_URL
from starlette.testclient import TestClient

from crmkit.web import create_app
from crmkit.worker import WorkContext, collect_jobs

ALL = {"field": "type", "op": "eq", "value": "person"}


def render(crm, clock) -> int:
    job = next(j for j in collect_jobs(crm) if j.name == "campaigns.render")
    return job.run(WorkContext(crm, "test", clock.now(), 100))


def test_unsubscribing_from_one_campaign_leaves_the_customer_out_of_the_next(crm, clock,
                                                                           campaigns):
    api = campaigns({})
    crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL})
    crm.customers.add_many([{"external_id": x, "name": x, "email": f"{x.lower()}@example.com"}
                            for x in ("ANN", "BOB")])
    for x in ("ANN", "BOB"):
        crm.customers.set_consent(x, "email", True, "signup form")
    api.add("spring", channel="email", condition=ALL, subject="Spring", template="Hi {{ name }}")
    api.run("spring")
    render(crm, clock)
    [ann] = crm.messages.list(meta={"campaign": "spring"}, limit=None)[:1]
    assert ann.customer == "ANN"
    unsubscribe = urlsplit(crm.messages.unsubscribe_url(ann.message_id)).path
    assert unsubscribe in ann.body
    with TestClient(create_app(crm)) as browser:             # no token, no session
        answer = browser.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    [consent] = crm.customers.consents("ANN")
    assert (consent.granted, consent.source) == (False, f"unsubscribe link {ann.message_id}")

    api.add("summer", channel="email", condition=ALL, subject="Summer", template="Hi")
    result = api.run("summer")
    assert result["skipped_by_reason"] == {"consent withdrawn": 1} and result["planned"] == 1
    render(crm, clock)
    assert [m.customer for m in crm.messages.list(meta={"campaign": "summer"})] == ["BOB"]
