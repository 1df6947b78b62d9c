"""``crmkit webhooks add|list|remove|deliveries``."""

from __future__ import annotations

import os
import sys

import click

from .common import format_option, limit_option, output, pass_state


@click.group()
def webhooks() -> None:
    """Webhooks: signed HTTP POSTs of events to other systems (sent by crmkit worker)."""


def _read_secret(secret_env: str | None) -> str:
    """The secret from the named environment variable, else from stdin (hidden prompt on a
    terminal, else the first line)."""
    from ..errors import ValidationError

    if secret_env is not None:
        if secret_env not in os.environ:
            raise ValidationError(f"webhook secret: environment variable {secret_env} is not set")
        return os.environ[secret_env]
    if sys.stdin.isatty():
        return click.prompt("webhook secret", hide_input=True, default="", show_default=False)
    return sys.stdin.readline().rstrip("\r\n")


@webhooks.command()
@click.argument("url")
@click.option("--events", "events_", required=True, metavar="TYPE,TYPE…",
              help="Comma-separated event types to send (crmkit events types lists them).")
@click.option("--secret-env", metavar="VAR",
              help="Read the signing secret from this environment variable (default: stdin).")
@pass_state
def add(state, url, events_, secret_env) -> None:
    """Send events of the given types to URL (http or https).

    URL must reach a public address, or one in core config
    webhooks.allowed_networks (loopback, private and link-local addresses are
    refused until listed there); its host's name must resolve within core
    config webhooks.timeout_seconds.

    Each delivery is signed with a secret shared with the receiver: it is read
    from the environment variable --secret-env names, or from stdin, never
    from an argument (arguments are visible to every user in the process list
    and are kept in shell history and in crmkit's audit log).

    \b
    Example:
      crmkit webhooks add https://example.com/hooks \\
        --events customer.merged,interaction.recorded --secret-env HOOK_SECRET
    """
    from ..webhooks import check_event_types, check_url

    event_types = [t.strip() for t in events_.split(",") if t.strip()]
    with state.open() as crm:
        check_url(url)  # before asking for the secret: a typo is reported first
        check_event_types(event_types, crm.events.types())
        hook = crm.webhooks.add(url, event_types, _read_secret(secret_env))
    click.echo(f"added webhook {hook.id}: {hook.url} ({', '.join(hook.event_types)})")


@webhooks.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Also list removed webhooks.")
@format_option
@pass_state
def list_(state, include_removed, fmt) -> None:
    """List webhooks and their deliveries by status.

    Secrets are never shown.

    \b
    Example:
      crmkit webhooks list --format json
    """
    with state.open() as crm:
        hooks = crm.webhooks.list(include_removed=include_removed)
        counts = crm.webhooks.counts()
    rows = [{"id": h.id, "url": h.url, "events": list(h.event_types), "active": h.active,
             "created_at": h.created_at, **{s: counts.get(h.id, {}).get(s, 0)
                                            for s in ("pending", "delivered", "failed")}}
            for h in hooks]
    output(rows, ["id", "url", "events", "active", "created_at", "pending", "delivered",
                  "failed"], fmt)


@webhooks.command()
@click.argument("webhook_id", metavar="ID", type=int)
@pass_state
def remove(state, webhook_id) -> None:
    """Stop webhook ID.

    Its pending deliveries are marked failed and its secret is wiped; the
    webhook and its delivery log stay (crmkit webhooks list --all).

    \b
    Example:
      crmkit webhooks remove 3
    """
    with state.open() as crm:
        crm.webhooks.remove(webhook_id)
    click.echo(f"removed webhook {webhook_id} (its delivery log stays)")


@webhooks.command()
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]),
              help="Only deliveries in this state.")
@click.option("--webhook", "webhook_id", type=int, metavar="ID", help="Only this webhook's.")
@click.option("--after", type=click.IntRange(0), default=None, metavar="ROW",
              help="Only rows after this one (page on from the last row shown).")
@limit_option("deliveries")
@format_option
@pass_state
def deliveries(state, status, webhook_id, after, limit, fmt) -> None:
    """Show the delivery log, oldest first.

    One row per event and webhook, with its status and its last attempt.

    \b
    Example:
      crmkit webhooks deliveries --status failed --format json
    """
    with state.open() as crm:
        found = crm.webhooks.deliveries(status=status, webhook_id=webhook_id, after_id=after,
                                        limit=limit)
    rows = [{"row": d.id, "delivery_id": d.delivery_id, "webhook": d.webhook_id,
             "event_type": d.event_type, "event_id": d.event_id,
             "interaction_id": d.interaction_id, "status": d.status, "attempts": d.attempts,
             "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
             "last_attempt_at": d.last_attempt_at, "last_status_code": d.last_status_code,
             "last_error": d.last_error, "delivered_at": d.delivered_at} for d in found]
    output(rows, ["row", "delivery_id", "webhook", "event_type", "event_id", "interaction_id",
                  "status", "attempts", "next_attempt_at", "last_attempt_at", "last_status_code",
                  "last_error", "delivered_at"], fmt, limit=limit,
           more="raise --limit or page on with --after and the last row shown")
