"""operational's public API: ``crm.plugin("operational")``.

Customers are given as an internal id (int) or an external id (str).  Writes
join the caller's transaction; computations take ``as_of`` (default: now).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import select

from crmkit.plugin import PluginAPI, NotFound, Transaction, ValidationError, customers

from . import (assignment, automation, cases, cycle, forecast, funnel, pipeline, reactions,
               rows, scoring, sources)
from . import tasks as task_service
from .settings import Settings
from .tables import leads

PLUGIN = "operational"


class OperationalAPI(PluginAPI):
    """Funnel, scoring, assignment, tasks, cases and automation of one CRM."""

    plugin = "operational"
    settings_class = Settings

    # -- plumbing ------------------------------------------------------------------

    def _write(self):
        return _Writer(self.crm)

    @contextlib.contextmanager
    def _read(self):
        """operational's context on a read connection (for computations that write nothing)."""
        with self.crm.read() as conn:
            yield Transaction(self.crm, conn, self.crm.actor).context(PLUGIN)

    def _id(self, conn, customer: int | str) -> int:
        if isinstance(customer, int) and not isinstance(customer, bool):
            return customer
        found = conn.execute(select(customers.c.id)
                             .where(customers.c.external_id == customer)).scalar()
        if found is None:
            raise NotFound(f"no customer {customer!r}")
        return found

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else as_of

    # -- contract with other plugins -------------------------------------------------

    def assign_to_team(self, team: str, customer_id: int, subject: str) -> str | None:
        """A staff handle of ``team`` by its strategy (capacity respected), or None + ``assignment.failed``."""
        with self._write() as ctx:
            return assignment.assign_team(ctx, team, [(self._id(ctx.conn, customer_id), subject)])[0]

    def open_case(self, customer_id: int | str, subject: str, priority: str = "normal",
                  source: str | None = None) -> int:
        """Open a service case with SLA due times; return its id."""
        with self._write() as ctx:
            return cases.open_case(ctx, self._id(ctx.conn, customer_id), subject, priority, source)

    def create_task(self, customer_id: int | str, subject: str, assignee: str | None,
                    due: dt.datetime) -> int:
        """Create an open task; return its id."""
        with self._write() as ctx:
            return task_service.create_task(ctx, self._id(ctx.conn, customer_id), subject,
                                            assignee, due)

    # -- leads and scoring ----------------------------------------------------------------

    def lead(self, customer: int | str) -> dict[str, Any] | None:
        """The customer's lead row (stage, score, owner) or None when not in the funnel."""
        with self.crm.read() as conn:
            row = conn.execute(select(leads).where(
                leads.c.customer_id == self._id(conn, customer))).mappings().first()
        if row is None:
            return None
        result = dict(row)
        del result["hits"]
        result["score"] = scoring.round_score(result["score"], float("inf"))
        return result

    def set_lead_stage(self, customer: int | str, stage: str) -> None:
        """Move a lead (forward unless funnel.allow_backward; disqualified is final)."""
        with self._write() as ctx:
            funnel.move_leads(ctx, [(self._id(ctx.conn, customer), stage)])

    def assign_lead(self, customer: int | str, team: str | None = None) -> str | None:
        """(Re)assign a lead to ``team`` or by territory; return the new owner (None: nobody free)."""
        with self._write() as ctx:
            cid = self._id(ctx.conn, customer)
            if rows.lead_rows(ctx.conn, [cid]).get(cid) is None:
                raise NotFound(f"customer {customer!r} is not in the lead funnel")
            return funnel.assign_leads(ctx, [cid], only_unowned=False, team=team).get(cid)

    def score(self, customer: int | str, as_of: dt.datetime | None = None) -> Decimal | None:
        """The lead score computed at ``as_of`` (not stored); None when not a lead."""
        with self._read() as ctx:
            cid = self._id(ctx.conn, customer)
            return scoring.compute(ctx, [cid], self._as_of(as_of)).get(cid)

    def rescore(self, as_of: dt.datetime | None = None) -> tuple[int, list[int]]:
        """Recompute every lead's score and promote; return (leads scored, promoted ids)."""
        with self._write() as ctx:
            return scoring.rescore(ctx, None, self._as_of(as_of))

    def scores(self, stage: str | None = None, min_score: float | None = None,
               limit: int | None = 1000, owner: str | None = None) -> list[dict[str, Any]]:
        """Stored scores, highest first (``owner``: only the leads of this staff handle)."""
        with self.crm.read() as conn:
            return scoring.stored_scores(conn, stage, min_score, limit, owner)

    # -- opportunities -------------------------------------------------------------------

    def create_opportunity(self, customer: int | str, name: str, amount: Any,
                           currency: str | None = None, owner: str | None = None,
                           expected_close: dt.date | None = None, stage: str | None = None) -> int:
        """Create an opportunity; return its id."""
        with self._write() as ctx:
            return funnel.create_opportunity(ctx, self._id(ctx.conn, customer), name, amount,
                                             currency, owner, expected_close, stage)

    def move_opportunity(self, opportunity_id: int, stage: str) -> int | None:
        """Move an opportunity; return the renewal opportunity's id when a win created one."""
        with self._write() as ctx:
            return funnel.move_opportunity(ctx, opportunity_id, stage)

    def opportunities(self, stage: str | None = None, owner: str | None = None,
                      customer: int | str | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """Opportunities, newest first (at most ``limit``)."""
        with self.crm.read() as conn:
            cid = self._id(conn, customer) if customer is not None else None
            return funnel.opportunity_list(conn, stage, owner, cid, limit)

    def opportunity(self, opportunity_id: int) -> dict[str, Any]:
        """One opportunity (with its customer's external id)."""
        with self.crm.read() as conn:
            found = funnel.opportunity_list(conn, opportunity_id=opportunity_id)
        if not found:
            raise NotFound(f"no opportunity with id {opportunity_id}")
        return found[0]

    def stage_history(self, entity: str, record_id: int) -> list[dict[str, Any]]:
        """Stage history of a lead (record id = customer id) or an opportunity, oldest first."""
        with self.crm.read() as conn:
            return funnel.history(conn, entity, record_id)

    def weighted_pipeline(self, as_of: dt.datetime | None = None,
                          by: Sequence[str] = ("stage",), owner: str | None = None
                          ) -> list[dict[str, Any]]:
        """Σ amount × probability of open opportunities per ``by`` and currency, with the
        expected revenue other plugins contribute (``crmkit_forecast_contributions``); only
        ``owner``'s opportunities and contributions when ``owner`` is given."""
        moment = self._as_of(as_of)
        with self.crm.read() as conn:
            rows = pipeline.weighted_pipeline(conn, self.settings.funnel.stages, moment, by, owner)
        answers = self.crm.hooks.call("crmkit_forecast_contributions", None, crm=self.crm,
                                      as_of=moment)
        contributed = [item for _, found in answers for item in found or ()
                       if owner is None or item.get("owner") == owner]
        return pipeline.with_contributions(rows, contributed, by)

    def sales_cycles(self, as_of: dt.datetime | None = None, since: dt.datetime | None = None
                     ) -> list[dict[str, Any]]:
        """Every opportunity won in ``(since, as_of]`` with its sales-cycle length in days
        (from its customer's lead, or from the opportunity itself)."""
        with self.crm.read() as conn:
            return cycle.cycles(conn, self._as_of(as_of), since)

    def sales_cycle(self, as_of: dt.datetime | None = None, since: dt.datetime | None = None,
                    by: str | None = None) -> list[dict[str, Any]]:
        """Median, quartiles, mean and distribution of the sales-cycle length, overall, by
        ``"owner"`` or by lead ``"source"``."""
        if by not in (None, "owner", "source"):
            raise ValidationError(f"by: {by!r} is not one of owner, source (or nothing: "
                                  "overall)")
        rows = self.sales_cycles(as_of, since)
        return cycle.summary(rows, by) if rows else []

    def lead_sources(self, as_of: dt.datetime | None = None, since: dt.datetime | None = None
                     ) -> list[dict[str, Any]]:
        """Leads, conversions and won revenue (per currency) by lead source, for the leads
        created in ``(since, as_of]``."""
        with self.crm.read() as conn:
            return sources.attribution(conn, self._as_of(as_of), since)

    def forecast_accuracy(self, as_of: dt.datetime | None = None, months: int = 12
                          ) -> dict[str, list[dict[str, Any]]]:
        """The weighted pipeline at each month's start against what was won in the month,
        for the last ``months`` whole months: per month, and MAPE and bias per currency."""
        if months < 1:
            raise ValidationError(f"months: {months} must be at least 1")
        with self.crm.read() as conn:
            return forecast.accuracy(conn, self.settings.funnel.stages, self._as_of(as_of),
                                     months)

    def stage_counts(self, as_of: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The funnel at ``as_of``: per stage, the records at it now, the customers who
        reached it (or a later stage) and the conversion to the next stage, in percent."""
        with self.crm.read() as conn:
            return pipeline.stage_counts(conn, self.settings.funnel.stages, self._as_of(as_of))

    # -- tasks -------------------------------------------------------------------------------

    def complete_task(self, task_id: int) -> None:
        """Mark a task done."""
        with self._write() as ctx:
            task_service.close_task(ctx, task_id, "done")

    def cancel_task(self, task_id: int) -> None:
        """Cancel a task."""
        with self._write() as ctx:
            task_service.close_task(ctx, task_id, "cancelled")

    def tasks(self, overdue: bool = False, assignee: str | None = None,
              status: str | None = "open", customer: int | str | None = None,
              as_of: dt.datetime | None = None, limit: int | None = 1000) -> list[dict[str, Any]]:
        """Tasks by due time (``overdue``: open and due before ``as_of``)."""
        with self.crm.read() as conn:
            cid = self._id(conn, customer) if customer is not None else None
            return task_service.list_tasks(conn, self._as_of(as_of), overdue, assignee, status, cid,
                                           limit)

    def task(self, task_id: int) -> dict[str, Any]:
        """One task (with its customer's external id)."""
        with self.crm.read() as conn:
            found = task_service.list_tasks(conn, self.crm.clock.now(), status=None,
                                            task_id=task_id)
        if not found:
            raise NotFound(f"no task with id {task_id}")
        return found[0]

    # -- cases -------------------------------------------------------------------------------

    def move_case(self, case_id: int, status: str) -> None:
        """Move a case through open → in_progress → resolved → closed (reopen within reopen_days)."""
        with self._write() as ctx:
            cases.move_case(ctx, case_id, status)

    def respond(self, case_id: int) -> bool:
        """Record the first response to a case now; False if it already had one."""
        with self._write() as ctx:
            return cases.respond(ctx, case_id)

    def cases(self, status: str | None = None, assignee: str | None = None,
              customer: int | str | None = None, limit: int | None = 1000) -> list[dict[str, Any]]:
        """Cases, newest first."""
        with self.crm.read() as conn:
            cid = self._id(conn, customer) if customer is not None else None
            return cases.list_cases(conn, status, assignee, cid, limit)

    def case(self, case_id: int) -> dict[str, Any]:
        """One case (with its customer's external id)."""
        with self.crm.read() as conn:
            found = cases.list_cases(conn, case_id=case_id)
        if not found:
            raise NotFound(f"no case with id {case_id}")
        return found[0]

    # -- automation and the clock --------------------------------------------------------------

    def firings(self, rule: str | None = None, status: str | None = None,
                customer: int | str | None = None) -> list[dict[str, Any]]:
        """Recorded rule firings, newest first."""
        with self.crm.read() as conn:
            cid = self._id(conn, customer) if customer is not None else None
            return automation.firing_list(conn, rule, status, cid)

    def sweep(self) -> dict[str, int]:
        """Run operational's time-based rules at the CRM clock's now (idempotent)."""
        with self._write() as ctx:
            return reactions.sweep(ctx)


class _Writer:
    """``with _Writer(crm) as ctx``: operational's hook context in a (joined) transaction."""

    def __init__(self, crm):
        self.crm = crm
        self._cm = None

    def __enter__(self):
        self._cm = self.crm.transaction()
        tx = self._cm.__enter__()
        return tx.context(PLUGIN)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
