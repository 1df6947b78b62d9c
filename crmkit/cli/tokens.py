"""``crmkit tokens create|list|revoke``: API tokens of staff members."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.group()
def tokens() -> None:
    """API tokens: create, list and revoke them."""


@tokens.command()
@click.option("--staff", "handle", required=True, help="The staff member the token acts as.")
@click.option("--name", help="What the token is for (a machine, an integration).")
@click.option("--expires", metavar="DATE", help="When it stops working: an ISO date or "
              "date-time (UTC unless it has an offset); default: never, until revoked.")
@pass_state
def create(state, handle, name, expires) -> None:
    """Create an API token and print its secret, once.

    The secret is alone on the last line of the output.  Requests send it
    as "Authorization: Bearer SECRET" and act as the staff member, with
    their role.  Only a hash of it is stored: it cannot be shown again
    (revoke it and create another if it is lost).

    \b
    Example:
      crmkit tokens create --staff ana --name laptop --expires 2027-06-30
    """
    from ..clock import parse_timestamp

    expires_at = parse_timestamp(expires, "--expires") if expires is not None else None
    with state.open() as crm:
        token, secret = crm.tokens.create(handle, name=name, expires_at=expires_at)
    until = (f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at
             else "until revoked")
    click.echo(f"created API token {token.id} for {token.staff_handle} ({until}); "
               "store this secret now, it is not shown again:")
    click.echo(secret)


@tokens.command("list")
@click.option("--staff", "handle", help="Only this staff member's tokens.")
@format_option
@pass_state
def list_(state, handle, fmt) -> None:
    """List API tokens, revoked and expired ones too.

    Shows what each token is and when it was last used, never its secret.

    \b
    Example:
      crmkit tokens list --staff ana --format json
    """
    with state.open() as crm:
        now = crm.clock.now()
        rows = [{"id": t.id, "staff": t.staff_handle, "name": t.name,
                 "status": t.status(now),
                 "created_at": t.created_at, "expires_at": t.expires_at,
                 "last_used_at": t.last_used_at, "revoked_at": t.revoked_at}
                for t in crm.tokens.list(handle)]
    output(rows, ["id", "staff", "name", "status", "created_at", "expires_at", "last_used_at",
                  "revoked_at"], fmt)


@tokens.command()
@click.argument("token_id", metavar="ID", type=int)
@pass_state
def revoke(state, token_id) -> None:
    """Revoke API token ID: it authenticates nobody from now on.

    \b
    Example:
      crmkit tokens revoke 3
    """
    with state.open() as crm:
        token = crm.tokens.revoke(token_id)
    click.echo(f"revoked API token {token.id} of {token.staff_handle}")
