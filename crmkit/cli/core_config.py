"""``crmkit config``: the core's own configuration."""

from __future__ import annotations

import click

from .common import edited_config, output_document, pass_state


@click.command()
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Change one key (dotted keys nest, numbers index arrays: tiers.0.threshold=5; "
              "VALUE is text for a text key, JSON otherwise).")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Replace with a JSON file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="json",
              show_default=True, help="Output format.")
@pass_state
def config(state, assignments, path, fmt) -> None:
    """Show the core configuration, or change it with --set / --file (validated).

    \b
    Examples:
      crmkit config
      crmkit config --set default_currency=EUR
    """
    from ..config import CORE_SCHEMA

    with state.open() as crm:
        document = edited_config(dict(crm.core_config), path, assignments, "core config",
                                 CORE_SCHEMA)
        if path or assignments:
            document = crm.plugins.configure_core(document)
        output_document(document, fmt)
