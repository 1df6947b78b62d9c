"""Schema versions: pending plugin migrations are reported, applied on request, data intact."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from decimal import Decimal

import pytest
from sqlalchemy import text

import crmkit
from crmkit import CRM, tables
from crmkit.errors import DatabaseError
from crmkit.services.audit import AuditLog

REV1 = '''import sqlalchemy as sa
from alembic import op
revision = "evolving_0001"
down_revision = None
branch_labels = ("evolving",)
depends_on = None
def upgrade():
    op.create_table("evolving_notes", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("body", sa.String(100)))
def downgrade():
    op.drop_table("evolving_notes")
'''

REV2 = '''import sqlalchemy as sa
from alembic import op
revision = "evolving_0002"
down_revision = "evolving_0001"
branch_labels = None
depends_on = None
def upgrade():
    op.add_column("evolving_notes", sa.Column("author", sa.String(100), server_default="n/a"))
def downgrade():
    op.drop_column("evolving_notes", "author")
'''


def evolving_plugin(versions) -> types.ModuleType:
    module = types.ModuleType("evolving")
    module.PLUGIN = crmkit.PluginInfo(name="evolving", description="schema that grows")
    module.crmkit_migrations = crmkit.hookimpl(lambda: versions)
    return module


def test_pending_plugin_migration_is_reported_then_applied(crm_url, clock, tmp_path, run_cli):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "evolving_0001.py").write_text(REV1)
    plugin = {"evolving": evolving_plugin(versions)}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugin) as crm:
        crm.plugins.enable("evolving")
        with crm.connect(write=True) as conn:
            conn.execute(text("INSERT INTO evolving_notes (id, body) VALUES (1, 'kept')"))
            conn.commit()
    (versions / "evolving_0002.py").write_text(REV2)  # the plugin's next release
    with pytest.raises(DatabaseError, match=r"needs schema migrations: evolving \(1\); run `crmkit db upgrade`"):
        CRM.open(crm_url, clock=clock, extra_plugins=plugin)
    with CRM.open(crm_url, clock=clock, upgrade=True, extra_plugins=plugin) as crm:
        assert crm.applied_migrations == {"evolving": ["evolving_0002"]}
        with crm.connect() as conn:
            assert conn.execute(text("SELECT id, body, author FROM evolving_notes")).all() == [
                (1, "kept", "n/a")]
            assert crm.pending_migrations(conn) == {"core": [], "evolving": []}


def test_db_status_reports_pending(run_cli):
    code, out, _ = run_cli("db", "status", "--format", "json")
    assert code == 0 and "crmkit init" in out
    run_cli("init")
    code, out, _ = run_cli("db", "status", "--format", "json")
    assert code == 0 and '"pending": "none"' in out


def long_kpis(count: int = 6) -> str:
    return json.dumps([{"name": f"revenue target number {i}", "metric": "revenue",
                        "target": 1000 + i, "deadline": "2025-12-31"} for i in range(count)])


def test_a_command_longer_than_300_characters_is_audited_in_full(crm, run_cli, monkeypatch):
    crm.plugins.enable("analytical")
    args = ["plugins", "config", "analytical", "--set", f"kpis={long_kpis()}"]
    monkeypatch.setattr(sys, "argv", ["crmkit", *args])  # the command line the audit records
    code, _, err = run_cli(*args)
    assert code == 0, err
    [entry] = AuditLog(crm).list(action="configure", limit=1)
    assert entry.command == "crmkit " + " ".join(args) and len(entry.command) > 300


def test_core_0002_widens_the_audit_command_of_an_existing_database(crm_url, clock):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm, crm.connect(write=True) as conn:
        migrate.downgrade(conn, "core@core_0001")
        conn.commit()
    with pytest.raises(DatabaseError, match=r"needs schema migrations: core \(\d+\)"):
        CRM.open(crm_url, clock=clock)
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        crm.command = "crmkit " + "x" * 400
        crm.customers.add("C1")
        [entry] = AuditLog(crm).list(limit=1)
        assert entry.command == crm.command


def test_core_0010_counts_every_recorded_plugin_enabled_once(crm_url, clock):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm:
        crm.plugins.enable("analytical")
        crm.plugins.enable("social")
        crm.plugins.disable("social")
        with crm.connect(write=True) as conn:
            migrate.downgrade(conn, "core@core_0009")
            conn.commit()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        assert times_enabled(crm) == {"analytical": 1, "social": 1}
        crm.plugins.enable("social")
        crm.plugins.configure("analytical", {})
        assert times_enabled(crm) == {"analytical": 1, "social": 2}


def test_core_0011_takes_the_audit_log_from_a_stored_built_in_viewer_only(crm_url, clock):
    from crmkit import migrate

    def upgraded(viewer: list[str]) -> dict[str, list[str]]:
        """The roles after storing ``viewer``, going back to core_0010 and upgrading."""
        with CRM.open(crm_url, clock=clock, create=True) as crm:
            roles = {**crm.core_config["roles"], "viewer": viewer, "auditor": ["*.read"]}
            crm.plugins.configure_core({**crm.core_config, "roles": roles})
            with crm.connect(write=True) as conn:
                migrate.downgrade(conn, "core@core_0010")
                conn.commit()
        with CRM.open(crm_url, clock=clock, upgrade=True):
            pass
        with CRM.open(crm_url, clock=clock) as crm:
            return crm.core_config["roles"]

    roles = upgraded(["*.read"])  # what the built-in viewer granted
    assert roles["viewer"] == ["*.read", "!audit.read"]
    assert (roles["admin"], roles["auditor"]) == (["*"], ["*.read"])
    assert upgraded(["*.read", "customers.pii"])["viewer"] == ["*.read", "customers.pii"]


def test_core_0012_keeps_channels_in_lower_case_one_consent_decision_per_channel(crm_url, clock):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm:
        crm.customers.add_many([{"external_id": ref} for ref in ("C1", "C2", "C3")])
        ids = {ref: crm.customers.get(ref).id for ref in ("C1", "C2", "C3")}
        with crm.connect(write=True) as conn:
            migrate.downgrade(conn, "core@core_0011")
            for ref, channel in (("C1", "Email"), ("C2", " SMS"), ("C3", "email")):
                conn.execute(tables.customers.update().where(tables.customers.c.id == ids[ref])
                             .values(preferred_channel=channel))
            day = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
            conn.execute(tables.consents.insert(), [
                {"customer_id": ids[ref], "channel": channel, "granted": granted,
                 "source": source, "recorded_at": day + dt.timedelta(days=days)}
                for ref, channel, granted, source, days in (
                    ("C1", "email", True, "web form", 0), ("C1", "Email", False, "call", 1),
                    ("C1", "SMS ", True, "app", 0), ("C1", "post", True, "letter", 0),
                    ("C2", "Phone", True, "shop", 2), ("C2", "phone", False, "call", 2))])
            conn.commit()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        decided = {ref: [(c.channel, c.granted, c.source) for c in crm.customers.consents(ref)]
                   for ref in ("C1", "C2")}
        preferred = [crm.customers.get(ref).preferred_channel for ref in ("C1", "C2", "C3")]
        crm.customers.update("C3", preferred_channel=" Post ")
        assert crm.customers.get("C3").preferred_channel == "post"
    assert preferred == ["email", "sms", "email"]
    assert decided == {  # the latest decision; on a tie, the withdrawal
        "C1": [("email", False, "call"), ("post", True, "letter"), ("sms", True, "app")],
        "C2": [("phone", False, "call")]}


def test_core_0013_keeps_interaction_kinds_in_lower_case(crm_url, clock, run_cli):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm:
        crm.plugins.enable("analytical")
        crm.customers.add("C1")
        for amount in ("10", "20", "30"):
            crm.interactions.record("C1", clock.now(), amount=amount)
        with crm.connect(write=True) as conn:
            migrate.downgrade(conn, "core@core_0012")
            i = tables.interactions.c
            for interaction_id, typed in ((1, "Purchase"), (2, " PURCHASE "), (3, " ")):
                conn.execute(tables.interactions.update().where(i.id == interaction_id)
                             .values(kind=typed))
            conn.commit()
    assert run_cli("db", "upgrade") == (
        0, "applied core: core_0013, core_0014\nschema up to date\n", "")
    with CRM.open(crm_url, clock=clock) as crm:
        kinds = [interaction.kind for interaction in crm.interactions.list()]
        [score] = crm.plugin("analytical").rfm()
    assert kinds == ["purchase"] * 3
    assert (score.frequency, score.monetary) == (3, Decimal("60.0000"))


def test_core_0014_drops_blank_tags(crm_url, clock, run_cli):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm:
        crm.customers.add_many([{"external_id": ref, "tags": ["vip"]} for ref in ("C1", "C2")])
        with crm.connect(write=True) as conn:
            migrate.downgrade(conn, "core@core_0013")
            c = tables.customers.c
            conn.execute(tables.customers.update().where(c.external_id == "C1")
                         .values(tags=["", 'say "hi"', "gold;vip"]))
            conn.commit()
    assert run_cli("db", "upgrade") == (0, "applied core: core_0014\nschema up to date\n", "")
    with CRM.open(crm_url, clock=clock) as crm:
        tags = {ref: crm.customers.get(ref).tags for ref in ("C1", "C2")}
        crm.customers.update("C1", tags=[*tags["C1"], "new"])  # the kept tags are valid
        assert crm.customers.get("C1").tags == ("gold;vip", "new", 'say "hi"')
    assert tags == {"C1": ("gold;vip", 'say "hi"'), "C2": ("vip",)}


def times_enabled(crm) -> dict[str, int]:
    with crm.read() as conn:
        return dict(conn.execute(text("SELECT name, times_enabled FROM plugin_state")).all())


def test_plain_head_reads_a_single_line_of_revisions_or_gives_up(tmp_path):
    from crmkit.migrate import plain_head

    (tmp_path / "evolving_0001.py").write_text(REV1)
    assert plain_head(tmp_path) == "evolving_0001"
    (tmp_path / "evolving_0002.py").write_text(REV2)
    assert plain_head(tmp_path) == "evolving_0002"
    # a second head (a branch off evolving_0001): not certain
    (tmp_path / "evolving_0003.py").write_text(REV2.replace('"evolving_0002"', '"evolving_0003"'))
    assert plain_head(tmp_path) is None
    (tmp_path / "evolving_0003.py").write_text(
        REV2.replace('revision = "evolving_0002"', 'revision = "evolving_" + "0003"'))
    assert plain_head(tmp_path) is None  # a computed revision id: not read, not guessed


def test_an_up_to_date_schema_is_checked_without_loading_the_scripts(crm_url, clock, tmp_path,
                                                                     monkeypatch):
    from crmkit import migrate

    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "evolving_0001.py").write_text(REV1)
    plugin = {"evolving": evolving_plugin(versions)}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugin) as crm:
        crm.plugins.enable("evolving")

    def no_alembic(*args, **kwargs):
        raise AssertionError("alembic's script directory was loaded")

    monkeypatch.setattr(migrate, "script_directory", no_alembic)
    with CRM.open(crm_url, clock=clock, extra_plugins=plugin) as crm:
        with crm.connect() as conn:
            assert crm.pending_migrations(conn) == {"core": [], "evolving": []}
    monkeypatch.undo()
    (versions / "evolving_0002.py").write_text(REV2)  # behind: alembic's answer, as before
    with pytest.raises(DatabaseError, match=r"needs schema migrations: evolving \(1\)"):
        CRM.open(crm_url, clock=clock, extra_plugins=plugin)
