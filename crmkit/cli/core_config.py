"""``crmkit config``: the core's own configuration."""

from __future__ import annotations

import click

from .common import config_options, edited_config, output_document, pass_state


@click.command()
@config_options
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
