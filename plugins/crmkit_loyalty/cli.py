"""``crmkit loyalty statement|redeem|adjust|expire|tiers|liability|rewards …``."""

from __future__ import annotations

import attrs
import click

from crmkit.plugin import (
    as_of_option, format_option, output, output_document, pass_state, resolve_as_of,
)

STATEMENT_COLUMNS = ["id", "at", "type", "source", "points", "balance", "owed_change", "reason",
                     "expires_at"]
REWARD_COLUMNS = ["code", "name", "points", "stock", "active"]
TIER_COLUMNS = ["name", "threshold", "multiplier", "members"]
LIABILITY_COLUMNS = ["tier", "members", "points", "liability"]


@click.group(name="loyalty")
def group() -> None:
    """Loyalty program: points, tiers, rewards (a customer ID is its external id)."""


@group.command()
@click.argument("customer")
@as_of_option
@format_option
@pass_state
def statement(state, customer, as_of, fmt) -> None:
    """Show CUSTOMER's standing and ledger with the running balance.

    \b
    Example:
      crmkit loyalty statement C00042 --as-of 2026-12-01
    """
    with state.open() as crm:
        api = crm.plugin("loyalty")
        moment = resolve_as_of(crm, as_of)
        member = api.member(customer, moment)
        lines = [attrs.asdict(line) for line in api.statement(customer, moment)]
    if fmt == "json":
        output_document({"member": attrs.asdict(member), "as_of": moment, "ledger": lines}, fmt)
        return
    if fmt == "table":
        click.echo(f"{member.external_id}: tier {member.tier or '-'}, balance {member.balance}, "
                   f"available {member.available}, locked {member.locked}, owed {member.owed}, "
                   f"next review {member.review_at.date().isoformat()} "
                   f"(as of {moment.isoformat()})")
    output(lines, STATEMENT_COLUMNS, fmt)


@group.command()
@click.argument("customer")
@click.argument("reward")
@pass_state
def redeem(state, customer, reward) -> None:
    """Redeem REWARD (a catalogue code) for CUSTOMER now.

    \b
    Example:
      crmkit loyalty redeem C00042 COFFEE
    """
    with state.open() as crm:
        api = crm.plugin("loyalty")
        ledger_id = api.redeem(customer, reward)
        balance = api.balance(customer)
    click.echo(f"redeemed {reward} for {customer} (ledger row {ledger_id}); balance {balance}")


@group.command(context_settings={"ignore_unknown_options": True})
@click.argument("customer")
@click.argument("points", type=int)
@click.option("--reason", required=True, help="Why (kept in the ledger and the audit log).")
@pass_state
def adjust(state, customer, points, reason) -> None:
    """Add or deduct POINTS for CUSTOMER by hand.

    Positive POINTS are added, negative ones deducted.  A negative number is
    taken as POINTS, not as an option.

    \b
    Example:
      crmkit loyalty adjust C00042 -50 --reason "duplicate earning"
    """
    with state.open() as crm:
        api = crm.plugin("loyalty")
        ledger_id = api.adjust(customer, points, reason)
        balance = api.balance(customer)
    click.echo(f"adjusted {customer} by {points:+d} (ledger row {ledger_id}); balance {balance}")


@group.command()
@as_of_option
@pass_state
def expire(state, as_of) -> None:
    """Write expire rows for every point due to expire (idempotent).

    \b
    Example:
      crmkit loyalty expire --as-of 2026-12-01
    """
    with state.open() as crm:
        result = crm.plugin("loyalty").expire(resolve_as_of(crm, as_of))
    click.echo(f"expired {result.points} points in {result.rows} lots of {result.members} members")


@group.group(invoke_without_command=True)
@as_of_option
@format_option
@click.pass_context
def tiers(ctx, as_of, fmt) -> None:
    """List the tiers with their member counts.

    crmkit loyalty tiers review runs the reviews that are due.

    \b
    Example:
      crmkit loyalty tiers --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.obj
    state.show(lambda crm: crm.plugin("loyalty").tiers(resolve_as_of(crm, as_of)), TIER_COLUMNS,
               fmt)


@tiers.command()
@as_of_option
@format_option
@pass_state
def review(state, as_of, fmt) -> None:
    """Review the members whose review date has come.

    A review downgrades by at most the configured steps.

    \b
    Example:
      crmkit loyalty tiers review --as-of 2026-12-01
    """
    with state.open() as crm:
        changes = crm.plugin("loyalty").review_tiers(resolve_as_of(crm, as_of))
        names = {c.customer_id: crm.customers.get_by_id(c.customer_id).external_id
                 for c in changes}
    rows = [{"customer": names[c.customer_id], "from": c.before, "to": c.after,
             "reason": c.reason} for c in changes]
    output(rows, ["customer", "from", "to", "reason"], fmt)


@group.command()
@as_of_option
@format_option
@pass_state
def liability(state, as_of, fmt) -> None:
    """Outstanding points × cost per point, per tier, with the total.

    \b
    Example:
      crmkit loyalty liability --as-of 2026-12-01 --format csv
    """
    with state.open() as crm:
        lines = [attrs.asdict(line) for line in crm.plugin("loyalty").liability(
            resolve_as_of(crm, as_of))]
    if lines:
        lines.append({"tier": "TOTAL", "members": sum(r["members"] for r in lines),
                      "points": sum(r["points"] for r in lines),
                      "liability": sum(r["liability"] for r in lines)})
    output(lines, LIABILITY_COLUMNS, fmt)


@group.group()
def rewards() -> None:
    """The rewards catalogue."""


@rewards.command("list")
@format_option
@pass_state
def rewards_list(state, fmt) -> None:
    """List the catalogue.

    \b
    Example:
      crmkit loyalty rewards list --format json
    """
    state.show(lambda crm: crm.plugin("loyalty").rewards(), REWARD_COLUMNS, fmt)


@rewards.command("add")
@click.argument("code")
@click.option("--points", type=int, required=True, help="Point cost.")
@click.option("--stock", type=int, default=None, help="Units available (default: unlimited).")
@click.option("--name", default=None, help="Display name (default: the code).")
@pass_state
def rewards_add(state, code, points, stock, name) -> None:
    """Add reward CODE to the catalogue.

    \b
    Example:
      crmkit loyalty rewards add COFFEE --points 150 --stock 200 \\
        --name "Free coffee"
    """
    with state.open() as crm:
        reward = crm.plugin("loyalty").add_reward(code, points, stock, name)
    stock_text = "unlimited" if reward.stock is None else str(reward.stock)
    click.echo(f"added reward {reward.code}: {reward.points} points, stock {stock_text}")


@rewards.command("restock")
@click.argument("code")
@click.argument("quantity", type=int)
@pass_state
def rewards_restock(state, code, quantity) -> None:
    """Add QUANTITY units to reward CODE.

    \b
    Example:
      crmkit loyalty rewards restock COFFEE 100
    """
    with state.open() as crm:
        reward = crm.plugin("loyalty").restock(code, quantity)
    click.echo(f"reward {reward.code}: stock {reward.stock}")


@rewards.command("retire")
@click.argument("code")
@pass_state
def rewards_retire(state, code) -> None:
    """Stop offering reward CODE (past redemptions stay in the ledger).

    \b
    Example:
      crmkit loyalty rewards retire COFFEE
    """
    with state.open() as crm:
        crm.plugin("loyalty").retire(code)
    click.echo(f"reward {code} retired")
