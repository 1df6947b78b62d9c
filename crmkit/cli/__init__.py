"""The ``crmkit`` command line.

Commands load lazily: ``crmkit --help`` imports click and nothing heavy
(no SQLAlchemy, alembic or jsonschema).  Each plugin's commands mount as
``crmkit <plugin>`` and are imported only when invoked.
"""

from __future__ import annotations

import difflib
import importlib
import sys

import click

CORE_COMMANDS = {
    "init": ("crmkit.cli.database:init", "Create the crmkit schema in an empty database."),
    "db": ("crmkit.cli.database:db", "Schema status and upgrades."),
    "config": ("crmkit.cli.core_config:config", "Show or change the core configuration."),
    "plugins": ("crmkit.cli.plugins:plugins", "List, enable, disable and configure plugins."),
    "customers": ("crmkit.cli.customers:customers", "Add, list and show customers."),
    "interactions": ("crmkit.cli.interactions:interactions", "Record and list interactions."),
    "staff": ("crmkit.cli.staff:staff", "Staff members and teams, their roles and passwords."),
    "tokens": ("crmkit.cli.tokens:tokens", "API tokens: create, list and revoke them."),
    "events": ("crmkit.cli.events:events", "List stored domain events."),
    "sweep": ("crmkit.cli.sweep:sweep", "Run every enabled plugin's time-based rules."),
    "demo": ("crmkit.cli.demo:demo", "Create a realistic sample CRM and show what each plugin adds."),
    "import": ("crmkit.cli.io:import_", "Import customers or interactions from CSV or JSON Lines."),
    "export": ("crmkit.cli.io:export", "Export customers or interactions to CSV or JSON Lines."),
    "audit": ("crmkit.cli.audit:audit", "Show the audit log: who changed what, when, how."),
    "webhooks": ("crmkit.cli.webhooks:webhooks", "Send events to other systems as signed HTTP POSTs."),
    "worker": ("crmkit.cli.worker:worker", "Run deferred work: webhook deliveries, plugins' jobs."),
    "serve": ("crmkit.cli.serve:serve", "Serve the HTTP API and the staff web app."),
}


def _plugin_names() -> list[str]:
    from ..entrypoints import entry_points

    return sorted({ep.name for ep in entry_points("crmkit")} - set(CORE_COMMANDS))


def _local_plugin(ctx: click.Context, name: str):
    """The local plugin module (``--plugin``) whose PLUGIN.name is ``name``, if any."""
    from ..plugins import import_local

    given = ctx.params.get("local_plugins") or ()
    for module_name in [m.strip() for item in given for m in item.split(",") if m.strip()]:
        module = import_local(module_name)
        if getattr(getattr(module, "PLUGIN", None), "name", None) == name:
            return module
    return None


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(CORE_COMMANDS) + _plugin_names()

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in CORE_COMMANDS:
            module_name, attr = CORE_COMMANDS[name][0].split(":")
            return getattr(importlib.import_module(module_name), attr)
        from .plugin_commands import plugin_group

        if name in _plugin_names():
            return plugin_group(name)
        module = _local_plugin(ctx, name)
        return plugin_group(name, module) if module is not None else None

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            close = difflib.get_close_matches(args[0], self.list_commands(ctx), n=1)
            if not exc.message.startswith("No such command") or not close:
                raise
            raise click.UsageError(f"No such command {args[0]!r}. Did you mean {close[0]!r}?",
                                   ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, CORE_COMMANDS[name][1]) for name in sorted(CORE_COMMANDS)]
        rows += [(name, f"Commands of the {name} plugin.") for name in _plugin_names()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", envvar="CRMKIT_DATABASE_URL", default="sqlite:///crm.db",
              show_default=True, help="Database URL (also CRMKIT_DATABASE_URL).")
@click.option("--actor", default="system", show_default=True,
              help="Who is acting, for the audit log (a staff handle).")
@click.option("--plugin", "local_plugins", multiple=True, envvar="CRMKIT_PLUGINS",
              metavar="MODULE", help="Also load this local plugin module (repeatable; "
              "CRMKIT_PLUGINS takes a comma-separated list).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="crmkit")
@click.pass_context
def cli(ctx: click.Context, db_url: str, actor: str, local_plugins: tuple[str, ...],
        debug: bool) -> None:
    """crmkit: a pluggable CRM framework."""
    from .common import State, log_to_stderr

    log_to_stderr(debug)
    modules = [m.strip() for item in local_plugins for m in item.split(",") if m.strip()]
    ctx.obj = State(db_url=db_url, actor=actor, debug=debug, argv=sys.argv[1:],
                    local_plugins=modules)


def _global_option_hint(exc: click.NoSuchOption) -> str:
    """For an option of ``crmkit`` itself given after a command: where it goes instead."""
    if exc.ctx is None or exc.ctx.parent is None:
        return ""
    for param in cli.params:
        if exc.option_name in param.opts:
            value = "" if getattr(param, "is_flag", False) else " …"
            command = exc.ctx.command_path.split(" ", 1)[1]
            return (f" {exc.option_name} is an option of crmkit itself: give it before the "
                    f"command (crmkit {exc.option_name}{value} {command})")
    return ""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crmkit`` script: one-line errors, non-zero exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="crmkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        hint = _global_option_hint(exc) if isinstance(exc, click.NoSuchOption) else ""
        if hint:  # in one wording: click's own differs between its versions
            exc.message = f"No such option {exc.option_name!r}.{hint}"
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        from sqlalchemy.exc import StatementError

        from ..db import describe_error, hide_password
        from ..errors import CRMError

        if isinstance(exc, CRMError):
            click.echo(f"error: {hide_password(str(exc))}", err=True)
            return exc.exit_code
        if isinstance(exc, StatementError):
            click.echo(f"error: {hide_password(describe_error(exc))} "
                       "(run with --debug for the traceback)", err=True)
            return 1
        click.echo(f"error: {type(exc).__name__}: {hide_password(str(exc))} "
                   "(run with --debug for the traceback)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["cli", "main"]
