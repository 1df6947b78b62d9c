"""The analytical card of the customer 360 page: RFM scores and segment, lifecycle stage, CLV
and P(alive) from the latest kept CLV fit, and the latest NPS/CSAT answers."""

from __future__ import annotations

from crmkit.plugin import N_, Card, format_number, gettext as _, ngettext

SURVEY_ROWS = 3
"""How many of the customer's latest survey answers the card shows."""

EXPECTED_PURCHASES = {
    "day": N_("Expected purchases (next {horizon:g} days)"),
    "week": N_("Expected purchases (next {horizon:g} weeks)"),
    "month": N_("Expected purchases (next {horizon:g} months)"),
}
"""The label of the expected purchases over the horizon, by the fit's time unit."""


def card(crm, principal, customer) -> Card:
    """The customer's RFM scores and segment (as the last sweep stored them, else scored now),
    lifecycle stage, CLV and P(alive), and their latest survey scores."""
    api = crm.plugin("analytical")
    external_id = customer["external_id"]
    rows: list[tuple[str, str]] = []
    stored = api.stored_rfm_score(external_id)
    scored_at, score = stored if stored is not None else (None, api.rfm_score(external_id))
    if score is None:
        rows.append((_("RFM"), _("no purchase yet")))
    else:
        rows.append((_("RFM segment"), score.segment))
        rows.append((_("RFM scores"), f"R{score.r} F{score.f} M{score.m}"))
        rows.append((_("Last purchase"), ngettext("{days} day ago", "{days} days ago",
                                                  score.recency_days
                                                  ).format(days=score.recency_days)))
        rows.append((_("Purchases"), str(score.frequency)))
        rows.append((_("Spend"), format_number(score.monetary, 2)))
        if scored_at is not None:
            rows.append((_("RFM scored"), _("as of {date}").format(date=f"{scored_at:%Y-%m-%d}")))
    rows.append((_("Lifecycle stage"), api.lifecycle_stage(external_id) or "—"))
    found = api.customer_clv(external_id)
    note = None
    if found is None:
        note = _("no CLV fit yet: run crmkit analytical clv fit")
    else:
        fitted, prediction = found
        defaults = api.settings.clv
        if prediction is None:
            rows.append((_("CLV"), _("no purchase yet")))
        else:
            rows.append((_("CLV ({months} months)").format(months=defaults.months),
                         format_number(prediction.clv, 2)))
            rows.append((_("P(alive)"), f"{prediction.p_alive * 100:.0f} %"))
            rows.append((_(EXPECTED_PURCHASES[fitted.time_unit]).format(
                horizon=defaults.horizon),
                f"{prediction.expected_purchases:.2f}"))
        rows.append((_("CLV fit"), _("as of {date}").format(date=f"{fitted.as_of:%Y-%m-%d}")))
    answers = api.survey_answers(external_id, limit=SURVEY_ROWS)
    if not answers:
        rows.append((_("NPS"), _("no survey answer yet")))
    for answer in answers:
        scores = [f"{name} {value}" for name, value in
                  (("NPS", answer.nps), ("CSAT", answer.csat), ("CES", answer.ces))
                  if value is not None]
        rows.append((_("Survey {date}").format(date=f"{answer.at:%Y-%m-%d}"), ", ".join(scores)))
    return Card(_("Analytics"), rows, note=note)
