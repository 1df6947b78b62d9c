"""``crmkit demo``: a realistic sample CRM with every installed plugin enabled."""

from __future__ import annotations

import random

import click

from .common import pass_state, progress


@click.command()
@click.option("--customers", "count", type=click.IntRange(50), default=3000, show_default=True,
              help="How many sample customers to create (at least 50).")
@click.option("--interactions-per-customer", "per_customer", type=click.FloatRange(1),
              default=12.0, show_default=True,
              help="Average number of interactions per customer (at least 1).")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Random seed: the same seed gives the same sample data.")
@click.option("--force", is_flag=True,
              help="Add the sample data to a crmkit database that already holds customers "
                   "(and apply its pending migrations).")
@pass_state
def demo(state, count: int, per_customer: float, seed: int, force: bool) -> None:
    """Create a sample CRM and show what each plugin adds.

    Creates a seeded sample CRM, enables every installed plugin and prints
    what each contributes.  Needs a new or empty database (--force adds the
    sample data to one that holds customers).  Run again on the demo's
    database, it prints the stored report instead of adding data.

    \b
    Example:
      crmkit --db sqlite:///demo.db demo --customers 500 --seed 42
    """
    from sqlalchemy import insert

    from .. import demo as sample
    from .. import tables
    from ..db import hide_password
    from ..errors import ConflictError, CRMError

    stored, customers = _existing(state)
    if stored is not None:
        click.echo(f"demo data already present at {hide_password(state.db_url)}; its report:")
        for line in stored["report"]:
            click.echo(line)
        with state.open() as crm:
            _refresh(crm)
        return
    if customers and not force:
        raise ConflictError(
            f"the database already holds {customers} customer{'s' if customers != 1 else ''}; "
            "the demo builds a sample CRM in a new database: give a new one (--db "
            "sqlite:///demo.db) or add --force to write the sample data into this one")
    rng = random.Random(seed)
    with state.open(create=True, upgrade=force) as crm:
        report: list[str] = []

        def say(line: str) -> None:
            report.append(line)
            click.echo(line)

        for status in crm.plugins.list():
            if status.status == "broken":
                say(f"plugin {status.name}: broken, skipped ({status.error})")
        _enable_all(crm, say)
        for handle, name, team in sample.STAFF:
            if not crm.staff.list(team=team) or handle not in {s.handle for s in crm.staff.list()}:
                crm.staff.add(handle, name, team, f"{handle}@crmkit.example")
        for name in crm.enabled_plugins():
            crm.hooks.call_one(name, "crmkit_demo_prepare", None, crm=crm,
                               products=sample.PRODUCTS)
        rows = sample.customers(rng, count)
        result = crm.customers.add_many(rows)
        say(f"customers: {result.created} created ({sum(r.get('type') == 'organisation' for r in rows)}"
            " organisations)")
        people = [r["external_id"] for r in rows if r.get("type") != "organisation"]
        today = crm.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        stream = sample.interactions(crm, rng, people, per_customer, end=today)  # history up to today
        with progress(stream, None, "interactions") as bar:
            result = crm.interactions.record_many(bar, batch_size=2000)
        say(f"interactions: {result.created} recorded")
        for name in crm.enabled_plugins():
            try:
                lines = crm.hooks.call_one(name, "crmkit_demo", None, crm=crm, rng=rng) or []
            except CRMError as exc:  # e.g. a model that cannot be fitted: the other parts go on
                lines = [f"not shown: {exc}"]
            say(f"\n== {name}")
            for line in lines:
                say(f"  {line}")
        with crm.transaction() as tx:
            tx.conn.execute(insert(tables.settings), {"name": "demo", "updated_at": tx.now(),
                                                      "value": {"seed": seed, "report": report}})
        _refresh(crm)


def _refresh(crm) -> None:
    """Print each enabled plugin's ``crmkit_demo_refresh`` lines (never stored: they say what
    this machine gives now, such as charts drawn with an optional package)."""
    from ..errors import CRMError

    for name in crm.enabled_plugins():
        try:
            lines = crm.hooks.call_one(name, "crmkit_demo_refresh", None, crm=crm) or []
        except CRMError as exc:
            lines = [f"not shown: {exc}"]
        for line in lines:
            click.echo(f"{name} {line}")


def _existing(state) -> tuple[dict | None, int]:
    """The stored demo report (None if the demo never ran here) and how many customers there are."""
    from sqlalchemy import func, select

    from .. import tables
    from ..app import CRM

    crm = CRM(state.db_url, actor=state.actor)
    try:
        if not crm.has_schema():
            return None, 0
        with crm.read() as conn:
            stored = conn.execute(select(tables.settings.c.value)
                                  .where(tables.settings.c.name == "demo")).scalar()
            return stored, conn.execute(select(func.count()).select_from(tables.customers)).scalar()
    finally:
        crm.close()


def _enable_all(crm, say) -> None:
    """Enable every working installed plugin, requirements first."""
    from .. import plugins

    statuses = {s.name: s for s in crm.plugins.list() if s.status in ("enabled", "disabled")}
    infos = {name: crm.installed[name].info for name in statuses}
    for name in plugins.dependency_order(infos):
        if statuses[name].enabled:
            continue
        missing = [r for r in infos[name].requires if r not in statuses]
        if missing:
            say(f"plugin {name}: not enabled, requires {', '.join(missing)}")
            continue
        crm.plugins.enable(name)
        say(f"plugin {name}: enabled")
