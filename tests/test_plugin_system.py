"""The plugin system, exercised through the vendor-style test plugin (tests/vendor_plugin)."""

from __future__ import annotations

import datetime as dt
import types
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select

import crmkit
import crmkit_testvendor
from crmkit import CRM, hookimpl, tables
from crmkit.errors import ConfigError, ConflictError, PluginError, ValidationError

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 5, 1, tzinfo=UTC)


def table_names(crm) -> set[str]:
    with crm.connect() as conn:
        return set(inspect(conn).get_table_names())


def make_plugin(name: str, requires: tuple[str, ...] = (), after: tuple[str, ...] = (),
                **hooks) -> types.ModuleType:
    """A throwaway plugin module with the given hook implementations."""
    module = types.ModuleType(f"plugin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"{name} test plugin",
                                      requires=requires, after=after)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def open_with(crm_url, clock, **plugins):
    return CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins)


def test_enable_with_defaults_runs_migration_and_records_state(vendor_crm):
    crm = vendor_crm
    assert "testvendor_counts" not in table_names(crm)
    config = crm.plugins.enable("testvendor")
    assert config == {"blocked_channels": [], "big_purchase_amount": 1000, "tag_payload": False,
                      "welcome_note": "Welcome!"}
    assert {"testvendor_counts", "testvendor_notes"} <= table_names(crm)
    [status] = [p for p in crm.plugins.list() if p.name == "testvendor"]
    assert status.enabled and status.status == "enabled"
    crm.plugins.disable("testvendor")
    assert "testvendor_counts" in table_names(crm)  # data kept


def test_config_errors_name_the_json_pointer_and_change_nothing(vendor_crm):
    crm = vendor_crm
    with pytest.raises(ConfigError, match=r"/big_purchase_amount: -1 is less than the minimum"):
        crm.plugins.enable("testvendor", {"big_purchase_amount": -1})
    with pytest.raises(ConfigError, match=r"/colour.*\(allowed: keys big_purchase_amount"):
        crm.plugins.enable("testvendor", {"colour": "red"})
    assert "testvendor_counts" not in table_names(crm)
    assert not any(p.enabled for p in crm.plugins.list())
    crm.plugins.enable("testvendor")
    with pytest.raises(ConfigError, match="/blocked_channels"):
        crm.plugins.configure("testvendor", {"blocked_channels": "sms"})
    assert crm.plugins.config("testvendor")["blocked_channels"] == []


def test_unknown_plugin_and_missing_requirement(crm_url, clock):
    needy = make_plugin("needy", requires=("testvendor",))
    with open_with(crm_url, clock, testvendor=crmkit_testvendor, needy=needy) as crm:
        with pytest.raises(PluginError, match="no plugin named 'nope' is installed"):
            crm.plugins.enable("nope")
        with pytest.raises(PluginError, match="requires testvendor, which is not enabled"):
            crm.plugins.enable("needy")
        crm.plugins.enable("testvendor")
        crm.plugins.enable("needy")
        assert crm.enabled_plugins() == ["testvendor", "needy"]
        with pytest.raises(PluginError, match="needy require"):
            crm.plugins.disable("testvendor")


def test_validate_enrich_react_events_and_after_commit(vendor_crm):
    crm = vendor_crm
    crm.plugins.enable("testvendor", {"blocked_channels": ["fax"], "tag_payload": True,
                                      "big_purchase_amount": 100})
    crmkit_testvendor.AFTER_COMMIT_CALLS.clear()
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
    assert crm.plugin("testvendor").notes("C1") == ["Welcome!"]  # on_events
    rows = [{"customer": "C1", "occurred_at": T0, "amount": "150"},
            {"customer": "C1", "occurred_at": T0, "amount": "5"},
            {"customer": "C2", "occurred_at": T0, "kind": "visit"}]
    crm.interactions.record_many(rows)
    api = crm.plugin("testvendor")
    assert (api.purchases("C1"), api.purchases("C2")) == (2, 0)  # react, set-based
    assert [i.payload for i in crm.interactions.list(customer="C1", kind="purchase")] == [
        {"testvendor": True}, {"testvendor": True}]  # enrich
    big = crm.events.list(type="testvendor.big_purchase")
    assert len(big) == 1 and big[0].source == "testvendor"
    assert ("interactions", 3) in crmkit_testvendor.AFTER_COMMIT_CALLS
    with pytest.raises(ValidationError, match=r"row 2: channel: channel 'fax' is blocked by testvendor \[testvendor\]"):
        crm.interactions.record_many([{"customer": "C1", "occurred_at": T0},
                                      {"customer": "C1", "occurred_at": T0, "channel": "fax"}])
    assert api.purchases("C1") == 2


def test_customer_schema_extension_is_enforced(vendor_crm):
    crm = vendor_crm
    crm.customers.add("C0", attributes={"vendor_level": 9})  # not enabled: no rule yet
    crm.plugins.enable("testvendor")
    crm.customers.add("C1", attributes={"vendor_level": 3})
    with pytest.raises(ValidationError, match=r"/vendor_level: 9 is greater than the maximum of 5"):
        crm.customers.add("C2", attributes={"vendor_level": 9})


@pytest.mark.parametrize("hook", ["crmkit_validate_interactions", "crmkit_enrich_interactions",
                                  "crmkit_react_interactions", "crmkit_on_events"])
def test_a_raising_hook_rejects_the_batch_naming_the_plugin(crm_url, clock, hook):
    def boom(ctx, **_):
        raise RuntimeError("kaput")

    args = {"crmkit_validate_interactions": lambda ctx, rows: boom(ctx),
            "crmkit_enrich_interactions": lambda ctx, rows: boom(ctx),
            "crmkit_react_interactions": lambda ctx, batch: boom(ctx),
            "crmkit_on_events": lambda ctx, events: boom(ctx)}
    bad = make_plugin("bad", **{hook: args[hook]})
    with open_with(crm_url, clock, bad=bad, testvendor=crmkit_testvendor) as crm:
        crm.plugins.enable("testvendor")
        crm.customers.add("C1")
        crm.plugins.enable("bad")
        before = crm.interactions.list(limit=None)
        with pytest.raises((PluginError,), match=f"plugin 'bad' failed in {hook}: RuntimeError: kaput"):
            if hook == "crmkit_on_events":
                crm.customers.add("C2")
            else:
                crm.interactions.record("C1", T0)
        assert crm.interactions.list(limit=None) == before
        assert crm.plugin("testvendor").purchases("C1") == 0
        with pytest.raises(Exception):
            crm.customers.get("C2")


def test_a_payload_enriched_in_place_is_stored_as_enriched(crm_url, clock):
    def stamp(rows):
        for row in rows:
            row["payload"]["stamped"] = True

    stamper = make_plugin("stamper", crmkit_enrich_interactions=stamp)
    with open_with(crm_url, clock, stamper=stamper) as crm:
        crm.customers.add("C1")
        crm.interactions.record("C1", T0, payload={"note": "before"})
        crm.plugins.enable("stamper")
        crm.interactions.record("C1", T0, payload={"note": "after"})
        stored = [i.payload for i in crm.interactions.list(customer="C1")]
    assert sorted(stored, key=str) == [{"note": "after", "stamped": True}, {"note": "before"}]


def test_after_commit_failure_is_reported_and_data_kept(crm_url, clock):
    def fail(kind, batch):
        raise RuntimeError("mail server down")

    bad = make_plugin("notifier", crmkit_after_commit=fail)
    with open_with(crm_url, clock, notifier=bad) as crm:
        crm.plugins.enable("notifier")
        crm.customers.add("C1")
        result = crm.interactions.record_many([{"customer": "C1", "occurred_at": T0}])
        assert result.created == 1
        assert result.after_commit_errors == [
            "plugin 'notifier' failed after commit: RuntimeError: mail server down"]
        assert len(crm.interactions.list()) == 1


def test_event_loops_are_stopped(crm_url, clock):
    def ping(ctx, events):
        for event in events:
            ctx.emit("loop.ping", event.customer_id)

    looping = make_plugin("looping", crmkit_on_events=ping)
    with open_with(crm_url, clock, looping=looping) as crm:
        crm.plugins.enable("looping")
        with pytest.raises(PluginError, match="event chain deeper than"):
            crm.customers.add("C1")
        assert crm.customers.count() == 0


def test_an_event_emitted_for_a_recorded_interaction_is_one_event_deep(crm_url, clock):
    def react(ctx, batch):  # the delivery of the batch's interaction.recorded events
        for row in batch.rows:
            ctx.emit("echo.seen", row["customer_id"], {"note": row["payload"]["note"]})

    def on_events(ctx, events):  # a reaction that records an interaction: one more event deep
        for event in events:
            if event.type == "customer.created":
                ctx.crm.interactions.record(event.payload["external_id"], T0,
                                            payload={"note": "nested"})

    echo = make_plugin("echo", crmkit_react_interactions=react, crmkit_on_events=on_events)
    with open_with(crm_url, clock, echo=echo) as crm:
        crm.customers.add("C1")
        crm.plugins.enable("echo")
        crm.interactions.record("C1", T0, payload={"note": "direct"})
        crm.customers.add("C2")
        depths = {e.payload["note"]: e.depth for e in crm.events.list(type="echo.seen")}
    assert depths == {"direct": 1, "nested": 2}


def test_a_hook_reads_its_depth_in_a_check_as_a_write_there_would(crm_url, clock):
    """ctx.depth in a read-only context (a check, a preview) is the depth of the work that runs
    it: 0, or inside a reaction to an event that reaction's, as a write there would read; a
    validate hook shared by checks and writes reads it in both."""
    seen = []

    def validate(ctx, rows):
        seen.extend((row["external_id"], ctx.depth) for row in rows)

    def on_events(ctx, events):
        for event in events:
            if event.payload.get("external_id") == "C1":
                ctx.crm.customers.check([{"external_id": "IN-REACTION"}], ["row 1"])

    probe = make_plugin("probe", crmkit_validate_customers=validate, crmkit_on_events=on_events)
    with open_with(crm_url, clock, probe=probe) as crm:
        crm.plugins.enable("probe")
        assert crm.customers.check([{"external_id": "CHECKED"}], ["row 1"]) == []
        assert crm.customers.preview([{"external_id": "PREVIEWED"}], ["row 1"])[2] == []
        crm.customers.add("C1")
    assert seen == [("CHECKED", 0), ("PREVIEWED", 0), ("C1", 0), ("IN-REACTION", 1)]


def test_times_enabled_counts_the_enables_of_a_disabled_plugin(crm_url, clock):
    """ctx.times_enabled grows by one when a disabled or never enabled plugin is enabled, so a
    plugin can tell it missed writes; configuring it, or enabling it while it is enabled,
    changes nothing."""
    seen = []
    counter = make_plugin("counter", crmkit_react_interactions=lambda ctx: seen.append(
        ctx.times_enabled))
    with open_with(crm_url, clock, counter=counter) as crm:
        crm.customers.add("C1")

        def times_seen_by_a_write() -> int:
            crm.interactions.record("C1", T0)
            return seen.pop()

        crm.plugins.enable("counter")
        assert times_seen_by_a_write() == 1
        crm.plugins.enable("counter")
        crm.plugins.configure("counter", {})
        assert times_seen_by_a_write() == 1
        crm.plugins.disable("counter")
        crm.interactions.record("C1", T0)  # missed
        crm.plugins.enable("counter")
        assert times_seen_by_a_write() == 2 and seen == []


def test_broken_plugin_is_listed_and_others_keep_working(crm_url, clock):
    with open_with(crm_url, clock, testvendor=crmkit_testvendor) as crm:
        crm.installed["broken"] = crmkit.plugins.InstalledPlugin("broken", "no_such_module_xyz", "1")
        crm.installed["broken"].module = None
        statuses = {p.name: p for p in crm.plugins.list()}
        assert statuses["broken"].status == "broken"
        assert "No module named 'no_such_module_xyz'" in statuses["broken"].error
        crm.plugins.enable("testvendor")
        crm.customers.add("C1")
        with pytest.raises(PluginError, match="'broken' is broken"):
            crm.plugins.enable("broken")


def test_enabled_plugin_that_breaks_blocks_writes_clearly(crm_url, clock):
    with open_with(crm_url, clock, testvendor=crmkit_testvendor) as crm:
        crm.plugins.enable("testvendor")
    with CRM.open(crm_url, clock=clock) as crm:  # testvendor no longer available
        with pytest.raises(PluginError, match="'testvendor' is enabled but not installed"):
            crm.customers.add("C1")
        crm.plugins.disable("testvendor")
        crm.customers.add("C1")


def test_failed_migration_leaves_database_as_it_was(crm_url, clock, tmp_path):
    versions = tmp_path / "bad_migrations"
    versions.mkdir()
    (versions / "bad_0001.py").write_text(
        'import sqlalchemy as sa\nfrom alembic import op\n'
        'revision = "bad_0001"\ndown_revision = None\nbranch_labels = ("badmig",)\n'
        'depends_on = None\n'
        'def upgrade():\n'
        '    op.create_table("badmig_things", sa.Column("id", sa.Integer, primary_key=True))\n'
        '    op.execute("THIS IS NOT SQL")\n'
        'def downgrade():\n    op.drop_table("badmig_things")\n')
    badmig = make_plugin("badmig", crmkit_migrations=lambda: versions)
    def versions(crm):
        with crm.read() as conn:
            return {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}

    with open_with(crm_url, clock, badmig=badmig) as crm:
        before = versions(crm)
        with pytest.raises(Exception):
            crm.plugins.enable("badmig")
        assert "badmig_things" not in table_names(crm)
        assert not [p for p in crm.plugins.list() if p.enabled]
        assert versions(crm) == before and all(v.startswith("core_") for v in before)


NOTE = {"type": "object", "additionalProperties": False,
        "properties": {"note": {"type": "string", "default": ""}}}
"""The configuration schema of the test plugins below: one text, ``note``."""


def audited(crm, action: str) -> list[str]:
    with crm.read() as conn:
        return list(conn.execute(select(tables.audit_log.c.record_key)
                                 .where(tables.audit_log.c.action == action)).scalars())


def test_a_configuration_changed_under_every_check_is_refused_and_nothing_written(crm_url,
                                                                                 clock):
    """enable and configure store a configuration only if the plugins' state and the core
    configuration are what the plugin's crmkit_check_config read; here another process
    changes the core configuration during every check: after 3 checks a ConflictError
    names the plugin, and the plugin's state is as it was."""
    checked, meddling = [], []

    def check_config(crm, config):
        if meddling and crm is meddling[0]:
            return  # the other process's core configuration change checking the stored one
        checked.append(config["note"])
        if meddling:  # another process (its own CRM, its own connection) writes meanwhile
            other = meddling[0]
            core = other.core_config
            other.plugins.configure_core({**core, "webhooks": {
                **core["webhooks"], "timeout_seconds": core["webhooks"]["timeout_seconds"] + 1}})

    probe = make_plugin("probe", crmkit_config_schema=lambda: NOTE,
                        crmkit_check_config=check_config)
    with open_with(crm_url, clock, probe=probe) as crm, \
            CRM.open(crm_url, clock=clock, extra_plugins={"probe": probe}) as other:
        crm.plugins.enable("probe", {"note": "first"})
        meddling.append(other)
        with pytest.raises(ConflictError) as refused:
            crm.plugins.configure("probe", {"note": "second"})
        assert str(refused.value) == (
            "plugin 'probe' was not configured: what it was checked against changed while it "
            "was being checked, 3 times in a row; nothing was written: run it again")
        assert checked == ["first", "second", "second", "second"]
        assert crm.plugins.config("probe") == {"note": "first"}
        crm.plugins.disable("probe")
        with pytest.raises(ConflictError, match=r"^plugin 'probe' was not enabled: .* 3 times "
                                                r"in a row; nothing was written: run it again$"):
            crm.plugins.enable("probe", {"note": "third"})
        assert "probe" not in crm.enabled_plugins()
        assert crm.plugins.kept_config("probe") == {"note": "first"}
        assert audited(crm, "enable") == ["probe"] and audited(crm, "configure") == ["core"] * 6
        assert crm.core_config["webhooks"]["timeout_seconds"] == 16


def test_a_core_config_change_whose_plugins_change_under_every_check_is_refused(crm_url,
                                                                                   clock):
    """A core configuration change is stored only if the plugins' state it checked is still
    stored; here another process reconfigures the plugin during every check of its stored
    configuration: after 3 checks a ConflictError says the core config was not changed, and
    it was not."""
    notes = iter(["second", "third", "fourth"])

    def check_config(crm, config, core_config):
        if crm is not other and core_config["timezone"] == "Europe/London":
            other.plugins.configure("probe", {"note": next(notes)})

    probe = make_plugin("probe", crmkit_config_schema=lambda: NOTE,
                        crmkit_check_config=check_config)
    with open_with(crm_url, clock, probe=probe) as crm, \
            CRM.open(crm_url, clock=clock, extra_plugins={"probe": probe}) as other:
        crm.plugins.enable("probe", {"note": "first"})
        with pytest.raises(ConflictError) as refused:
            crm.plugins.configure_core({**crm.core_config, "timezone": "Europe/London"})
        assert str(refused.value) == (
            "the core config was not changed: what it was checked against changed while it "
            "was being checked, 3 times in a row; nothing was written: run it again")
        assert crm.plugins.config("probe") == {"note": "fourth"}
        assert crm.core_config["timezone"] == "UTC" and audited(crm, "configure") == [
            "probe"] * 3


def test_a_configuration_changed_under_its_first_check_is_checked_again_and_stored(crm_url,
                                                                                   clock):
    """Another process enables a plugin while crmkit_check_config checks a configuration:
    what the check read is stale, so it checks again, against the state now stored, and the
    second check's configuration is written."""
    seen = []

    def check_config(crm, config):
        seen.append(sorted(crm.enabled_plugins()))
        if len(seen) == 1:
            other.plugins.enable("bystander")

    probe = make_plugin("probe", crmkit_config_schema=lambda: NOTE,
                        crmkit_check_config=check_config)
    plugins = {"probe": probe, "bystander": make_plugin("bystander")}
    with open_with(crm_url, clock, **plugins) as crm, \
            CRM.open(crm_url, clock=clock, extra_plugins=plugins) as other:
        assert crm.plugins.enable("probe", {"note": "kept"}) == {"note": "kept"}
        assert seen == [[], ["bystander"]]
        assert crm.plugins.config("probe") == {"note": "kept"}
        assert crm.enabled_plugins() == ["bystander", "probe"]
        assert audited(crm, "enable") == ["bystander", "probe"]


def test_hook_order_follows_requirements_then_name(crm_url, clock):
    calls = []
    plugins = {
        name: make_plugin(name, requires=req,
                          crmkit_react_customers=(lambda n: lambda batch: calls.append(n))(name))
        for name, req in [("zeta", ()), ("alpha", ("zeta",)), ("mid", ())]
    }
    with open_with(crm_url, clock, **plugins) as crm:
        for name in ("zeta", "mid", "alpha"):
            crm.plugins.enable(name)
        crm.customers.add("C1")
    assert calls == ["mid", "zeta", "alpha"]


def test_after_orders_hooks_without_requiring_and_star_puts_a_plugin_last():
    from crmkit.plugins import dependency_order

    def info(name, requires=(), after=()):
        return crmkit.PluginInfo(name=name, description=name, requires=requires, after=after)

    infos = {"audit": info("audit", after=("*",)), "beta": info("beta", after=("gamma",)),
             "gamma": info("gamma"), "alpha": info("alpha", requires=("gamma",)),
             "omega": info("omega", after=("not-installed",))}
    assert dependency_order(infos) == ["gamma", "alpha", "beta", "omega", "audit"]
    del infos["gamma"]  # after names only an order, never a requirement
    assert dependency_order(infos) == ["alpha", "beta", "omega", "audit"]


def test_plugin_version_range_is_enforced(crm_url, clock):
    future = make_plugin("future")
    future.PLUGIN = crmkit.PluginInfo(name="future", description="x", crmkit_versions=">=9")
    with open_with(crm_url, clock, future=future) as crm:
        with pytest.raises(PluginError, match=r"supports crmkit >=9, this is crmkit"):
            crm.plugins.enable("future")


def test_sweep_calls_enabled_plugins(vendor_crm):
    vendor_crm.plugins.enable("testvendor")
    vendor_crm.plugins.enable("analytical")
    steps = []
    assert vendor_crm.sweep(progress=steps.append)["testvendor"] == {"swept": 1}
    # each phase names itself: a plugin with both hooks shows up reading, then writing
    assert steps == ["reading analytical", "writing analytical", "writing testvendor"]


def test_money_sums_are_exact(vendor_crm):
    crm = vendor_crm
    crm.customers.add("C1")
    crm.interactions.record_many([{"customer": "C1", "occurred_at": T0, "amount": "0.1"}] * 1
                                 + [{"customer": "C1", "occurred_at": T0, "amount": "0.2"}])
    with crm.read() as conn:
        assert conn.execute(select(func.sum(tables.interactions.c.amount))).scalar() == Decimal("0.3")


def test_plugins_list_reads_the_cached_import_status_and_reports_a_plugin_broken_since(
        crm_url, clock, tmp_path, monkeypatch):
    """A second listing imports no unchanged plugin; editing a plugin's files (same version)
    makes the listing import it again, so a plugin broken after caching is still reported."""
    import os
    import sys

    site = tmp_path / "site"
    package = site / "crmkit_cachedemo"
    package.mkdir(parents=True)
    source = package / "__init__.py"
    source.write_text("import crmkit\nPLUGIN = crmkit.PluginInfo(name='cachedemo', "
                      "description='Cache demo.', requires=('testvendor',))\n")
    dist = site / "crmkit_cachedemo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Name: crmkit-cachedemo\nVersion: 1.0\n\n")
    (dist / "entry_points.txt").write_text("[crmkit]\ncachedemo = crmkit_cachedemo\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("CRMKIT_CACHE_DIR", str(tmp_path / "cache"))

    def listed():
        with open_with(crm_url, clock) as crm:
            return {p.name: p for p in crm.plugins.list()}["cachedemo"]

    sys.modules.pop("crmkit_cachedemo", None)  # each run imports its own copy

    first = listed()
    assert (first.status, first.requires, first.description) == ("disabled", ("testvendor",),
                                                                 "Cache demo.")
    assert (tmp_path / "cache" / "plugin-listing.json").exists()

    sys.modules.pop("crmkit_cachedemo")  # a listing that imported it would have to again
    imported = []
    real_load = crmkit.plugins.load
    monkeypatch.setattr(crmkit.plugins, "load", lambda p: imported.append(p.name) or real_load(p))
    again = listed()
    assert (again.status, again.requires, again.description) == ("disabled", ("testvendor",),
                                                                 "Cache demo.")
    assert "cachedemo" not in imported and "analytical" not in imported

    source.write_text("raise RuntimeError('broken on purpose')\n")
    later = os.stat(source).st_mtime_ns + 2_000_000_000  # coarse file-system clocks
    os.utime(source, ns=(later, later))
    broken = listed()
    assert broken.status == "broken"
    assert broken.error == "RuntimeError: broken on purpose"
    assert "cachedemo" in imported


def test_the_pipeline_runs_one_stage_sequence_for_customers_and_interactions(crm_url, clock):
    calls = []

    def note(stage):
        return lambda rows=None, batch=None, events=None: calls.append(
            (stage, [r.get("customer_id", r.get("external_id")) for r in rows or batch.rows
                     ] if events is None else sorted({e.type for e in events})))

    recorder = make_plugin("recorder", **{
        "crmkit_validate_customers": lambda rows: note("validate customers")(rows=rows),
        "crmkit_react_customers": lambda batch: note("react customers")(batch=batch),
        "crmkit_validate_interactions": lambda rows: note("validate interactions")(rows=rows),
        "crmkit_enrich_interactions": lambda rows: note("enrich interactions")(rows=rows),
        "crmkit_react_interactions": lambda batch: note("react interactions")(batch=batch),
        "crmkit_on_events": lambda events: note("events")(events=events)})
    with open_with(crm_url, clock, recorder=recorder) as crm:
        crm.plugins.enable("recorder")
        crm.customers.add("C1")
        first = crm.customers.get("C1").id
        calls.clear()
        crm.interactions.record_many(
            [{"customer": "C1", "occurred_at": T0, "external_id": "a"},
             {"customer": "NEW", "occurred_at": T0, "external_id": "b"}], create_customers=True)
    new = first + 1
    assert calls == [
        ("validate interactions", [first, None]),   # NEW is created once the rows passed
        ("enrich interactions", [first, None]),
        ("validate customers", ["NEW"]),
        ("react customers", ["NEW"]),
        ("events", ["customer.created"]),
        ("react interactions", [first, new]),
    ]
