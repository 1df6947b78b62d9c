"""``crmkit config``: the core's own configuration."""

from __future__ import annotations

import click

from .common import load_json_file, output_document, pass_state


@click.command()
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Change one key (dotted keys nest; VALUE is JSON when it parses).")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Replace with a JSON file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="json",
              show_default=True)
@pass_state
def config(state, assignments, path, fmt) -> None:
    """Show the core configuration, or change it with --set / --file (validated)."""
    from ..config import set_path

    with state.open() as crm:
        document = dict(crm.core_config)
        if path:
            document = load_json_file(path, "core config")
        for assignment in assignments:
            key, sep, value = assignment.partition("=")
            if not sep:
                raise click.BadParameter(f"{assignment!r} is not KEY=VALUE", param_hint="--set")
            document = set_path(document, key, value)
        if path or assignments:
            document = crm.plugins.configure_core(document)
        output_document(document, fmt)
