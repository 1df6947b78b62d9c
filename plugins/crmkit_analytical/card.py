"""The analytical card of the customer 360 page: RFM scores and segment, lifecycle stage, CLV
and P(alive) from the latest kept CLV fit, and the latest NPS/CSAT answers."""

from __future__ import annotations

from decimal import Decimal

from crmkit.plugin import Card

CENT = Decimal("0.01")
SURVEY_ROWS = 3
"""How many of the customer's latest survey answers the card shows."""
NO_FIT = "no CLV fit yet: run crmkit analytical clv fit"
"""The card's note when no CLV fit was kept."""


def card(crm, principal, customer) -> Card:
    """The customer's RFM scores and segment (now), lifecycle stage, CLV and P(alive), and
    their latest survey scores."""
    api = crm.plugin("analytical")
    external_id = customer["external_id"]
    rows: list[tuple[str, str]] = []
    score = api.rfm_score(external_id)
    if score is None:
        rows.append(("RFM", "no purchase yet"))
    else:
        rows.append(("RFM segment", score.segment))
        rows.append(("RFM scores", f"R{score.r} F{score.f} M{score.m}"))
        rows.append(("Last purchase", f"{score.recency_days} days ago"))
        rows.append(("Purchases", str(score.frequency)))
        rows.append(("Spend", str(score.monetary.quantize(CENT))))
    rows.append(("Lifecycle stage", api.lifecycle_stage(external_id) or "—"))
    found = api.customer_clv(external_id)
    note = None
    if found is None:
        note = NO_FIT
    else:
        fitted, prediction = found
        settings = api.config["clv"]
        if prediction is None:
            rows.append(("CLV", "no purchase yet"))
        else:
            rows.append((f"CLV ({settings['months']} months)", str(prediction.clv)))
            rows.append(("P(alive)", f"{prediction.p_alive * 100:.0f} %"))
            rows.append((f"Expected purchases (next {settings['horizon']:g} "
                         f"{fitted.time_unit}s)", f"{prediction.expected_purchases:.2f}"))
        rows.append(("CLV fit", f"as of {fitted.as_of:%Y-%m-%d}"))
    answers = api.survey_answers(external_id, limit=SURVEY_ROWS)
    if not answers:
        rows.append(("NPS", "no survey answer yet"))
    for answer in answers:
        scores = [f"{name} {value}" for name, value in
                  (("NPS", answer.nps), ("CSAT", answer.csat), ("CES", answer.ces))
                  if value is not None]
        rows.append((f"Survey {answer.at:%Y-%m-%d}", ", ".join(scores)))
    return Card("Analytics", rows, note=note)
