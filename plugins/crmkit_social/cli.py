"""``crmkit social …``: handles, mention import, sentiment, engagement, referrals."""

from __future__ import annotations

import click

from crmkit.plugin import (
    as_of_option, format_option, limit_option, output, output_document, pass_state, resolve_as_of,
)


@click.group(name="social")
def group() -> None:
    """Social identities, mentions and sentiment, engagement, referrals."""


@group.command()
@click.argument("customer")
@click.argument("platform")
@click.argument("handle")
@pass_state
def link(state, customer, platform, handle) -> None:
    """Link HANDLE on PLATFORM to CUSTOMER.

    Handles are normalised: @Alice and alice are the same handle.

    \b
    Example:
      crmkit social link C00042 twitter @ada_l
    """
    with state.open() as crm:
        created = crm.plugin("social").link_handle(customer, platform, handle)
        click.echo("linked" if created else "already linked")


@group.command()
@click.argument("customer")
@click.argument("platform")
@click.argument("handle")
@pass_state
def unlink(state, customer, platform, handle) -> None:
    """Remove HANDLE on PLATFORM from CUSTOMER.

    \b
    Example:
      crmkit social unlink C00042 twitter ada_l
    """
    with state.open() as crm:
        crm.plugin("social").unlink_handle(customer, platform, handle)
        click.echo("unlinked")


@group.command()
@click.argument("customer", required=False)
@format_option
@pass_state
def handles(state, customer, fmt) -> None:
    """List linked handles (of CUSTOMER, or everyone's).

    \b
    Example:
      crmkit social handles C00042 --format json
    """
    state.show(lambda crm: crm.plugin("social").identities(customer),
               ["customer", "platform", "handle", "linked_at"], fmt)


@group.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]),
              help="File format (default: from the extension).")
@pass_state
def import_(state, path, file_format) -> None:
    """Import mentions from a CSV or JSON Lines file PATH.

    Columns: platform, post_id, handle, text, posted_at, likes, comments,
    shares.  Any bad line rejects the file; re-importing updates counts.

    \b
    Examples:
      crmkit social import mentions.csv
      crmkit social import export.txt --format jsonl
    """
    with state.open() as crm:
        result = crm.plugin("social").import_file(path, file_format)
        click.echo(result.summary() + f"; negative-mention events {result.alerts}")


@group.command()
@click.option("--customer", help="Only this customer's mentions.")
@click.option("--label", type=click.Choice(["positive", "neutral", "negative", "unscored"]),
              help="Only mentions with this sentiment label (unscored: no analyser for the "
                   "text's language).")
@click.option("--since", help="Only mentions posted on or after this date.")
@limit_option("mentions")
@as_of_option
@format_option
@pass_state
def mentions(state, customer, label, since, limit, as_of, fmt) -> None:
    """List mentions with their language and sentiment.

    Newest first; only mentions posted up to --as-of.  An unscored mention
    shows why in unscored_reason.

    \b
    Example:
      crmkit social mentions --label negative --since 2026-11-01 --format csv
    """
    from crmkit.plugin import parse_timestamp

    since_at = parse_timestamp(since, "--since") if since else None
    state.show(lambda crm: crm.plugin("social").mentions(customer, label, since_at,
                                                         resolve_as_of(crm, as_of), limit),
               ["id", "platform", "post_id", "handle", "external_id", "posted_at", "likes",
                "comments", "shares", "language", "sentiment", "label", "unscored_reason", "text"],
               fmt, limit=limit, more="raise --limit or narrow with --customer, --label or --since")


@group.command()
@click.argument("text")
@format_option
@pass_state
def sentiment(state, text, fmt) -> None:
    """Score TEXT with the analyser for its language.

    The language is detected from the script of the letters (Chinese,
    English, ...); the score is labelled with that language's thresholds.  A
    text in a language no analyser handles is unscored, with the reason.

    \b
    Example:
      crmkit social sentiment "This is the worst service ever"
    """
    with state.open() as crm:
        api = crm.plugin("social")
        result = api.analyse(text)
        value, label = api.score(text)
        document = {"score": value, "label": label, "language": result.language,
                    "analyser": result.analyser}
        if result.unscored_reason:
            document["unscored_reason"] = result.unscored_reason
        output_document(document, fmt)


@group.command(name="sentiment-summary")
@click.option("--since", help="Only mentions posted on or after this date.")
@as_of_option
@format_option
@pass_state
def sentiment_summary(state, since, as_of, fmt) -> None:
    """Count mentions per sentiment label.

    Only mentions posted up to --as-of.

    \b
    Example:
      crmkit social sentiment-summary --since 2026-11-01 --as-of 2026-12-01 \\
        --format json
    """
    from crmkit.plugin import parse_timestamp

    with state.open() as crm:
        summary = crm.plugin("social").sentiment_summary(
            parse_timestamp(since, "--since") if since else None, resolve_as_of(crm, as_of))
        output_document(summary, fmt)


@group.command()
@click.option("--period", type=click.Choice(["day", "week", "month", "quarter", "year"]),
              help="Calendar period (default: engagement_period).")
@click.option("--periods", type=click.IntRange(1, 400), default=1, show_default=True,
              help="How many periods, ending with the one containing --as-of.")
@click.option("--customer", help="Only this customer.")
@as_of_option
@format_option
@pass_state
def engagement(state, period, periods, customer, as_of, fmt) -> None:
    """Engagement per customer, handle and period.

    By default engagement is likes + 2×comments + 3×shares.

    \b
    Example:
      crmkit social engagement --period week --periods 4 --as-of 2026-12-01
    """
    state.show(lambda crm: crm.plugin("social").engagement(resolve_as_of(crm, as_of), period,
                                                           periods, customer),
               ["period_start", "external_id", "platform", "handle", "mentions", "likes",
                "comments", "shares", "engagement"], fmt)


@group.command(name="referral-code")
@click.argument("customer")
@pass_state
def referral_code(state, customer) -> None:
    """Print CUSTOMER's referral code.

    The code is created on the first request.

    \b
    Example:
      crmkit social referral-code C00042
    """
    with state.open() as crm:
        click.echo(crm.plugin("social").referral_code(customer))


@group.command()
@click.argument("code")
@click.argument("customer")
@pass_state
def redeem(state, code, customer) -> None:
    """New customer CUSTOMER redeems referral CODE.

    \b
    Example:
      crmkit social redeem 7KQ2MX9HAT C00977
    """
    with state.open() as crm:
        referral = crm.plugin("social").redeem_referral(code, customer)
        referrer = crm.customers.get_by_id(referral.referrer_id).external_id
        click.echo(f"{customer} referred by {referrer}")


@group.command()
@as_of_option
@format_option
@pass_state
def referrals(state, as_of, fmt) -> None:
    """List referrals and whether they converted.

    Referrals redeemed up to --as-of, and whether they converted by then.

    \b
    Example:
      crmkit social referrals --as-of 2026-12-01 --format json
    """
    with state.open() as crm:
        output(crm.plugin("social").referrals(resolve_as_of(crm, as_of)),
               ["id", "referrer", "referee", "redeemed_at", "converted", "converted_at"], fmt)
