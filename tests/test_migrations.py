"""Schema versions: pending plugin migrations are reported, applied on request, data intact."""

from __future__ import annotations

import types

import pytest
from sqlalchemy import text

import crmkit
from crmkit import CRM
from crmkit.errors import DatabaseError

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
