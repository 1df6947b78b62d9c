"""Plugin parts declared in ``PluginInfo`` (``api``, ``parts``) are found by convention and
loaded lazily; an explicit ``@hookimpl`` still works and takes a declared part's place."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from crmkit import CRM, parts, plugins
from crmkit.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN = sorted((ROOT / "plugins").glob("crmkit_*"))
PART_HOOKS = {"crmkit_plugin_api", "crmkit_cli", "crmkit_config_schema", "crmkit_check_config",
              "crmkit_migrations", "crmkit_tables", "crmkit_timeline", "crmkit_event_resources",
              "crmkit_merge_customers",
              "crmkit_export_customer", "crmkit_erase_customer", "crmkit_demo",
              "crmkit_demo_refresh", "crmkit_demo_interactions", "crmkit_locale_dir"}

FILES = {
    "__init__.py": '''
        import crmkit
        from crmkit import hookimpl

        PLUGIN = crmkit.PluginInfo(name="{name}", description="parts test plugin",
                                   api="{title}API", parts={parts!r})
        {extra}
    ''',
    "api.py": '''
        class {title}API:
            def __init__(self, crm):
                self.crm = crm

            def hello(self):
                return "hello from {name}"
    ''',
    "config.schema.json": '''
        {{"type": "object", "additionalProperties": false,
          "properties": {{"limit": {{"type": "integer", "default": 3}}}}}}
    ''',
    "settings.py": '''
        from crmkit.plugin import ConfigError

        def check_config(crm, config):
            if config["limit"] > 5:
                raise ConfigError(f"/limit: {{config['limit']}} is more than 5")
    ''',
    "dataservices.py": '''
        import crmkit

        def timeline(ctx, customer_id, limit):
            return [crmkit.TimelineEntry(at=ctx.now(), kind="{name}.seen",
                                         summary=f"limit {{ctx.config['limit']}}")]

        def event_resources(ctx, events):
            return [None for _ in events]

        def merge(ctx, keep_id, duplicate_id):
            pass

        def export(ctx, customer_id):
            return {{"seen": True}}

        def erase(ctx, customer_id):
            pass
    ''',
    "demo.py": '''
        def run(crm, rng):
            return ["demo of {name}"]
    ''',
    "dashboard.py": '''
        from crmkit.plugin import Panel

        def panels(crm, principal, as_of):
            return [Panel("{name}.days", "Days", ("Day", "Count"),
                          [(as_of.date().isoformat(), 1)])]
    ''',
}


@pytest.fixture
def make_package(tmp_path, monkeypatch):
    """Write a plugin package ``crmkit_<name>`` with the conventional part files, importable."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(name: str, declared: tuple[str, ...], extra: str = ""):
        package = tmp_path / f"crmkit_{name}"
        package.mkdir()
        for file, text in FILES.items():
            body = textwrap.dedent(text).format(name=name, title=name.capitalize(),
                                                parts=declared, extra=extra)
            (package / file).write_text(body.lstrip(), encoding="utf-8")
        made.append(f"crmkit_{name}")
        return importlib.import_module(f"crmkit_{name}")

    yield make
    for module in list(sys.modules):
        if module.split(".")[0] in made:
            del sys.modules[module]


def test_declared_parts_are_found_by_convention_and_imported_when_needed(
        crm_url, clock, make_package):
    module = make_package("partly", ("config", "settings", "dataservices", "demo", "dashboard"))
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"partly": module}) as crm:
        assert crm.plugins.schema("partly")["properties"]["limit"]["default"] == 3
        with pytest.raises(ConfigError, match=r"^/limit: 9 is more than 5$"):
            crm.plugins.enable("partly", {"limit": 9})
        assert crm.plugins.enable("partly") == {"limit": 3}
        assert "crmkit_partly.dataservices" not in sys.modules
        assert "crmkit_partly.api" not in sys.modules
        crm.customers.add("C1", "Ada")
        entries = crm.customers.timeline("C1")
        assert [(e.kind, e.summary) for e in entries if e.kind.startswith("partly")] == [
            ("partly.seen", "limit 3")]
        assert "crmkit_partly.dataservices" in sys.modules
        assert crm.plugin("partly").hello() == "hello from partly"
        assert crm.hooks.call_one("partly", "crmkit_demo", None, crm=crm, rng=None) == [
            "demo of partly"]
        assert crm.hooks.call_one("partly", "crmkit_demo_refresh", None, crm=crm) is None
        assert crm.customers.export_data("C1")["plugins"]["partly"] == {"seen": True}
        assert "crmkit_partly.dashboard" not in sys.modules
        [panel] = crm.hooks.call_one("partly", "crmkit_dashboard_panels", None, crm=crm,
                                     principal=None, as_of=clock.now())
        assert (panel.name, panel.rows) == ("partly.days", (("2025-01-01", 1),))


def test_a_hook_behind_an_optional_function_leaves_out_the_parts_without_it(
        crm_url, clock, make_package):
    seen = make_package("seen", ("config", "dataservices"))
    unseen = make_package("unseen", ("config", "dataservices"))
    (Path(unseen.__file__).parent / "dataservices.py").write_text(  # no timeline, no events
        "def merge(ctx, keep_id, duplicate_id):\n    pass\n\n"
        "def export(ctx, customer_id):\n    return {}\n\n"
        "def erase(ctx, customer_id):\n    pass\n", encoding="utf-8")
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"seen": seen, "unseen": unseen}) as crm:
        crm.plugins.enable("seen")
        crm.plugins.enable("unseen")
        crm.customers.add("C1", "Ada")
        assert [e.kind for e in crm.customers.timeline("C1") if "seen" in e.kind] == [
            "seen.seen"]
        assert [name for name, _, _ in crm.hooks.impls("crmkit_timeline")] == ["seen"]
        assert [name for name, _, _ in crm.hooks.impls("crmkit_event_resources")] == ["seen"]
        assert [name for name, _, _ in crm.hooks.impls("crmkit_export_customer")] == [
            "seen", "unseen"]
        assert crm.hooks.call_one("unseen", "crmkit_timeline", None, ctx=None, customer_id=1,
                                  limit=5) is None


def test_an_explicit_hookimpl_takes_the_place_of_a_declared_part(crm_url, clock, make_package):
    module = make_package("explicit", ("config", "settings"), extra='''
@hookimpl
def crmkit_config_schema():
    return {"type": "object", "properties": {"limit": {"type": "integer", "default": 7}}}
''')
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"explicit": module}) as crm:
        assert crm.plugins.schema("explicit")["properties"]["limit"]["default"] == 7
        with pytest.raises(ConfigError, match=r"^/limit: 7 is more than 5$"):
            crm.plugins.enable("explicit")  # the declared settings part still checks


def test_an_unknown_part_marks_the_plugin_broken(crm_url, clock, make_package):
    module = make_package("typo", ("config", "dataservice"))
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"typo": module}) as crm:
        [status] = [s for s in crm.plugins.list() if s.name == "typo"]
        assert status.status == "broken"
        assert status.error == (f"PLUGIN.parts: unknown part 'dataservice' (allowed: "
                                f"{', '.join(parts.PARTS)})")


@pytest.mark.parametrize("package", BUILT_IN, ids=lambda p: p.name)
def test_built_in_plugins_declare_their_parts_instead_of_forwarding_hooks(package):
    source = (package / "__init__.py").read_text(encoding="utf-8")
    defined = {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    assert defined & PART_HOOKS == set()
    module = importlib.import_module(package.name)
    info = module.PLUGIN
    assert info.api == f"{info.name.capitalize()}API" or info.api == "ValueChainAPI"
    api = importlib.import_module(f"{package.name}.api")
    assert isinstance(getattr(api, info.api), type)
    for part in info.parts:
        if part == "config":
            assert (package / "config.schema.json").is_file()
        elif part == "migrations":
            assert (package / "migrations").is_dir()
        elif part == "locale":
            assert (package / "locale" / "zh_Hans" / "LC_MESSAGES" / "messages.po").is_file()
        else:
            assert (package / f"{part}.py").is_file(), part
    found = plugins.implementations(plugins.InstalledPlugin(info.name, package.name, "test",
                                                            module=module))
    assert {"crmkit_plugin_api", "crmkit_cli", "crmkit_config_schema",
            "crmkit_migrations", "crmkit_tables", "crmkit_demo"} <= set(found)
    assert [entry.name for entry in found["crmkit_tables"]()] == [
        t.name for t in importlib.import_module(f"{package.name}.tables").ALL]
