"""``crmkit customers add|list|show|merge|export-data|erase|consent|consents``."""

from __future__ import annotations

import json

import click

from ..errors import ValidationError
from ..types import DuplicateKeyError, parse_json
from .common import (atomic_write, dash_is_stdout, format_option, limit_option, output,
                     output_document, pass_state)

COLUMNS = ["external_id", "type", "name", "email", "phone", "preferred_channel",
           "lifecycle_stage", "tags"]


@click.group()
def customers() -> None:
    """Add, list and show customers (a customer ID is its external id)."""


@customers.command()
@click.argument("external_id")
@click.option("--name", help="Full name (of the person or the organisation).")
@click.option("--type", "type_", type=click.Choice(["person", "organisation"]), default="person",
              show_default=True, help="A person or an organisation.")
@click.option("--email", help="Email address.")
@click.option("--phone", help="Phone number.")
@click.option("--organisation", help="External id of the organisation this person belongs to.")
@click.option("--preferred-channel", help="Preferred contact channel (e.g. email, phone).")
@click.option("--lifecycle-stage", help="Lifecycle stage, free text (e.g. customer).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--attr", "attrs_", multiple=True, metavar="KEY=VALUE",
              help="An attribute (repeatable; VALUE is JSON when it parses).")
@pass_state
def add(state, external_id, name, type_, email, phone, organisation, preferred_channel,
        lifecycle_stage, tags, attrs_) -> None:
    """Add a customer whose external id is EXTERNAL_ID.

    \b
    Example:
      crmkit customers add C00042 --name "Ada Lovelace" --email ada@example.com \\
        --tag vip --attr city=London --attr birth_year=1815
    """
    attributes = parse_attributes(attrs_)
    with state.open() as crm:
        customer = crm.customers.add(
            external_id, name, type=type_, email=email, phone=phone, organisation=organisation,
            preferred_channel=preferred_channel, lifecycle_stage=lifecycle_stage,
            tags=list(tags), attributes=attributes)
    click.echo(f"added customer {customer.external_id}")


def parse_attributes(items) -> dict:
    """``--attr KEY=VALUE`` options as a dict (VALUE is JSON when it parses, text otherwise;
    JSON naming a key twice in one object is refused)."""
    attributes = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attr")
        try:
            attributes[key] = parse_json(value)
        except DuplicateKeyError as exc:  # JSON, but of no one meaning: not text either
            raise click.BadParameter(f"{key}: {exc}", param_hint="--attr") from None
        except ValueError:
            attributes[key] = value
    return attributes


CLEARABLE = ("name", "email", "phone", "organisation", "preferred_channel", "lifecycle_stage")


@customers.command()
@click.argument("external_id")
@click.option("--name", help="New name.")
@click.option("--type", "type_", type=click.Choice(["person", "organisation"]), help="New type.")
@click.option("--email", help="New email address.")
@click.option("--phone", help="New phone number.")
@click.option("--organisation", help="External id of the organisation this person belongs to.")
@click.option("--preferred-channel", help="New preferred contact channel.")
@click.option("--lifecycle-stage", help="New lifecycle stage.")
@click.option("--add-tag", "add_tags", multiple=True, help="Add this tag (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, help="Remove this tag (repeatable).")
@click.option("--attr", "attrs_", multiple=True, metavar="KEY=VALUE",
              help="Set an attribute (repeatable; VALUE is JSON when it parses); other "
                   "attributes stay.")
@click.option("--clear", "cleared", multiple=True, type=click.Choice(CLEARABLE),
              help="Empty this field (repeatable).")
@pass_state
def update(state, external_id, name, type_, email, phone, organisation, preferred_channel,
           lifecycle_stage, add_tags, remove_tags, attrs_, cleared) -> None:
    """Change fields of customer EXTERNAL_ID.

    Only the options given change; the change is audited.

    \b
    Example:
      crmkit customers update C00042 --email ada@example.org --add-tag vip \\
        --clear phone
    """
    given = {"name": name, "type": type_, "email": email, "phone": phone,
             "organisation": organisation, "preferred_channel": preferred_channel,
             "lifecycle_stage": lifecycle_stage}
    changes = {field: value for field, value in given.items() if value is not None}
    both = set(changes) & set(cleared)
    if both:
        raise ValidationError(f"--{sorted(both)[0].replace('_', '-')} and --clear "
                               f"{sorted(both)[0]} contradict each other")
    changes.update({field: None for field in cleared})
    if attrs_:
        changes["attributes"] = parse_attributes(attrs_)
    with state.open() as crm:
        if add_tags or remove_tags:
            tags = set(crm.customers.get(external_id).tags) | set(add_tags)
            changes["tags"] = sorted(tags - set(remove_tags))
        if not changes:
            raise ValidationError("nothing to change: give at least one option "
                                   "(see crmkit customers update --help)")
        before = crm.customers.get(external_id)
        after = crm.customers.update(external_id, **changes)
    changed = [f for f in ("name", "type", "email", "phone", "organisation_id",
                           "preferred_channel", "lifecycle_stage", "tags", "attributes")
               if getattr(before, f) != getattr(after, f)]
    shown = ", ".join(f.replace("organisation_id", "organisation") for f in changed)
    click.echo(f"updated customer {external_id}: {shown}" if changed
               else f"customer {external_id} unchanged")


@customers.command()
@click.argument("text", required=False)
@click.option("--tag", help="Only customers with this tag.")
@limit_option("customers")
@format_option
@pass_state
def search(state, text, tag, limit, fmt) -> None:
    """Find customers by name, email, phone, external id or tag.

    Lists the customers whose name, email, phone, external id or a tag
    contains TEXT.  Matching ignores case; a phone matches on its digits.  Give TEXT, --tag,
    or both (both must match).

    \b
    Examples:
      crmkit customers search lovelace
      crmkit customers search 7946 --tag vip --format csv
    """
    if not text and not tag:
        raise ValidationError("give a TEXT to search for, --tag, or both")
    state.show(lambda crm: crm.customers.search(text, tag=tag, limit=limit), COLUMNS, fmt,
               limit=limit, more="raise --limit or search more narrowly")


@customers.command("list")
@limit_option("customers")
@click.option("--offset", type=click.IntRange(0), default=0, help="Customers to skip first.")
@click.option("--type", "type_", type=click.Choice(["person", "organisation"]),
              help="Only persons or only organisations.")
@click.option("--organisation", help="Only the people of this organisation (external id).")
@format_option
@pass_state
def list_(state, limit, offset, type_, organisation, fmt) -> None:
    """List customers, a page at a time.

    \b
    Example:
      crmkit customers list --type organisation --limit 20 --offset 40
    """
    state.show(lambda crm: crm.customers.list(limit=limit, offset=offset, type=type_,
                                              organisation=organisation),
               COLUMNS, fmt, limit=limit)


@customers.command()
@click.argument("external_id")
@limit_option("timeline entries", default=20)
@format_option
@pass_state
def show(state, external_id, limit, fmt) -> None:
    """Customer 360: everything about one customer.

    Shows EXTERNAL_ID's profile, attributes, organisation and people,
    consents and timeline.  The timeline merges interactions, audit entries
    and every enabled plugin's entries, newest first, each naming its source.
    --format csv prints the timeline only.

    \b
    Example:
      crmkit customers show C00042 --limit 50 --format json
    """
    with state.open() as crm:
        document = customer_360(crm, external_id, limit)
    if fmt == "csv":
        output(document["timeline"], TIMELINE_COLUMNS, "csv")
        return
    output_document(document, "json" if fmt == "json" else "table")


TIMELINE_COLUMNS = ["at", "source", "kind", "summary"]


def customer_360(crm, external_id: str, limit: int) -> dict:
    """The document ``customers show`` prints."""
    import attrs

    customer = crm.customers.get(external_id)
    profile = {("organisation" if k == "organisation_id" else k): v
               for k, v in attrs.asdict(customer, recurse=False).items()
               if k not in ("attributes", "id")}
    document = {"profile": profile, "attributes": customer.attributes}
    if customer.organisation_id is not None:
        org = crm.customers.get_by_id(customer.organisation_id)
        profile["organisation"] = org.external_id
        document["organisation"] = {"external_id": org.external_id, "name": org.name}
    if customer.type == "organisation":
        people = crm.customers.list(organisation=external_id, limit=None)
        document["people"] = [{"external_id": p.external_id, "name": p.name, "email": p.email}
                              for p in people]
    document["consents"] = [{"channel": c.channel, "granted": c.granted, "source": c.source,
                             "recorded_at": c.recorded_at}
                            for c in crm.customers.consents(external_id)]
    document["timeline"] = [{"at": e.at, "source": e.source, "kind": e.kind,
                             "summary": e.summary}
                            for e in crm.customers.timeline(external_id, limit=limit)]
    return document


@customers.command()
@click.argument("keep")
@click.argument("duplicate")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@pass_state
def merge(state, keep, duplicate, dry_run) -> None:
    """Merge customer DUPLICATE into customer KEEP.

    Every row of every plugin moves to KEEP.  KEEP's non-empty fields win,
    its empty ones are filled from DUPLICATE, tags are united; DUPLICATE is
    then deleted.  Atomic and audited.

    \b
    Example:
      crmkit customers merge C00042 C00977 --dry-run
    """
    from ..services.merging import merge as run_merge

    with state.open() as crm:
        result = run_merge(crm, keep, duplicate, dry_run=dry_run)
    head = "dry run, nothing written: would merge" if dry_run else "merged"
    click.echo(f"{head} {duplicate} into {keep}")
    for field, (old, new) in result.changes.items():
        click.echo(f"  {field}: {_short(old)} -> {_short(new)}")
    for where, count in sorted(result.moved.items()):
        click.echo(f"  {'would move' if dry_run else 'moved'} {count} row(s) of {where}")


def _short(value) -> str:
    from .common import jsonable

    return json.dumps(jsonable(value), ensure_ascii=False)


@customers.command("export-data")
@click.argument("external_id")
@click.option("--output", "-o", "path", type=click.Path(dir_okay=False, allow_dash=True),
              callback=dash_is_stdout,
              help="Write the JSON to this file (default, or -: standard output).")
@pass_state
def export_data(state, external_id, path) -> None:
    """Export everything held about a customer as JSON.

    Gathers what the core and every enabled plugin hold about EXTERNAL_ID
    (refused while a disabled plugin holds rows about them).  The request
    is recorded in the privacy requests once the JSON is written.
    A file is written whole or not at all, readable by its owner only.

    \b
    Example:
      crmkit customers export-data C00042 --output C00042.json
    """

    def write(document) -> None:
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if path is None:
            click.echo(text)
            return
        with atomic_write(path, ".crmkit-export-data-") as handle:
            handle.write(text + "\n")

    with state.open() as crm:
        crm.customers.export_data(external_id, deliver=write)
    if path is not None:
        click.echo(f"wrote everything held about {external_id} to {path}", err=True)


@customers.command()
@click.argument("external_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def erase(state, external_id, yes) -> None:
    """Erase a customer's personal data (irreversible).

    Erases EXTERNAL_ID's personal data in every table, as a privacy request.
    Amounts and dates stay so analytics still add up; the request is recorded.

    \b
    Example:
      crmkit customers erase C00042 --yes
    """
    if not yes:
        click.confirm(f"Irreversibly erase the personal data of {external_id}?", abort=True,
                      err=True)
    with state.open() as crm:
        tombstone = crm.customers.erase(external_id)
    click.echo(f"erased customer {external_id}")
    if tombstone.external_id != external_id:
        click.echo(f"its external id held personal data and is now {tombstone.external_id}")


@customers.command()
@click.argument("external_id")
@click.argument("channel")
@click.argument("decision", type=click.Choice(["grant", "withdraw"]))
@click.option("--source", default="crmkit cli", show_default=True,
              help="Where the decision came from (web form, call, letter ...).")
@pass_state
def consent(state, external_id, channel, decision, source) -> None:
    """Record a consent decision to contact on a channel.

    EXTERNAL_ID grants or withdraws (DECISION) consent to be contacted on
    CHANNEL.

    \b
    Example:
      crmkit customers consent C00042 email grant --source "web form"
    """
    with state.open() as crm:
        crm.customers.set_consent(external_id, channel, decision == "grant", source)
    click.echo(f"consent on {channel} {'granted' if decision == 'grant' else 'withdrawn'} "
               f"for {external_id} (source: {source})")


@customers.command()
@click.argument("external_id")
@format_option
@pass_state
def consents(state, external_id, fmt) -> None:
    """List EXTERNAL_ID's consent decisions, one per channel.

    \b
    Example:
      crmkit customers consents C00042 --format json
    """
    state.show(lambda crm: crm.customers.consents(external_id),
               ["channel", "granted", "source", "recorded_at"], fmt)
