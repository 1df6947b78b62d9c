"""valuechain's part of ``crmkit demo``: SSCs from CLV, records for the first stages, ratings."""

from __future__ import annotations

from .errors import MissingCLV


def run(crm, rng) -> list[str]:
    """Mark suggested SSCs, complete what the records allow, rate the conditions; report."""
    api = crm.plugin("valuechain")
    try:
        suggestions, suggested = api.suggest_ssc(), None
    except MissingCLV as exc:  # the other stages go on; the report says why none were suggested
        suggestions, suggested = [], str(exc)
    for s in suggestions[:40]:
        api.mark_ssc(s.customer, ["high_value"], "key accounts")
    orgs = [c for c in crm.customers.list(limit=None, type="organisation")][:3]
    for org in orgs:
        api.mark_ssc(org.external_id, ["door_opener", "benchmark"], "b2b accounts",
                     note="reference customer for the sector")
    api.add_network_member("supplier", "Northwind Logistics", "next-day delivery for key accounts")
    api.add_network_member("employee", "Ana Costa", "account manager", group="key accounts")
    api.add_network_member("partner", "Contoso Payments", "invoice terms for b2b accounts",
                           group="b2b accounts")
    api.set_proposition("key accounts", "Priority service and early access to new ranges")
    done = []
    for stage in (1, 2, 3):
        if api.check(stage).met:
            api.complete(stage)
            done.append(stage)
        else:
            break
    for condition, rating in (("leadership_culture", 4), ("data_it", 3), ("people", 3),
                              ("processes", 2)):
        api.rate(condition, rating)
    report = api.report()
    blocking = report["blocking_stage"]
    weakest = report["weakest_condition"]
    return [
        f"SSCs: {suggested or f'{len(suggestions)} suggested from CLV'}, "
        f"{report['sscs']['total']} marked "
        f"({', '.join(f'{g} {n}' for g, n in report['sscs']['by_group'].items())})",
        f"stages completed: {report['completed']}",
        f"blocking: stage {blocking['stage']} ({blocking['name']}) - {blocking['reason']}"
        if isinstance(blocking, dict) else f"blocking: {blocking}",
        f"weakest supporting condition: {weakest['condition']} ({weakest['rating']}/5)",
    ]
