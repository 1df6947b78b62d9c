"""``crmkit plugins list|enable|disable|config|schema|new|check``."""

from __future__ import annotations

import contextlib
import re

import click

from .common import (config_options, edited_config, format_option, load_json_file, output,
                     output_document, pass_state)


@click.group()
def plugins() -> None:
    """List, enable, disable and configure plugins."""


@plugins.command("list")
@format_option
@pass_state
def list_(state, fmt: str) -> None:
    """List every installed plugin and its status.

    Shows each plugin's version, whether it is enabled, its requirements and
    its status (broken ones with their error; "config refused" for an enabled
    plugin whose installed release refuses its stored configuration, with the
    fix: writes are refused until it is made).  Plugins the database records
    as enabled but that are not installed are listed as "not installed".
    Without a crmkit database the installed plugins are listed with status
    "installed" (enabled unknown).

    \b
    Example:
      crmkit plugins list --format json
    """
    listed = _listed_from_sqlite_file(state)
    if listed is None:
        with _unopened_crm(state) as crm:
            listed = crm.plugins.list()
    rows = [{"name": p.name, "version": p.version, "enabled": p.enabled,
             "requires": ",".join(p.requires), "status": p.status,
             "description": p.error if p.error else p.description} for p in listed]
    if any(row["enabled"] is None for row in rows):
        click.echo("note: no crmkit database at the --db URL: enabled or not is unknown "
                   "(`crmkit init` creates one)", err=True)
    output(rows, ["name", "version", "enabled", "requires", "status", "description"], fmt)


@contextlib.contextmanager
def _unopened_crm(state):
    """A CRM on this invocation's URL and plugins that is not opened: what it answers needs
    no crmkit database (none is checked for, none created)."""
    from ..app import CRM

    crm = CRM(state.db_url, actor=state.actor, extra_plugins=state.extra_plugins())
    try:
        yield crm
    finally:
        crm.close()


_SQLITE_FILE_URL = re.compile(r"sqlite:///([^?%]+)")
"""A ``sqlite:///PATH`` URL with a plain file path (no query, no escapes)."""


def _listed_from_sqlite_file(state):
    """``crm.plugins.list()`` for a plain SQLite file URL, read with the standard library's
    sqlite3 instead of SQLAlchemy (whose import alone takes most of the listing's time);
    None for any other URL or when sqlite3 fails, and the listing then goes through the
    CRM (which gives its usual answer or error).  Reads what PluginAdmin.list reads: the
    core's migration table and ``plugin_state``; creates no missing file."""
    import json
    import sqlite3
    from pathlib import Path

    from ..plugins import discover, statuses

    match = _SQLITE_FILE_URL.fullmatch(state.db_url)
    if match is None or match.group(1) == ":memory:":
        return None
    recorded = None
    if Path(match.group(1)).exists():
        try:
            conn = sqlite3.connect(match.group(1))
            try:
                if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'alembic_version'").fetchone() and \
                        conn.execute("SELECT 1 FROM alembic_version").fetchone():
                    recorded = {name: {"enabled": bool(enabled), "version": version,
                                       "config": json.loads(config)}
                                for name, enabled, version, config in conn.execute(
                                    "SELECT name, enabled, version, config FROM plugin_state")}
            finally:
                conn.close()
        except (sqlite3.Error, ValueError):
            return None
    return statuses(discover(state.extra_plugins()), recorded)


@plugins.command()
@click.argument("name")
@click.option("--config", "path", type=click.Path(dir_okay=False),
              help="A JSON configuration file (default: the schema's defaults).")
@pass_state
def enable(state, name: str, path: str | None) -> None:
    """Enable plugin NAME: validate, check requirements, migrate.

    All or nothing.  Without --config, a configuration kept from an earlier
    enable is reused.

    \b
    Examples:
      crmkit plugins enable loyalty
      crmkit plugins enable collaborative --config collaborative.json
    """
    document = load_json_file(path, f"plugin {name!r} config") if path else None
    with state.open() as crm:
        kept = document is None and crm.plugins.kept_config(name) is not None
        crm.plugins.enable(name, document)
    if kept:
        click.echo(f"enabled {name} with its kept configuration (`crmkit plugins config {name}` "
                   "shows it; `--config FILE` replaces it)")
    else:
        click.echo(f"enabled {name}")


@plugins.command()
@click.argument("name")
@pass_state
def disable(state, name: str) -> None:
    """Disable plugin NAME; its data is kept.

    \b
    Example:
      crmkit plugins disable social
    """
    with state.open() as crm:
        crm.plugins.disable(name)
    click.echo(f"disabled {name}")


@plugins.command("config")
@click.argument("name")
@config_options
@pass_state
def config_(state, name: str, assignments, path, fmt) -> None:
    """Show plugin NAME's configuration, or change it.

    --set and --file changes are validated by the plugin's schema.

    \b
    Examples:
      crmkit plugins config loyalty
      crmkit plugins config loyalty --set points_per_unit=2 --set lock_days=14
      crmkit plugins config collaborative --file collaborative.json
    """
    with state.open() as crm:
        document = edited_config(crm.plugins.config(name), path, assignments,
                                 f"plugin {name!r} config", crm.plugins.schema(name))
        if path or assignments:
            document = crm.plugins.configure(name, document)
        output_document(document, fmt)


@plugins.command()
@click.argument("name")
@pass_state
def schema(state, name: str) -> None:
    """Print plugin NAME's configuration JSON Schema.

    Needs no crmkit database: the schema comes from the installed plugin.

    \b
    Example:
      crmkit plugins schema loyalty
    """
    with _unopened_crm(state) as crm:
        output_document(crm.plugins.schema(name), "json")


@plugins.command()
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Create crmkit-NAME/ inside this directory.")
@click.option("--description", help="One line saying what the plugin does.")
def new(name: str, directory: str, description: str | None) -> None:
    """Create a new plugin package crmkit-NAME from the template.

    The package comes with its tests.

    \b
    Example:
      crmkit plugins new dental --dir src \\
        --description "Recall reminders for dental clinics."
    """
    from ..plugins import discover
    from ..devtools.scaffold import render

    target = render(name, directory, description, taken=discover())
    click.echo(f"created {target}")
    click.echo("next:")
    click.echo(f"  cd {target}")
    click.echo("  pip install -e '.[test]'")
    click.echo("  pytest -q")
    click.echo("  crmkit init")
    click.echo(f"  crmkit plugins enable {name}")


@plugins.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@pass_state
def check(state, name: str, fmt: str) -> None:
    """Check plugin NAME before release.

    Checks its metadata, schema, hooks, migrations, enable and disable, and
    its web parts (routes, pages, card, panels, My work sections) served to
    a signed-in admin.  Works on temporary SQLite files, never on --db.  A
    plugin that is not installed is checked with "crmkit --plugin MODULE
    plugins check NAME".  Exits non-zero when a check fails.

    \b
    Examples:
      crmkit plugins check loyalty
      crmkit --plugin crmkit_dental plugins check dental --format json
    """
    from ..errors import PluginError
    from ..devtools.plugin_check import check_plugin

    report = check_plugin(name, state.local_plugins)
    output([{"check": f.check, "status": f.status, "detail": f.detail} for f in report.findings],
           ["check", "status", "detail"], fmt)
    if not report.ok:
        count = len(report.failures)
        raise PluginError(f"plugin {name!r} failed {count} check{'s' if count != 1 else ''}")
