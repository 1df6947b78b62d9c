"""The CRM capability questionnaire: six indicators, six capabilities, eleven yes/no questions.

Each item has a stable key (used in answer files), its wording, and the crmkit
module that addresses a gap in it (``gap_modules`` in the configuration can
point an item at another module, a vendor's for instance).
"""

from __future__ import annotations

import attrs

PARTS = ("indicators", "capabilities", "questions")
PART_TITLES = {"indicators": "CRM indicators (1-5)",
               "capabilities": "Capabilities of a market-intelligent enterprise (1-5)",
               "questions": "Yes/no questions"}


@attrs.frozen
class Item:
    """One questionnaire item."""

    part: str
    key: str
    wording: str
    module: str


ITEMS: tuple[Item, ...] = (
    Item("indicators", "information_asset",
         "Customer information is managed as a strategic asset", "idic"),
    Item("indicators", "clv_assessed", "Customer lifetime value is assessed", "analytical"),
    Item("indicators", "expectations_met", "Customer expectations are defined and met",
         "operational"),
    Item("indicators", "strategy_matched_to_value", "Strategy is matched to customer value",
         "idic"),
    Item("indicators", "integration", "Integration across departments and branches",
         "collaborative"),
    Item("indicators", "experience_managed", "Customer experience is actively managed",
         "analytical"),
    Item("capabilities", "strategic_information_use",
         "Strategic use of customer and prospect information", "analytical"),
    Item("capabilities", "every_contact", "Attention to every transaction and contact",
         "collaborative"),
    Item("capabilities", "information_in_operations", "Customer information is used in operations",
         "operational"),
    Item("capabilities", "channel_management", "Strategic channel management", "idic"),
    Item("capabilities", "technology_for_opportunities",
         "Technology is used to capture opportunities", "operational"),
    Item("capabilities", "enterprise_wide", "An enterprise-wide approach", "valuechain"),
    Item("questions", "sales_see_history",
         "Can sales quickly see a customer's service, delivery and order history?", "collaborative"),
    Item("questions", "profit_per_customer",
         "Is the profit contribution of each customer quantified?", "idic"),
    Item("questions", "information_for_sales_marketing",
         "Is customer information used for sales and marketing?", "analytical"),
    Item("questions", "campaigns_in_forecasts",
         "Are campaign results used in sales forecasts and production plans?", "operational"),
    Item("questions", "loyal_rewarded", "Are loyal customers rewarded?", "loyalty"),
    Item("questions", "campaign_return_measured", "Is the return of each campaign measured?",
         "idic"),
    Item("questions", "information_shared",
         "Is customer information shared by all functions?", "collaborative"),
    Item("questions", "preferred_channel_known",
         "Is each customer's preferred contact channel known?", "idic"),
    Item("questions", "customer_centred_culture",
         "Is the culture customer-centred rather than product-centred?", "valuechain"),
    Item("questions", "segmented_several_ways",
         "Are customers and prospects segmented in several ways?", "analytical"),
    Item("questions", "management_backing", "Does top management back the change?", "valuechain"),
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
