"""``crmkit collaborative …``: team queues, work item history, routing dry-run, hand-offs, outbound contact."""

from __future__ import annotations


import attrs
import click

from crmkit.plugin import (
    as_of_option, format_option, output, output_document, pass_state, resolve_as_of,
)

ITEM_COLUMNS = ["id", "external_id", "team", "state", "assignee", "rule", "subject", "created_at",
                "ack_due_at"]
STATES = ("queued", "assigned", "in_progress", "done")


@click.group(name="collaborative")
def group() -> None:
    """Routing rules, team queues, work items, hand-offs and outbound contact."""


def _item_rows(items):
    return [{c: getattr(i, c) for c in ITEM_COLUMNS} for i in items]


@group.command()
@click.argument("team")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="Only these states (repeatable; default: the open ones).")
@format_option
@pass_state
def queue(state, team, states, fmt) -> None:
    """List TEAM's work items, oldest first.

    Open items only, unless --state is given.

    \b
    Examples:
      crmkit collaborative queue support
      crmkit collaborative queue billing --state done --format csv
    """
    with state.open() as crm:
        api = crm.plugin("collaborative")
        items = api.queue(team, tuple(states)) if states else api.queue(team)
        output(_item_rows(items), ITEM_COLUMNS, fmt)


@group.command()
@as_of_option
@format_option
@pass_state
def load(state, as_of, fmt) -> None:
    """Open work and pending hand-offs per team.

    Open work per team, hand-offs awaiting acknowledgement and those overdue
    at --as-of.

    \b
    Example:
      crmkit collaborative load --as-of 2026-12-01 --format json
    """
    with state.open() as crm:
        rows = [attrs.asdict(t) for t in
                crm.plugin("collaborative").team_load(resolve_as_of(crm, as_of))]
        output(rows, ["team", "queued", "assigned", "in_progress", "awaiting_ack", "overdue_ack"],
               fmt)


@group.command()
@click.argument("customer")
@format_option
@pass_state
def items(state, customer, fmt) -> None:
    """List every work item of CUSTOMER (external id).

    \b
    Example:
      crmkit collaborative items C00042
    """
    with state.open() as crm:
        output(_item_rows(crm.plugin("collaborative").items_of(customer)), ITEM_COLUMNS, fmt)


@group.command()
@click.argument("item", type=int)
@format_option
@pass_state
def history(state, item, fmt) -> None:
    """Show everything that happened to work ITEM.

    The hand-off chain and notes are included.

    \b
    Example:
      crmkit collaborative history 17 --format json
    """
    with state.open() as crm:
        output([attrs.asdict(h) for h in crm.plugin("collaborative").history(item)],
               ["at", "actor", "action", "from_state", "to_state", "from_team", "team", "assignee",
                "note"], fmt)


@group.command(name="route-dry-run")
@click.option("--interaction", "interaction_id", type=int,
              help="A stored interaction to route with the current rules.")
@click.option("--customer", help="The customer's external id (with --kind).")
@click.option("--kind", help="Interaction kind, e.g. complaint.")
@click.option("--channel", help="Interaction channel, e.g. email.")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), default="inbound",
              show_default=True, help="Interaction direction.")
@click.option("--payload", help="Interaction payload as a JSON object.")
@as_of_option
@format_option
@pass_state
def route_dry_run(state, interaction_id, customer, kind, channel, direction, payload, as_of,
                  fmt) -> None:
    """Which team would an interaction go to, and by which rule?

    Give a stored --interaction, or describe one with --customer and --kind.
    Writes nothing.

    \b
    Examples:
      crmkit collaborative route-dry-run --customer C00042 --kind complaint \\
        --channel email
      crmkit collaborative route-dry-run --interaction 1200 --format json
    """
    from crmkit.plugin import ValidationError
    from crmkit.plugin import parse_json

    if (interaction_id is None) == (customer is None):
        raise ValidationError("route-dry-run: give either --interaction ID or --customer ID --kind KIND")
    document = None
    if payload is not None:
        try:
            document = parse_json(payload)
        except ValueError as exc:
            raise ValidationError(f"--payload: not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ValidationError("--payload: must be a JSON object")
    with state.open() as crm:
        api = crm.plugin("collaborative")
        moment = resolve_as_of(crm, as_of)
        if interaction_id is not None:
            decision = api.route_interaction(interaction_id, moment)
            stored = crm.interactions.get(interaction_id)
            kind, direction = stored.kind, stored.direction
        else:
            if not kind:
                raise ValidationError("route-dry-run: --kind is required with --customer")
            decision = api.route(customer, kind, channel, direction, document, as_of=moment)
        output_document({"team": decision.team, "rule": decision.rule,
                         "routed": api.routed(kind, direction)}, fmt)


def _show(item, fmt) -> None:
    output_document({c: getattr(item, c) for c in ITEM_COLUMNS}, fmt)


@group.command()
@click.argument("item", type=int)
@click.argument("handle")
@format_option
@pass_state
def assign(state, item, handle, fmt) -> None:
    """Assign work ITEM to staff member HANDLE.

    HANDLE must be a member of the item's team.

    \b
    Example:
      crmkit collaborative assign 17 ivy
    """
    with state.open() as crm:
        _show(crm.plugin("collaborative").assign(item, handle), fmt)


def _item_step(name: str, method: str, help_text: str) -> None:
    """Add the command NAME ITEM: the collaborative API's METHOD on work ITEM, the item shown."""

    @group.command(name, help=help_text)
    @click.argument("item", type=int)
    @format_option
    @pass_state
    def step(state, item, fmt) -> None:
        with state.open() as crm:
            _show(getattr(crm.plugin("collaborative"), method)(item), fmt)


_item_step("start", "start", """Start work on ITEM (acknowledges a pending hand-off).

    \b
    Example:
      crmkit collaborative start 17
    """)
_item_step("done", "complete", """Mark ITEM done.

    \b
    Example:
      crmkit collaborative done 17
    """)
_item_step("ack", "acknowledge", """Acknowledge the hand-off of ITEM waiting for your team.

    \b
    Example:
      crmkit --actor ivy collaborative ack 17
    """)


@group.command()
@click.argument("item", type=int)
@click.argument("team")
@click.option("--note", required=True, help="Why TEAM should take it (required, non-empty).")
@format_option
@pass_state
def handoff(state, item, team, note, fmt) -> None:
    """Hand work ITEM to TEAM.

    TEAM must acknowledge within the configured ack_hours.

    \b
    Example:
      crmkit collaborative handoff 17 billing \\
        --note "double charge on the May invoice"
    """
    with state.open() as crm:
        _show(crm.plugin("collaborative").hand_off(item, team, note), fmt)


@group.command()
@click.argument("customer")
@click.option("--subject", required=True, help="What the contact is about.")
@click.option("--channel", help="Channel (default: the customer's preferred channel).")
@click.option("--override-reason", help="Why another channel than the preferred one is used.")
@click.option("--kind", default="message", show_default=True, help="Interaction kind recorded.")
@click.option("--work-item", "work_item", type=int, help="The work item this contact answers.")
@format_option
@pass_state
def contact(state, customer, subject, channel, override_reason, kind, work_item, fmt) -> None:
    """Contact CUSTOMER outbound.

    The customer's preferred channel is used; another channel needs
    --override-reason.  Consent applies.

    \b
    Examples:
      crmkit collaborative contact C00042 --subject "Your refund" \\
        --channel email \\
        --override-reason "asked for a written answer"
    """
    with state.open() as crm:
        result = crm.plugin("collaborative").contact(customer, subject, channel, override_reason,
                                                     kind, work_item)
        output_document(result, fmt)
