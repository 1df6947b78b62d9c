"""``crmkit plugins check``: each fault a vendor can make is reported, and a sound plugin passes."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import sqlalchemy as sa

import crmkit
from crmkit import hookimpl, plugins
from crmkit.cli import main
from crmkit.devtools import plugin_check
from crmkit.errors import PluginError
from crmkit.plugin import EventType

BROKEN = Path(__file__).parent / "broken_plugin"


def module_with(name: str, **hooks) -> types.ModuleType:
    """A plugin module named ``name``; ``hooks`` are marked @hookimpl unless given as ("plain", f)."""
    module = types.ModuleType(f"crmkit_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"{name} for tests")
    for attr, function in hooks.items():
        if isinstance(function, tuple):
            setattr(module, attr, function[1])
        else:
            setattr(module, attr, hookimpl(function))
    return module


def run(module: types.ModuleType) -> plugin_check.Report:
    """Check ``module`` as the local plugin its module name says (crmkit_<name>)."""
    return plugin_check.check(plugins.InstalledPlugin(module.__name__.removeprefix("crmkit_"),
                                                      module.__name__, "local", module=module))


def fails(report: plugin_check.Report) -> list[tuple[str, str]]:
    return [(f.check, f.detail) for f in report.failures]


def notes_table(name: str, *extra: sa.Column) -> sa.Table:
    return sa.Table(f"{name}_notes", sa.MetaData(),
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"),
                              nullable=False),
                    sa.Column("note", sa.String(100), nullable=False), *extra)


def migrations(folder: Path, name: str, create: str, downgrade: str | None = None) -> Path:
    """A one-revision branch for ``name``; ``create`` is the table name the upgrade creates."""
    folder.mkdir()
    (folder / f"{name}_0001.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        f"revision = '{name}_0001'\ndown_revision = None\nbranch_labels = ('{name}',)\n"
        "depends_on = None\n"
        "def upgrade():\n"
        f"    op.create_table('{create}', sa.Column('id', sa.Integer, primary_key=True),\n"
        "        sa.Column('customer_id', sa.Integer, sa.ForeignKey('customers.id'), nullable=False),\n"
        "        sa.Column('note', sa.String(100), nullable=False))\n"
        "def downgrade():\n"
        f"    {downgrade or f'op.drop_table({create!r})'}\n")
    return folder


def data_services(table: sa.Table) -> dict:
    """Correct merge/export/erase hooks for a notes table."""
    def merge(ctx, keep_id, duplicate_id):
        ctx.conn.execute(table.update().where(table.c.customer_id == duplicate_id)
                         .values(customer_id=keep_id))

    def export(ctx, customer_id):
        return [r.note for r in ctx.conn.execute(table.select().where(table.c.customer_id == customer_id))]

    def erase(ctx, customer_id):
        ctx.conn.execute(table.update().where(table.c.customer_id == customer_id).values(note="-"))

    return {"crmkit_merge_customers": merge, "crmkit_export_customer": export,
            "crmkit_erase_customer": erase}


# -- the deliberately broken plugin and the sound test vendor ---------------------------------


def test_the_broken_plugin_fixture_shows_exactly_its_three_faults(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BROKEN))
    assert main(["--plugin", "crmkit_broken", "plugins", "check", "broken", "--format", "json"]) == 1
    captured = capsys.readouterr()
    failed = [(r["check"], r["detail"]) for r in json.loads(captured.out) if r["status"] == "fail"]
    assert failed == [
        ("schema", '/signature: optional key without a "default" (every optional key needs one '
                   "so that enable works with no config)"),
        ("hooks", "crmkit_timline is marked @hookimpl but crmkit has no hook 'crmkit_timline'; "
                  "did you mean crmkit_timeline?"),
        ("migrations", "downgrade broken@base leaves broken_notes behind: downgrade() must undo "
                       "upgrade()"),
    ]
    assert captured.err.strip() == "error: plugin 'broken' failed 3 checks"


def test_the_test_vendor_plugin_passes(capsys):
    assert main(["--plugin", "crmkit_testvendor", "plugins", "check", "testvendor"]) == 0
    out = capsys.readouterr().out
    assert " fail " not in out
    for check in ("metadata", "schema", "hooks", "tables", "migrations", "enable"):
        assert any(line.startswith(check) and " ok " in line for line in out.splitlines()), check


def test_an_unknown_plugin_is_one_clear_error():
    with pytest.raises(PluginError, match=r"no plugin named 'nope' is installed \(installed: .*\); "
                                          r"to check a module that is not installed: crmkit "
                                          r"--plugin MODULE plugins check nope"):
        plugin_check.check_plugin("nope")


# -- hooks ----------------------------------------------------------------------------------------


def test_hook_faults_are_each_reported():
    def timeline(ctx, customer, limit):
        return []

    def sweep(ctx):
        return None

    def react(ctx, batch):
        return None

    def on_events(ctx, events):
        return None

    def helper():
        return None

    module = module_with(
        "hooky",
        crmkit_timeline=timeline,                  # wrong argument name
        crmkit_sweep=("plain", sweep),             # right name, not marked
        crmkit_react_interaction=("plain", react),  # misspelt, not marked
        crmkit_helper=("plain", helper),           # named like a hook, not close to one
        renamed=("plain", hookimpl(specname="crmkit_on_event")(on_events)),  # unknown specname
    )
    report = run(module)
    assert fails(report) == [
        ("hooks", "crmkit_react_interaction looks like a hook but crmkit has no hook of that "
                  "name; did you mean crmkit_react_interactions?"),
        ("hooks", "crmkit_sweep is not decorated with @crmkit.hookimpl, so crmkit never calls it"),
        ("hooks", "crmkit_timeline(ctx, customer, limit): 'customer' not among the arguments of "
                  "crmkit_timeline(ctx, customer_id, limit)"),
        ("hooks", "renamed is marked @hookimpl but crmkit has no hook 'crmkit_on_event'; did you "
                  "mean crmkit_on_events?"),
    ]
    assert [f.detail for f in report.findings if f.status == "warn" and f.check == "hooks"] == [
        "crmkit_helper looks like a hook but crmkit has no hook of that name (rename it if it "
        "is a helper)"]


def test_event_types_may_declare_personal_payload_keys():
    sound = module_with("shapes", crmkit_event_types=lambda: {
        "shapes.done": "a shape was done",
        "shapes.drawn": EventType("a customer drew a shape (payload: signature)",
                                  personal="signature")})
    assert not [f for f in fails(run(sound)) if "crmkit_event_types" in f[1]]
    blank = module_with("shapes", crmkit_event_types=lambda: {
        "shapes.drawn": EventType(" ", personal="signature")})
    assert [f for f in fails(run(blank)) if "crmkit_event_types" in f[1]] == [
        ("hooks", "crmkit_event_types declares 'shapes.drawn': EventType(description=' ', "
                  "personal=('signature',)); each event type must map to a one-line "
                  "description, or to crmkit.plugin.EventType(description, personal=[payload "
                  "keys])")]


def test_describing_hooks_must_return_the_right_shapes():
    import click

    @click.group(name="other")
    def group():
        """Commands."""

    module = module_with("shapes", crmkit_event_types=lambda: ["shapes.done"],
                         crmkit_permissions=lambda: {"shapes.read": "see shapes",
                                                     "customers.delete": "delete customers"},
                         crmkit_customer_schema=lambda config: {"level": {"type": "integer"}},
                         crmkit_cli=lambda: group)
    report = run(module)
    assert fails(report) == [
        ("hooks", "crmkit_event_types must return {event type: description or EventType}"),
        ("hooks", "crmkit_permissions declares 'customers.delete'; each must be named "
                  "shapes.<action> and map to a one-line description"),
        ("hooks", 'crmkit_customer_schema must return a dict with "properties"'),
    ]
    assert ("hooks", "warn") in {(f.check, f.status) for f in report.findings
                                 if "mounts as `crmkit shapes`" in f.detail}


def test_a_row_level_rule_without_event_records_is_a_warning():
    def allowed(crm, principal, permission, resource):
        return None

    def about(ctx, events):
        return [None for _ in events]

    events = {"crmkit_event_types": lambda: {"rules.done": "a rule fired"},
              "crmkit_permission_allowed": allowed}
    warned = [f.detail for f in run(module_with("rules", **events)).findings
              if f.status == "warn" and f.check == "hooks"]
    assert warned == ["crmkit_permission_allowed restricts members but crmkit_event_resources "
                      "does not say which record each of its events is about, so the event log "
                      "shows its events to no member its rule restricts"]
    named = run(module_with("rules", **events, crmkit_event_resources=about))
    assert not [f for f in named.findings if f.status == "warn" and f.check == "hooks"]


# -- metadata and schema -------------------------------------------------------------------------


def test_metadata_faults():
    module = module_with("meta")
    module.PLUGIN = crmkit.PluginInfo(name="other", description=" ", requires=("nosuch",),
                                      crmkit_versions=">=2,<3")
    assert fails(run(module)) == [
        ("metadata", "PLUGIN.name is 'other' but the entry point is named 'meta'"),
        ("metadata", "PLUGIN.description is empty"),
        ("metadata", "PLUGIN.crmkit_versions is '>=2,<3': this crmkit (0.1.0) is outside it"),
        ("metadata", "requires nosuch, not installed"),
    ]
    del module.PLUGIN
    assert fails(run(module))[0] == ("metadata", "the module has no PLUGIN = crmkit.PluginInfo(...)")


def test_schema_faults_nested_defaults_and_an_invalid_schema():
    schema = {"type": "object", "required": ["mode"], "properties": {
        "mode": {"enum": ["a", "b"]},
        "limits": {"type": "object", "default": {}, "properties": {
            "low": {"type": "integer", "default": 1, "description": "x"},
            "high": {"type": "integer"}}},
        "rules": {"type": "array", "default": [], "items": {
            "type": "object", "properties": {"when": {"type": "string"}}}}}}
    report = run(module_with("conf", crmkit_config_schema=lambda: schema))
    assert fails(report) == [
        ("schema", '/limits/high: optional key without a "default" (every optional key needs one '
                   "so that enable works with no config)"),
        ("schema", "enabling with no configuration fails: the defaults: /: 'mode' is a required "
                   "property"),
    ]
    warned = [f.detail for f in report.findings if f.status == "warn" and f.check == "schema"]
    assert warned[0].startswith('no "additionalProperties": false at the top')
    assert warned[1] == ('keys without a "description" (the generated reference shows it): '
                         "/mode, /limits, /limits/high, /rules, /rules/*/when")
    bad = run(module_with("conf", crmkit_config_schema=lambda: {"type": "objekt"}))
    assert fails(bad)[0][0] == "schema" and "invalid JSON Schema: /type" in fails(bad)[0][1]


# -- tables, migrations, enable --------------------------------------------------------------------


def test_tables_must_match_the_migration_and_be_named_for_the_plugin(tmp_path):
    table = notes_table("other")
    wide = notes_table("tabby", sa.Column("extra", sa.Integer))
    folder = migrations(tmp_path / "m", "tabby", "tabby_notes")
    module = module_with("tabby", crmkit_tables=lambda: [table, wide],
                         crmkit_migrations=lambda: folder, **data_services(wide))
    assert fails(run(module)) == [
        ("tables", "table 'other_notes' is not named tabby_<thing>"),
        ("tables", "other_notes is declared in crmkit_tables but the migrations do not create it"),
        ("tables", "tabby_notes: columns differ (missing in the migration: extra)"),
    ]


def test_customer_tables_need_the_data_service_hooks(tmp_path):
    table = notes_table("private")
    folder = migrations(tmp_path / "m", "private", "private_notes")
    module = module_with("private", crmkit_tables=lambda: [table], crmkit_migrations=lambda: folder)
    assert ("tables", "private_notes hold customer rows but the plugin does not implement "
                      "crmkit_merge_customers, crmkit_export_customer, crmkit_erase_customer"
            ) in fails(run(module))


def test_migration_faults(tmp_path):
    table = notes_table("mig")
    (tmp_path / "empty").mkdir()
    assert fails(run(module_with("mig", crmkit_tables=lambda: [table], **data_services(table)))) == [
        ("migrations", "crmkit_tables declares tables but crmkit_migrations returns nothing")]
    assert fails(run(module_with("mig", crmkit_migrations=lambda: tmp_path / "empty"))) == [
        ("migrations", f"{tmp_path / 'empty'} holds no alembic revisions")]
    raising = migrations(tmp_path / "raising", "mig", "mig_notes",
                         downgrade="raise RuntimeError('one way only')")
    [(check, detail)] = fails(run(module_with("mig", crmkit_migrations=lambda: raising)))
    assert check == "migrations" and detail.startswith("downgrade mig@base fails: ")
    assert "one way only" in detail


def test_merge_that_leaves_rows_on_the_duplicate_is_caught(tmp_path):
    table = notes_table("leaky")

    def react(ctx, batch):  # one note per new customer, set-based
        c = crmkit.tables.customers.c
        ctx.conn.execute(table.insert().from_select(
            ["customer_id", "note"], sa.select(c.id, sa.literal("hello"))
            .where(c.id.between(batch.first_id, batch.last_id))))

    services = data_services(table)
    services["crmkit_merge_customers"] = lambda ctx, keep_id, duplicate_id: None
    folder = migrations(tmp_path / "m", "leaky", "leaky_notes")
    module = module_with("leaky", crmkit_tables=lambda: [table], crmkit_react_customers=react,
                         crmkit_migrations=lambda: folder, **services)
    assert fails(run(module)) == [
        ("enable", "after crmkit_merge_customers 1 row(s) of leaky_notes still point at the "
                   "duplicate")]


def test_a_hook_that_crashes_during_the_round_trip_is_reported():
    def react(ctx, batch):
        raise RuntimeError("kaput")

    [(check, detail)] = fails(run(module_with("crashy", crmkit_react_interactions=react)))
    assert check == "enable"
    assert detail == ("recording interactions fails: plugin 'crashy' failed in "
                      "crmkit_react_interactions: RuntimeError: kaput")


def test_web_faults_are_reported_from_the_pages_that_show_them(tmp_path):
    from starlette.responses import PlainTextResponse

    from crmkit.plugin import Endpoint, WebPage, WebPages

    def card(crm, principal, customer):
        raise RuntimeError("no card today")

    def routes(crm):
        return [Endpoint("GET", "x", lambda call: {}, "webby.read", "x")] * 2  # one route twice

    def hello(site, request, principal, form):
        return site.render(request, "missing.html")

    def pages(crm):
        return WebPages(tmp_path, [WebPage("/hello", hello), WebPage("/fine", lambda *a:
                                                                   PlainTextResponse("ok"))])

    webby = module_with("webby", crmkit_customer_card=card, crmkit_routes=routes,
                        crmkit_web_pages=pages,
                        crmkit_permissions=lambda: {"webby.read": "Read."})
    found = [detail for check, detail in fails(run(webby)) if check == "web"]
    assert found[0].startswith("GET /webby/hello fails: TemplateNotFound: ")
    assert "missing.html" in found[0]  # (Jinja's wording of the rest differs between releases)
    assert found[1].startswith("plugin 'webby': its HTTP routes are not served: ")
    assert found[2] == ("plugin 'webby': its customer card failed: plugin 'webby' failed in "
                        "crmkit_customer_card: RuntimeError: no card today")
    assert len(found) == 3  # /webby/fine answered


def test_a_plugin_is_enabled_after_the_plugins_it_requires(capsys):
    """valuechain requires analytical: the check enables analytical first instead of failing."""
    assert main(["plugins", "check", "valuechain"]) == 0
    enable = [line for line in capsys.readouterr().out.splitlines() if line.startswith("enable")]
    assert enable and " ok " in enable[0] and "after enabling analytical" in enable[0]


BUILT_IN = sorted(p.name.removeprefix("crmkit_")
                  for p in (Path(__file__).parent.parent / "plugins").glob("crmkit_*"))


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_plugin_passes_the_check(name):
    """Each plugin shipped in plugins/ passes every check (campaigns' first tables broke the
    naming rule: campaigns, campaign_variants, campaign_recipients)."""
    assert fails(plugin_check.check_plugin(name)) == []
