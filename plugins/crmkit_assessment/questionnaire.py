"""The CRM capability questionnaire: six indicators, six capabilities, eleven yes/no questions.

Each item has a stable key (used in answer files), its wording, the class of a
gap in it (technology, mindset, process or strategy: not every gap is solved by
software) and, only where software can help, the crmkit module that addresses
it (``gap_modules`` in the configuration can point an item at another module, a
vendor's for instance).
"""

from __future__ import annotations

import attrs

PARTS = ("indicators", "capabilities", "questions")
GAP_CLASSES = ("technology", "mindset", "process", "strategy")
"""What closing a gap takes: a system, a change of attitude, a way of working, or a
decision about which customers to serve and how."""
PART_TITLES = {"indicators": "CRM indicators (1-5)",
               "capabilities": "Capabilities of a market-intelligent enterprise (1-5)",
               "questions": "Yes/no questions"}


@attrs.frozen
class Item:
    """One questionnaire item."""

    part: str
    key: str
    wording: str
    gap_class: str
    """``technology``, ``mindset``, ``process`` or ``strategy``."""
    module: str | None
    """The module that addresses a gap in it; None where software cannot."""


ITEMS: tuple[Item, ...] = (
    Item("indicators", "information_asset",
         "Customer information is managed as a strategic asset", "strategy", "idic"),
    Item("indicators", "clv_assessed", "Customer lifetime value is assessed", "technology",
         "analytical"),
    Item("indicators", "expectations_met", "Customer expectations are defined and met",
         "process", "operational"),
    Item("indicators", "strategy_matched_to_value", "Strategy is matched to customer value",
         "strategy", "idic"),
    Item("indicators", "integration", "Integration across departments and branches",
         "process", "collaborative"),
    Item("indicators", "experience_managed", "Customer experience is actively managed",
         "process", "analytical"),
    Item("capabilities", "strategic_information_use",
         "Strategic use of customer and prospect information", "strategy", "analytical"),
    Item("capabilities", "every_contact", "Attention to every transaction and contact",
         "process", "collaborative"),
    Item("capabilities", "information_in_operations",
         "Customer information is used in operations", "process", "operational"),
    Item("capabilities", "channel_management", "Strategic channel management", "strategy", "idic"),
    Item("capabilities", "technology_for_opportunities",
         "Technology is used to capture opportunities", "technology", "operational"),
    Item("capabilities", "enterprise_wide", "An enterprise-wide approach", "mindset", None),
    Item("questions", "sales_see_history",
         "Can sales quickly see a customer's service, delivery and order history?", "technology",
         "collaborative"),
    Item("questions", "profit_per_customer",
         "Is the profit contribution of each customer quantified?", "technology", "catalogue"),
    Item("questions", "information_for_sales_marketing",
         "Is customer information used for sales and marketing?", "process", "analytical"),
    Item("questions", "campaigns_in_forecasts",
         "Are campaign results used in sales forecasts and production plans?", "process",
         "campaigns"),
    Item("questions", "loyal_rewarded", "Are loyal customers rewarded?", "process", "loyalty"),
    Item("questions", "campaign_return_measured", "Is the return of each campaign measured?",
         "technology", "campaigns"),
    Item("questions", "information_shared",
         "Is customer information shared by all functions?", "process", "collaborative"),
    Item("questions", "preferred_channel_known",
         "Is each customer's preferred contact channel known?", "technology", "idic"),
    Item("questions", "customer_centred_culture",
         "Is the culture customer-centred rather than product-centred?", "mindset", None),
    Item("questions", "segmented_several_ways",
         "Are customers and prospects segmented in several ways?", "technology", "analytical"),
    Item("questions", "management_backing", "Does top management back the change?", "strategy",
         None),
)

BY_KEY = {item.key: item for item in ITEMS}


def items(part: str) -> list[Item]:
    """The items of one part, in questionnaire order."""
    return [item for item in ITEMS if item.part == part]


def answers_schema() -> dict:
    """JSON Schema (Draft 2020-12) of an answers file."""
    def part(kind: dict, name: str) -> dict:
        keys = [i.key for i in items(name)]
        return {"type": "object", "additionalProperties": False, "required": keys,
                "properties": {k: dict(kind) for k in keys}}

    rating = {"type": "integer", "minimum": 1, "maximum": 5}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "crmkit capability assessment answers",
        "type": "object",
        "additionalProperties": False,
        "required": list(PARTS),
        "properties": {
            "indicators": part(rating, "indicators"),
            "capabilities": part(rating, "capabilities"),
            "questions": part({"type": "boolean"}, "questions"),
            "note": {"type": "string", "maxLength": 2000},
        },
    }
