"""idic's public API: ``crm.plugin("idic")``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import attrs
from sqlalchemy import insert, select

from crmkit.plugin import PluginAPI, NotFound, ValidationError, customers

from . import customise, differentiate, duplicates, interact, progress
from .settings import Settings
from .tables import dismissed, groups, runs


class IdicAPI(PluginAPI):
    """Identify, differentiate, interact, customise (Peppers & Rogers) over this CRM."""

    plugin = "idic"
    settings_class = Settings

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else as_of

    # -- identify ----------------------------------------------------------------

    def records(self) -> list[duplicates.Record]:
        """Every customer not erased, with social handles when the social plugin is enabled."""
        handles: dict[int, set[str]] = defaultdict(set)
        if "social" in self.crm.enabled_plugins():
            for customer_id, _platform, handle in self.crm.plugin("social").handles():
                handles[customer_id].add(handle)
        c = customers.c
        with self.crm.read() as conn:
            rows = conn.execute(select(c.id, c.external_id, c.type, c.name, c.email, c.phone)
                                .where(c.erased_at.is_(None)).order_by(c.id)).all()
        return [duplicates.Record(r.id, r.external_id, r.type, r.name, r.email, r.phone,
                                  handles=frozenset(handles.get(r.id, ()))) for r in rows]

    def find_duplicates(self, min_score: float | None = None) -> duplicates.Result:
        """Candidate duplicate pairs (best first), each with a score and its reasons."""
        settings = self.settings.matching
        if min_score is not None:
            if not 0 <= min_score <= 1:
                raise ValidationError(f"min_score: {min_score} is outside 0 to 1")
            settings = attrs.evolve(settings, min_score=min_score)
        with self.crm.read() as conn:
            gone = {(a, b) for a, b in conn.execute(select(dismissed.c.first_id,
                                                            dismissed.c.second_id))}
        return duplicates.find_pairs(self.records(), settings, gone)

    def dismiss(self, first: str, second: str) -> None:
        """Record that two customers are different people (the pair is no longer listed)."""
        with self.crm.transaction() as tx:
            ids = self.crm.customers.ids_by_external_id([first, second], tx.conn)
            for ext in (first, second):
                if ext not in ids:
                    raise NotFound(f"no customer {ext!r}")
            if first == second:
                raise ValidationError("a customer cannot be a duplicate of itself")
            low, high = sorted((ids[first], ids[second]))
            present = tx.conn.execute(select(dismissed.c.first_id).where(
                dismissed.c.first_id == low, dismissed.c.second_id == high)).first()
            if present is None:
                tx.conn.execute(insert(dismissed), {"first_id": low, "second_id": high,
                                                    "at": tx.now(), "actor": tx.actor})
                tx.context("idic").audit("dismiss", "idic_dismissed_pairs",
                                         f"{first}|{second}", {"not_duplicates": [first, second]},
                                         customer_id=low)

    def merge(self, keep: str, duplicate: str):
        """Merge ``duplicate`` into ``keep`` through the core merge (every plugin's rows move)."""
        return self.crm.customers.merge(keep, duplicate)

    def identification_rate(self, as_of: dt.datetime | None = None,
                            since: dt.datetime | None = None) -> progress.IdentificationRate:
        """Share of interactions (up to as-of, from ``since``) attributed to an identified customer."""
        with self.crm.read() as conn:
            return progress.identification_rate(self.crm, conn, self.settings, self._as_of(as_of),
                                                since)

    # -- differentiate -----------------------------------------------------------

    def differentiate(self, as_of: dt.datetime | None = None,
                      save: bool = True) -> differentiate.Differentiation:
        """Group every customer by value and needs; saved as a run, running treatments updated."""
        as_of = self._as_of(as_of)
        with self.crm.transaction() as tx:
            result = differentiate.run(self.crm, tx, self.settings, as_of, save=save)
            if save and result.run_id is not None:
                customise.assign(tx, result.run_id, as_of)
            return result

    def last_differentiation(self) -> dt.datetime | None:
        """The as-of moment of the latest stored differentiation run."""
        with self.crm.read() as conn:
            return conn.execute(select(runs.c.as_of).order_by(runs.c.as_of.desc()).limit(1)).scalar()

    def differentiation_run(self, as_of: dt.datetime | None = None) -> dict[str, Any] | None:
        """The latest stored run at or before ``as_of`` (any if None): ``as_of``,
        ``value_groups``, ``needs_groups`` and ``clv_missing`` (why potential value was 0
        for everyone: no predicted CLV; None when there was CLV); None without a run."""
        with self.crm.read() as conn:
            run_id = differentiate.latest_run_id(conn, as_of)
            if run_id is None:
                return None
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().one()
        return {"as_of": row["as_of"], "value_groups": row["counts"]["value"],
                "needs_groups": row["counts"]["needs"],
                "clv_missing": row["settings"].get("clv_missing")}

    def groups(self, as_of: dt.datetime | None = None, group: str | None = None
               ) -> list[dict[str, Any]]:
        """Members of the latest run at or before as-of (optionally of one value/needs group)."""
        with self.crm.read() as conn:
            run_id = differentiate.latest_run_id(conn, self._as_of(as_of))
            if run_id is None:
                return []
            query = (select(customers.c.external_id.label("customer"), customers.c.name,
                            groups.c.value_group, groups.c.needs_group, groups.c.current_value,
                            groups.c.potential_value, groups.c.cost_to_serve)
                     .join(customers, customers.c.id == groups.c.customer_id)
                     .where(groups.c.run_id == run_id).order_by(customers.c.id))
            if group is not None:
                query = query.where((groups.c.value_group == group) | (groups.c.needs_group == group))
            return [dict(r) for r in conn.execute(query).mappings()]

    def group_of(self, external_id: str, as_of: dt.datetime | None = None) -> str | None:
        """A customer's value group in the latest run at or before as-of (None if not in one)."""
        with self.crm.read() as conn:
            run_id = differentiate.latest_run_id(conn, self._as_of(as_of))
            return conn.execute(select(groups.c.value_group)
                                .join(customers, customers.c.id == groups.c.customer_id)
                                .where(groups.c.run_id == run_id,
                                       customers.c.external_id == external_id)).scalar()

    # -- interact ----------------------------------------------------------------

    def due(self, as_of: dt.datetime | None = None, group: str | None = None
            ) -> list[interact.DueContact]:
        """Customers due for contact under their group's contact plan."""
        with self.crm.read() as conn:
            return interact.due(conn, self.settings, self._as_of(as_of), group)

    def record_dialogue(self, external_id: str, summary: str | None = None,
                        channel: str | None = None, at: dt.datetime | None = None,
                        direction: str = "outbound") -> int:
        """Record a dialogue with a customer; outbound needs consent on the channel."""
        with self.crm.transaction() as tx:
            return interact.record_dialogue(self.crm, tx, self.settings, external_id, channel,
                                            summary, self._as_of(at), direction)

    # -- customise ---------------------------------------------------------------

    def add_treatment(self, name: str, group: str, type: str, detail: str,
                      holdout_share: float | None = None,
                      start: dt.datetime | None = None) -> customise.Treatment:
        """Start a treatment for a group; members are split treated / holdout deterministically."""
        with self.crm.transaction() as tx:
            return customise.add(tx, self.settings, name, group, type, detail, holdout_share,
                                 self._as_of(start))

    def end_treatment(self, name: str, at: dt.datetime | None = None) -> customise.Treatment:
        """Stop a treatment."""
        with self.crm.transaction() as tx:
            return customise.end(tx, name, self._as_of(at))

    def treatments(self) -> list[customise.Treatment]:
        """Every treatment with its arm sizes."""
        with self.crm.read() as conn:
            return customise.list_all(conn)

    def uplift(self, name: str, metric: str = "revenue",
               as_of: dt.datetime | None = None) -> customise.Uplift:
        """Treated minus holdout on ``revenue``, ``purchases`` or ``purchase_rate``."""
        with self.crm.read() as conn:
            return customise.uplift(conn, self.settings, name, metric, self._as_of(as_of))

    # -- progress ----------------------------------------------------------------

    def progress(self, external_id: str, as_of: dt.datetime | None = None) -> progress.Progress:
        """One customer's IDIC progress (0–4)."""
        with self.crm.read() as conn:
            found = progress.per_customer(self.crm, conn, self.settings, self._as_of(as_of),
                                          external_id)
        if not found:
            raise NotFound(f"no customer {external_id!r} (not erased) at that date")
        return found[0]

    def progress_list(self, as_of: dt.datetime | None = None) -> list[progress.Progress]:
        """Every customer's IDIC progress."""
        with self.crm.read() as conn:
            return progress.per_customer(self.crm, conn, self.settings, self._as_of(as_of))

    def report(self, as_of: dt.datetime | None = None) -> dict[str, Any]:
        """The IDIC report: identification, groups, contacts due, treatments, progress."""
        as_of = self._as_of(as_of)
        run = self.differentiation_run(as_of)
        with self.crm.read() as conn:
            rate = progress.identification_rate(self.crm, conn, self.settings, as_of)
            dist = progress.distribution(self.crm, conn, self.settings, as_of)
            due = interact.due(conn, self.settings, as_of) if run is not None else []
            treats = customise.list_all(conn)
        return {
            "as_of": as_of,
            "identify": {"interactions": rate.interactions, "identified": rate.identified,
                         "identification_rate": rate.rate},
            "differentiate": run or "no differentiation yet (`crmkit idic differentiate`)",
            "interact": {"due": len(due),
                         "due_by_plan": {p: sum(1 for d in due if d.plan == p)
                                         for p in sorted({d.plan for d in due})}},
            "customise": [{"treatment": t.name, "group": t.group, "type": t.type,
                           "treated": t.treated, "held_out": t.held_out,
                           "running": t.start <= as_of and (t.end is None or t.end >= as_of)}
                          for t in treats],
            "progress": dist,
        }
