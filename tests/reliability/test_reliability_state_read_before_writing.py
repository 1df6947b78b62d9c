"""An import and a sweep decide before their write transaction, and write with what it reads.

``crmkit import`` checks the file's size and header and builds its reader (the core config's
limits, the customer attributes' types, whether SQLite checks the rows' foreign keys) before
its transaction opens; ``crmkit social import`` and ``crmkit catalogue import`` check their
file's size and every line (``crmkit.plugin.checked_import``); ``crmkit sweep`` prepares
every plugin's work before its own.  A plugin or core configuration change committed in
between makes them decide again (``CRM.checked_write``), so the whole file, and every
plugin's sweep, is written with what the transaction reads.  Each change is staged deterministically by another CRM, as the
transaction is about to open.
"""

from __future__ import annotations

import re
import types

import pytest
from sqlalchemy import func, select

import crmkit
from crmkit import CRM, hookimpl, tables
from crmkit.errors import ConflictError, ValidationError
from crmkit.services.importing import ImportRejected, import_file

PURCHASES = ("customer,occurred_at,amount,external_id,note\n"
             "C1,2025-01-01,10.00,P1,a note of thirty characters...\n")


def on_opening(monkeypatch, crm, change, times: int = 1) -> None:
    """Run ``change()`` the first ``times`` times ``crm`` opens a write transaction: after
    what it decided before (an import's checks, a sweep's preparing), before the transaction
    reads the plugins and the core config."""
    opened = crm.transaction
    left = [times]

    def transaction(*args, **kwargs):
        if left[0]:
            left[0] -= 1
            change()
        return opened(*args, **kwargs)

    monkeypatch.setattr(crm, "transaction", transaction)


def stored_interactions(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(tables.interactions)).scalar_one()


def set_core(url, clock, **changed) -> None:
    with CRM.open(url, clock=clock) as admin:
        admin.plugins.configure_core({**admin.core_config, **changed})


def test_a_narrower_field_length_committed_before_the_transaction_applies_to_the_file(
        crm, crm_url, clock, tmp_path, monkeypatch):
    """``max_field_length`` narrowed after the import built its reader: the payload column
    it then let through is checked with the new limit; the file is rejected, nothing written."""
    crm.customers.add("C1")
    path = tmp_path / "i.csv"
    path.write_text(PURCHASES, encoding="utf-8")
    on_opening(monkeypatch, crm, lambda: set_core(crm_url, clock, max_field_length=20))
    with pytest.raises(ImportRejected) as caught:
        import_file(crm, "interactions", str(path))
    assert caught.value.report.problems == [
        ("line 2", "note", "30 characters; at most 20 (core config max_field_length)")]
    assert stored_interactions(crm) == 0


def test_a_smaller_import_limit_committed_before_the_transaction_refuses_the_file(
        crm, crm_url, clock, tmp_path, monkeypatch):
    crm.customers.add("C1")
    path = tmp_path / "i.csv"
    path.write_text(PURCHASES, encoding="utf-8")
    on_opening(monkeypatch, crm, lambda: set_core(crm_url, clock, max_import_bytes=10))
    with pytest.raises(ValidationError, match=r"i\.csv: \d+ bytes; the limit is 10 "):
        import_file(crm, "interactions", str(path))
    assert stored_interactions(crm) == 0


PLUGIN_IMPORTS = {
    "social": ("mentions.csv",
               "platform,post_id,handle,text,posted_at\ntwitter,1,alice,ok,2025-01-01\n",
               lambda crm, path: crm.plugin("social").import_file(path),
               lambda crm: crm.plugin("social").mentions()),
    "catalogue": ("products.csv",
                  "sku,name,category,list_price,unit_cost\nTEA,Tea,drinks,5,1\n",
                  lambda crm, path: crm.plugin("catalogue").import_products(path),
                  lambda crm: crm.plugin("catalogue").products()),
}
"""Per plugin with an import command: its file's name and text, the import, what it stored."""


@pytest.mark.parametrize("plugin", sorted(PLUGIN_IMPORTS))
def test_a_smaller_import_limit_committed_before_a_plugins_import_refuses_the_file(
        crm, crm_url, clock, tmp_path, monkeypatch, plugin):
    """``crmkit social import`` and ``crmkit catalogue import`` read and check the whole file
    before their transaction opens: a narrower ``max_import_bytes`` committed in between
    refuses it, nothing written."""
    name, text, run_import, stored = PLUGIN_IMPORTS[plugin]
    crm.plugins.enable(plugin)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    on_opening(monkeypatch, crm, lambda: set_core(crm_url, clock, max_import_bytes=10))
    with pytest.raises(ValidationError, match=rf"{name}: \d+ bytes; the limit is 10 "):
        run_import(crm, str(path))
    assert stored(crm) == []


def change_on_every_opening(monkeypatch, crm, crm_url, clock, setting: str) -> None:
    """Commit another value of the core config's ``setting`` as each of the next three
    write transactions of ``crm`` opens."""
    values = iter([5000, 6000, 7000])
    on_opening(monkeypatch, crm, lambda: set_core(crm_url, clock, **{setting: next(values)}),
               times=3)


def gave_up(name: str) -> str:
    """The error of an import of file ``name`` whose state changed three times in a row."""
    return (rf"{re.escape(name)} was not imported: what it was checked against changed while "
            r"it was being checked, 3 times in a row; nothing was written: run it again$")


@pytest.mark.parametrize("plugin", sorted(PLUGIN_IMPORTS))
def test_a_plugins_import_whose_state_changes_every_time_gives_up_writing_nothing(
        crm, crm_url, clock, tmp_path, monkeypatch, plugin):
    name, text, run_import, stored = PLUGIN_IMPORTS[plugin]
    crm.plugins.enable(plugin)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    change_on_every_opening(monkeypatch, crm, crm_url, clock, "max_import_bytes")
    with pytest.raises(ConflictError, match=gave_up(name)):
        run_import(crm, str(path))
    assert stored(crm) == []


def test_an_attribute_type_changed_before_the_transaction_reads_the_file_with_it(
        crm, crm_url, clock, tmp_path, monkeypatch):
    """``shoe_size`` was text when the import built its reader (``38`` kept as text) and is
    an integer when its transaction opens: the file is read as integers, as the checks
    then want."""
    def attributes(kind: str) -> dict:
        return {"type": "object", "properties": {"shoe_size": {"type": kind}}}

    crm.plugins.configure_core({**crm.core_config, "customer_attributes": attributes("string")})
    path = tmp_path / "c.csv"
    path.write_text("external_id,attr.shoe_size\nC1,38\n", encoding="utf-8")
    on_opening(monkeypatch, crm,
               lambda: set_core(crm_url, clock, customer_attributes=attributes("integer")))
    assert import_file(crm, "customers", str(path)).created == 1
    assert crm.customers.get("C1").attributes == {"shoe_size": 38}


def test_an_import_whose_state_changes_every_time_gives_up_writing_nothing(
        crm, crm_url, clock, tmp_path, monkeypatch):
    crm.customers.add("C1")
    path = tmp_path / "i.csv"
    path.write_text(PURCHASES, encoding="utf-8")
    change_on_every_opening(monkeypatch, crm, crm_url, clock, "max_field_length")
    with pytest.raises(ConflictError, match=gave_up("i.csv")):
        import_file(crm, "interactions", str(path))
    assert stored_interactions(crm) == 0


def pragma_plugin(seen: list[int]) -> types.ModuleType:
    """A plugin recording, as it reacts to interactions, whether SQLite checks foreign keys."""
    module = types.ModuleType("plugin_pragma")
    module.PLUGIN = crmkit.PluginInfo(name="pragma", description="reads PRAGMA foreign_keys")

    def crmkit_react_interactions(ctx, batch):
        seen.append(ctx.conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one())

    module.crmkit_react_interactions = hookimpl(crmkit_react_interactions)
    return module


@pytest.mark.parametrize("crm_url", ["sqlite"], indirect=True)
def test_a_plugin_enabled_before_the_transaction_gets_its_rows_with_foreign_keys_checked(
        crm_url, clock, tmp_path, monkeypatch):
    """With no plugin enabled, an interaction import on SQLite turns off the per-row
    foreign-key checks (it checks the customers itself).  A plugin enabled before the
    transaction opens, whose hooks may write any table, makes it decide again: the checks
    stay on and the plugin reacts to the rows."""
    seen: list[int] = []
    plugins = {"pragma": pragma_plugin(seen)}
    path = tmp_path / "i.csv"
    path.write_text(PURCHASES, encoding="utf-8")
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins) as crm:
        crm.customers.add("C1")

        def enable():
            with CRM.open(crm_url, clock=clock, extra_plugins=plugins) as admin:
                admin.plugins.enable("pragma")

        on_opening(monkeypatch, crm, enable)
        assert import_file(crm, "interactions", str(path)).created == 1
        assert seen == [1]


def preparing_plugin(seen: list[tuple]) -> types.ModuleType:
    """A plugin whose sweep prepares with its configured ``level`` and records, as it writes,
    what it prepared and the ``level`` it is configured with then."""
    module = types.ModuleType("plugin_preparing")
    module.PLUGIN = crmkit.PluginInfo(name="preparing", description="prepares its sweep")

    def crmkit_config_schema():
        return {"type": "object", "properties": {"level": {"type": "integer", "default": 1}},
                "additionalProperties": False}

    def crmkit_sweep_prepare(crm, as_of):
        return ("prepared with level", crm.plugin_config("preparing")["level"])

    def crmkit_sweep(ctx, prepared):
        seen.append((prepared, ctx.config["level"]))

    for hook in (crmkit_config_schema, crmkit_sweep_prepare, crmkit_sweep):
        setattr(module, hook.__name__, hookimpl(hook))
    return module


@pytest.mark.parametrize("change", ["enable", "configure"])
def test_a_plugin_changed_between_a_sweeps_phases_writes_what_it_prepared_with_its_change(
        crm_url, clock, monkeypatch, change):
    """A plugin enabled after the sweep prepared (which it was not part of), or configured
    after it prepared with the old configuration: every plugin prepares again, and writes
    what it prepared with the state the write transaction reads."""
    seen: list[tuple] = []
    plugins = {"preparing": preparing_plugin(seen)}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins) as crm:
        if change == "configure":
            crm.plugins.enable("preparing")

        def changing():
            with CRM.open(crm_url, clock=clock, extra_plugins=plugins) as admin:
                if change == "enable":
                    admin.plugins.enable("preparing", {"level": 2})
                else:
                    admin.plugins.configure("preparing", {"level": 2})

        on_opening(monkeypatch, crm, changing)
        crm.sweep()
        assert seen == [(("prepared with level", 2), 2)]
