"""campaigns_0003: the plugin's tables take its prefix; a database planned before the rename
keeps its campaigns, variants and recipients, and the downgrade gives the old names back."""

from __future__ import annotations

from pathlib import Path

from campaigns_support import NORTH
from sqlalchemy import inspect, text

import crmkit_campaigns
from crmkit import migrate
from crmkit_campaigns.definition import Variant

MIGRATIONS = Path(crmkit_campaigns.__file__).parent / "migrations"
OLD = {"campaigns", "campaign_variants", "campaign_recipients"}
NEW = {"campaigns_campaigns", "campaigns_variants", "campaigns_recipients"}


def campaign_tables(conn) -> set[str]:
    return {t for t in inspect(conn).get_table_names() if t.startswith("campaign")}


def test_the_rename_keeps_every_row_and_the_downgrade_restores_the_old_names(crm, thousand):
    thousand.add("spring", channel="email", condition=NORTH, subject="Spring", template="Hi",
                 holdout=0.2, variants=[Variant("a", 0.5, "A", "A"), Variant("b", 0.5, "B", "B")])
    planned = thousand.run("spring")
    with crm.connect(write=True) as conn:
        migrate.downgrade(conn, "campaigns@campaigns_0002", [MIGRATIONS])
        conn.commit()
        assert campaign_tables(conn) == OLD | {"campaigns_offers", "campaigns_coupons",
                                               "campaigns_redemptions"}
        assert conn.execute(text("SELECT count(*) FROM campaign_recipients")).scalar() == 800
        migrate.upgrade(conn, "campaigns@head", [MIGRATIONS])
        conn.commit()
        assert campaign_tables(conn) & OLD == set() and NEW <= campaign_tables(conn)
        found = inspect(conn)
        assert [i["name"] for i in found.get_indexes("campaigns_recipients")
                if i["column_names"] == ["customer_id"]] == ["ix_campaigns_recipients_customer_id"]
        assert [fk["referred_table"] for fk in found.get_foreign_keys("campaigns_offers")] == [
            "campaigns_campaigns"]
        if conn.dialect.name == "postgresql":   # constraints named for the new tables
            assert {c["name"] for c in found.get_unique_constraints("campaigns_recipients")} == {
                "uq_campaigns_recipients_campaign"}
            assert {c["name"] for c in found.get_check_constraints("campaigns_campaigns")} == {
                "ck_campaigns_campaigns_holdout_fraction", "ck_campaigns_campaigns_status",
                "ck_campaigns_campaigns_cost_fixed_not_negative",
                "ck_campaigns_campaigns_cost_per_message_not_negative"}
    again = thousand.run("spring")
    assert again["new"] == 0
    assert {k: again[k] for k in ("planned", "held_out", "skipped", "by_variant")} == {
        k: planned[k] for k in ("planned", "held_out", "skipped", "by_variant")}
    assert [v["name"] for v in thousand.show("spring")["variants"]] == ["a", "b"]
