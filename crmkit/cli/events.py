"""``crmkit events list|types``."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.group()
def events() -> None:
    """Stored domain events."""


@events.command("list")
@click.option("--type", "type_")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@format_option
@pass_state
def list_(state, type_, limit, fmt) -> None:
    """List stored events, oldest first."""
    import attrs

    with state.open() as crm:
        rows = [attrs.asdict(e) for e in crm.events.list(type=type_, limit=limit)]
    output(rows, ["id", "type", "customer_id", "occurred_at", "source", "payload"], fmt)


@events.command("types")
@format_option
@pass_state
def types(state, fmt) -> None:
    """Every event type the core and the enabled plugins emit."""
    with state.open() as crm:
        rows = [{"type": k, "description": v} for k, v in sorted(crm.events.types().items())]
    output(rows, ["type", "description"], fmt)
