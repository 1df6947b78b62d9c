"""Every built-in plugin's reads keep personal data from a member without ``customers.pii``.

The viewer role reads everything with customers' personal fields masked (the API guide);
this asks every GET route of every built-in plugin, with its path parameters filled with
the customers', for data where each personal value shows up (every list holds the
customers: SSC suggestions and marks, leads, …), and checks that the answers of a viewer
and of a "seer" (reads everything, every member's operational records included, without
``customers.pii``) hold none of them while an agent's (who may see personal data) hold some.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crmkit.auth import DEFAULT_ROLES
from crmkit.devtools.testing import api_client
from web_support import history

UTC = dt.timezone.utc
PERSONAL = ("Ann Lee", "ann@example.com", "+4915112345678", "Bo Chan", "ann_lee_77")
PLUGINS = ("analytical", "operational", "idic", "collaborative", "social", "loyalty",
           "campaigns", "valuechain", "catalogue", "assessment")
READERS = {"agent": [*DEFAULT_ROLES["agent"], "operational.all"],
           "seer": ["*.read", "operational.all"]}
"""The agent reaches every member's operational records (so their lists hold the leads), and
so does the seer, who may not see personal data."""


def seeded(crm):
    """Every built-in plugin enabled, the :data:`READERS` roles, two customers whose details
    match, their purchases (A's the most valuable among many other customers'), a sweep, a
    differentiation, A marked as an SSC and a social handle (so that lists have their rows)."""
    for name in PLUGINS:
        crm.plugins.enable(name)
    crm.plugins.configure_core({**crm.core_config,
                                "roles": {**crm.core_config["roles"], **READERS}})
    crm.customers.add_many([
        {"external_id": "A", "name": "Ann Lee", "email": "ann@example.com",
         "phone": "+4915112345678"},
        {"external_id": "A2", "name": "Ann Lee", "email": "ann@example.com"},
        {"external_id": "B", "name": "Bo Chan"}]
        + [{"external_id": f"F{i:03d}"} for i in range(120)])
    crm.interactions.record_many([
        {"customer": c, "kind": "purchase", "amount": amount,
         "occurred_at": dt.datetime(2024, m, d, tzinfo=UTC)}
        for c, m, d, amount in (("A", 10, 1, "500"), ("A", 11, 8, "900"), ("A", 11, 15, "600"),
                                ("A", 11, 22, "1200"), ("A2", 9, 1, "500"),
                                ("B", 3, 1, "500"))] + history())
    crm.sweep()
    crm.plugin("idic").differentiate()
    crm.plugin("valuechain").mark_ssc("A", ["high_value"])
    crm.plugin("social").link_handle("A", "instagram", "ann_lee_77")
    return crm


def get_paths(client) -> list[str]:
    """Every GET path of the served API, path parameters set to customer A's."""
    spec = client.get("/openapi.json").json()
    paths = []
    for path, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        filled = re.sub(r"\{(customer|external_id)\}", "A", path)
        if "{" not in filled:
            paths.append(filled)
    return paths


def personal_in(client, path: str) -> list[str]:
    """The personal values in ``client``'s answer to ``GET path`` (none when refused)."""
    answer = client.get(path)
    if answer.status_code != 200:
        return []
    return [value for value in PERSONAL if value in answer.text]


@pytest.mark.parametrize("reader", ["viewer", "seer"])
def test_a_viewer_reads_no_personal_data_from_any_plugin_route(crm, reader):
    seeded(crm)
    with api_client(crm, role="agent") as agent:
        paths = get_paths(agent)
        shown = {path: personal_in(agent, path) for path in paths}
    assert len([p for p in paths if p.startswith("/api/v1/") and p.count("/") > 3]) > 40
    assert sum(1 for found in shown.values() if found) > 5  # the check can see a leak
    with api_client(crm, role=reader) as viewer:
        leaks = {path: found for path in paths if (found := personal_in(viewer, path))}
    assert leaks == {}
