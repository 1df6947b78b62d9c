"""Plugins' row-level rules in the API's lists, asked per customer at a cost per page.

The webtest plugin's rule: customers tagged "secret" exist only for admins.  The API
in-process (HTTP through httpx's ASGI transport), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest

import crmkit_webtest
from crmkit import CRM
from web_support import InProcess

UTC = dt.timezone.utc
TAGS = {"C1": ["secret"], "C2": [], "C3": []}


@pytest.fixture
def web(crm_url, clock):
    """The API with the webtest plugin enabled; organisation O1 with C1 (secret), C2 and C3,
    each with a note; ``web.admin`` and ``web.manager`` (whose role holds ``customers.pii``)
    are tokens."""
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"webtest": crmkit_webtest}) as crm:
        crm.plugins.enable("webtest")
        crm.customers.add("O1", "Oak Ltd", type="organisation")
        crm.customers.add_many([{"external_id": ref, "name": f"{ref}'s name", "tags": tags,
                                 "organisation": "O1"} for ref, tags in TAGS.items()])
        for day, ref in enumerate(TAGS, start=1):
            crm.interactions.record(ref, dt.datetime(2024, 12, day, tzinfo=UTC), kind="note",
                                    payload={"text": f"{ref}'s note"})
        helper = InProcess(crm)
        helper.admin = helper.token("root", role="admin")
        helper.manager = helper.token("mia", role="manager")
        yield helper
        helper.close()


def test_the_customer_list_reads_organisations_per_page_not_per_customer(web, statements):
    web.crm.customers.add_many([{"external_id": f"M{n:02}", "organisation": "O1"}
                                for n in range(20)])
    manager = web.client(web.manager)
    sizes = []
    for limit in (2, 20):
        with statements(web.crm.engine, "FROM customers") as seen:
            answer = manager.get("/api/v1/customers", params={"limit": limit})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == limit - 1  # C1 is hidden
        sizes.append(len(seen))
    assert sizes[0] == sizes[1]
