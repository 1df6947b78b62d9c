"""Every built-in plugin's reads keep personal data from a member without ``customers.pii``.

The viewer role reads everything with customers' personal fields masked (the API guide);
this asks every GET route of every built-in plugin, with its path parameters filled with
the customers', for data where each personal value shows up, and checks that a viewer's
answers hold none of them while an agent's (who may see personal data) hold some.
"""

from __future__ import annotations

import datetime as dt
import re

from crmkit.devtools.testing import api_client

UTC = dt.timezone.utc
PERSONAL = ("Ann Lee", "ann@example.com", "+4915112345678", "Bo Chan")
PLUGINS = ("analytical", "operational", "idic", "collaborative", "social", "loyalty",
           "campaigns", "valuechain", "catalogue", "assessment")


def seeded(crm):
    """Every built-in plugin enabled, two customers whose details match, their purchases,
    a sweep and a differentiation (so that lists have rows)."""
    for name in PLUGINS:
        crm.plugins.enable(name)
    crm.customers.add_many([
        {"external_id": "A", "name": "Ann Lee", "email": "ann@example.com",
         "phone": "+4915112345678"},
        {"external_id": "A2", "name": "Ann Lee", "email": "ann@example.com"},
        {"external_id": "B", "name": "Bo Chan"}])
    crm.interactions.record_many([
        {"customer": c, "kind": "purchase", "amount": "500",
         "occurred_at": dt.datetime(2024, m, 1, tzinfo=UTC)}
        for c, m in (("A", 10), ("A2", 9), ("B", 3))])
    crm.sweep()
    crm.plugin("idic").differentiate()
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


def test_a_viewer_reads_no_personal_data_from_any_plugin_route(crm):
    seeded(crm)
    with api_client(crm, role="agent") as agent:
        paths = get_paths(agent)
        shown = {path: personal_in(agent, path) for path in paths}
    assert len([p for p in paths if p.startswith("/api/v1/") and p.count("/") > 3]) > 40
    assert sum(1 for found in shown.values() if found) > 5  # the check can see a leak
    with api_client(crm, role="viewer") as viewer:
        leaks = {path: found for path in paths if (found := personal_in(viewer, path))}
    assert leaks == {}
