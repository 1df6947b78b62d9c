"""The public API of catalogue: ``crm.plugin("catalogue")``.

Reads use ``crm.read()``, writes ``crm.transaction()``; computations take
``as_of`` (default: the CRM clock's now) and return plain data.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import attrs
from sqlalchemy import delete, select

from crmkit.plugin import (ConflictError, ImportRejected, ImportReport, NotFound, PluginAPI,
                           SourceFile, ValidationError, checked_import, customers, ensure_utc,
                           text_limit)

from . import offers, products, profit
from .settings import Rules, Settings
from .tables import offer_lists, offers as offer_rows


OFFER_LIST_NAME_WIDTH = 100
"""The widest offer list name (lower if the core config's ``max_field_length`` is lower)."""
MAX_SEGMENT_MEMBERS = 10_000
"""The most customers an offer list saved as an analytical segment may hold."""


class CatalogueAPI(PluginAPI):
    """Products, line items, profit, association rules and next-best offers."""

    plugin = "catalogue"
    settings_class = Settings

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else ensure_utc(as_of, "as_of")

    # -- products -------------------------------------------------------------------

    def add_products(self, rows: list[dict[str, Any]]) -> ImportReport:
        """Create or update products by SKU, checked against the core config the transaction
        reads; any bad row is one ValidationError, nothing written."""
        labels = [f"row {n}" for n in range(1, len(rows) + 1)]
        with self.crm.transaction() as tx:
            checked = self._checked_products("rows", rows, labels, [], skip_invalid=False)
            return self._write_products(tx, checked)

    def import_products(self, path: str, fmt: str | None = None, skip_invalid: bool = False
                        ) -> ImportReport:
        """Import products from a CSV (header: sku, name, category, list_price, unit_cost,
        active_from, active_to) or JSON Lines file.  Every bad line is reported as
        ``line N: field: problem``; any bad line rejects the file
        (``ImportRejected``, nothing written) unless ``skip_invalid``.  The file is read and
        checked before the transaction opens, and again if the core config or the plugins
        changed meanwhile (:func:`crmkit.plugin.checked_import`)."""
        def checked(source: SourceFile) -> tuple[list[dict[str, Any]], ImportReport]:
            return self._checked_products(path, *products.read_file(source), skip_invalid)

        return checked_import(self.crm, path, fmt, checked, self._write_products)

    def _checked_products(self, path, records, labels, problems, skip_invalid
                          ) -> tuple[list[dict[str, Any]], ImportReport]:
        """The good rows and the report of checking them; ImportRejected (the report) when
        some are bad and not ``skip_invalid``."""
        report = ImportReport(kind="products", path=path, read=len(records) + len(problems))
        rows, bad = products.check_rows(self.crm, records, labels, problems)
        report.problems = sorted(problems, key=lambda p: int(p[0].rsplit(" ", 1)[-1]))
        report.rejected = len(bad)
        if bad and not skip_invalid:
            raise ImportRejected(report)
        return rows, report

    def _write_products(self, tx, checked: tuple[list[dict[str, Any]], ImportReport]
                        ) -> ImportReport:
        """Upsert the good rows :meth:`_checked_products` gave in ``tx``; the report, counted."""
        rows, report = checked
        products.upsert(tx.conn, rows, tx.now(), report)
        tx.audit("import", "catalogue_products", os.path.basename(report.path)[:200],
                 {"read": report.read, "created": report.created, "updated": report.updated,
                  "unchanged": report.unchanged, "rejected": report.rejected})
        return report

    def product(self, sku: str) -> products.Product:
        """One product (NotFound names the SKU)."""
        with self.crm.read() as conn:
            return products.get(conn, sku)

    def products(self, category: str | None = None, active_at: dt.datetime | None = None,
                 after: str | None = None, limit: int | None = None) -> list[products.Product]:
        """Products by SKU; ``category`` includes its subcategories; ``active_at`` keeps those on
        sale then; ``after``: those whose SKU sorts after it; at most ``limit``."""
        with self.crm.read() as conn:
            return products.listing(conn, category,
                                    None if active_at is None else ensure_utc(active_at, "as_of"),
                                    after, limit)

    # -- profit ---------------------------------------------------------------------

    def profit(self, by: str = "customer", as_of: dt.datetime | None = None,
               since: dt.datetime | None = None, period: str = "month") -> list[profit.ProfitLine]:
        """Profit per customer (most profitable first), per saved segment of the analytical
        plugin, or per calendar ``period`` (month, quarter, year), for purchases and costs up
        to ``as_of`` (and after ``since``).  Acquisition cost is what the enabled plugins'
        ``crmkit_acquisition_costs`` attribute (see :meth:`acquisition_note`)."""
        as_of = self._as_of(as_of)
        since = None if since is None else ensure_utc(since, "since")
        if by not in profit.BY:
            raise ValidationError(f"by: {by!r} is not one of {', '.join(profit.BY)}")
        if period not in profit.PERIODS:
            raise ValidationError(f"period: {period!r} is not one of {', '.join(profit.PERIODS)}")
        acquired = list(profit.acquisitions(self.crm, as_of, since).values())
        with self.crm.read() as conn:
            if by == "period":
                return profit.by_period(conn, self.settings, as_of, since, period, acquired)
            per_customer = profit.by_customer(conn, self.settings, as_of, since,
                                              acquired=acquired)
        if by == "customer":
            return per_customer
        if "analytical" not in self.crm.enabled_plugins():
            raise ValidationError("profit by segment needs the analytical plugin's saved "
                                  "segments: crmkit plugins enable analytical")
        analytical = self.crm.plugin("analytical")
        members = {}
        for name in analytical.segment_names():
            ids = analytical.segment_members(name, as_of)
            members[name] = set(self.crm.customers.external_ids_by_id(ids).values())
        return profit.by_segment(per_customer, members)

    def acquisition_note(self) -> str:
        """Which enabled plugins the profit reports' acquisition cost comes from, or why it
        is 0."""
        now = self.crm.clock.now()
        return profit.acquisition_note(list(profit.acquisitions(self.crm, now, None)))

    # -- cross-sell and up-sell -------------------------------------------------------

    def rules(self, as_of: dt.datetime | None = None, **overrides: Any) -> list[dict[str, Any]]:
        """Association rules over the baskets up to ``as_of`` (keys of the ``rules``
        configuration may be overridden: min_support, min_confidence, min_lift, max_itemset,
        basket, window_days)."""
        allowed = attrs.fields_dict(Rules)
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            raise ValidationError(f"rules: unknown setting {unknown[0]!r} (allowed: "
                                  f"{', '.join(sorted(allowed))})")
        rules = attrs.evolve(self.settings.rules, **overrides)
        with self.crm.read() as conn:
            return offers.association_rules(conn, rules, self._as_of(as_of))

    def offers(self, customer: str | None = None, as_of: dt.datetime | None = None
               ) -> list[dict[str, Any]]:
        """Next-best offers ``{customer, rank, sku, kind, score}`` (kind ``cross`` or ``up``),
        for one customer or every customer who bought something, best first."""
        as_of = self._as_of(as_of)
        customer_id = None if customer is None else self.crm.customers.get(customer).id
        with self.crm.read() as conn:
            found = offers.next_best(conn, self.settings, as_of, customer_id)
        names = self.crm.customers.external_ids_by_id({o["customer_id"] for o in found})
        return [{"customer": names[o.pop("customer_id")], **o} for o in found]

    def save_offers(self, name: str, as_of: dt.datetime | None = None,
                    replace: bool = False, segment: bool = False) -> int:
        """Save every customer's offers at ``as_of`` as the list ``name`` (a campaign targets its
        members, :meth:`offer_list`); returns the customers in it.

        ``segment`` also saves (or replaces) the analytical plugin's segment ``name`` whose
        members are the list's customers (``external_id in [...]``, at most
        ``MAX_SEGMENT_MEMBERS``), so that anything targeting saved segments reaches them."""
        name = (name or "").strip()
        if not name:
            raise ValidationError("name: required text")
        as_of = self._as_of(as_of)
        with self.crm.transaction() as tx:
            if problem := text_limit(self.crm, OFFER_LIST_NAME_WIDTH).problem(name):
                raise ValidationError(f"name: {problem}")
            exists = tx.conn.execute(select(offer_lists.c.name)
                                     .where(offer_lists.c.name == name)).first()
            if exists and not replace:
                raise ConflictError(f"offer list {name!r} exists: use --replace to recompute it")
            tx.conn.execute(delete(offer_rows).where(offer_rows.c.list_name == name))
            tx.conn.execute(delete(offer_lists).where(offer_lists.c.name == name))
            settings = self.settings
            found = offers.next_best(tx.conn, settings, as_of)
            tx.conn.execute(offer_lists.insert().values(
                name=name, as_of=as_of, settings={"rules": attrs.asdict(settings.rules),
                                                  "offers": attrs.asdict(settings.offers)},
                created_at=tx.now(), actor=tx.actor))
            if found:
                tx.conn.execute(offer_rows.insert(), [dict(o, list_name=name) for o in found])
            if segment:
                self._save_segment(name, {o["customer_id"] for o in found})
            tx.audit("create", "catalogue_offer_lists", name,
                     {"as_of": as_of.isoformat(), "offers": len(found)})
        return len({o["customer_id"] for o in found})

    def _save_segment(self, name: str, customer_ids: set[int]) -> None:
        """The analytical segment of the offer list's customers (inside the caller's transaction)."""
        if "analytical" not in self.crm.enabled_plugins():
            raise ValidationError("--segment saves an analytical segment: crmkit plugins enable "
                                  "analytical (or save the offer list without --segment)")
        if len(customer_ids) > MAX_SEGMENT_MEMBERS:
            raise ValidationError(f"--segment: {len(customer_ids)} customers; a segment listing "
                                  f"its members holds at most {MAX_SEGMENT_MEMBERS} (target the "
                                  "offer list itself instead)")
        members = sorted(self.crm.customers.external_ids_by_id(customer_ids).values())
        self.crm.plugin("analytical").save_segment(
            name, {"field": "external_id", "op": "in", "value": members},
            f"customers of the catalogue offer list {name!r}", replace=True)

    def offer_list(self, name: str) -> list[dict[str, Any]]:
        """The members of a saved offer list: ``{customer, rank, sku, kind, score}``."""
        with self.crm.read() as conn:
            if conn.execute(select(offer_lists.c.name).where(offer_lists.c.name == name)).first() is None:
                raise NotFound(f"offer list {name!r} not found (crmkit catalogue offers --save "
                               "NAME saves one)")
            rows = conn.execute(
                select(customers.c.external_id, offer_rows.c.rank, offer_rows.c.sku,
                       offer_rows.c.kind, offer_rows.c.score)
                .join(customers, customers.c.id == offer_rows.c.customer_id)
                .where(offer_rows.c.list_name == name)
                .order_by(customers.c.external_id, offer_rows.c.rank)).all()
        return [{"customer": r.external_id, "rank": r.rank, "sku": r.sku, "kind": r.kind,
                 "score": r.score} for r in rows]
