"""valuechain's public API: ``crm.plugin("valuechain")``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.plugin import PluginAPI

from . import chain, network, portfolio, support
from .settings import Settings


class ValueChainAPI(PluginAPI):
    """Buttle's CRM value chain: SSCs, intimacy, network, propositions, lifecycle, conditions."""

    plugin = "valuechain"
    settings_class = Settings

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else as_of

    # stage 1
    def suggest_ssc(self, as_of: dt.datetime | None = None,
                    top_share: float | None = None) -> list[portfolio.Suggestion]:
        """High-value SSC candidates from predicted CLV (analytical), best first."""
        with self.crm.read() as conn:
            return portfolio.suggest(self.crm, conn, self.settings, self._as_of(as_of), top_share)

    def mark_ssc(self, external_id: str, reasons: list[str], group: str | None = None,
                 note: str | None = None) -> None:
        """Mark a customer as strategically significant (reasons: high_value, benchmark, …)."""
        with self.crm.transaction() as tx:
            portfolio.mark(tx, self.settings, external_id, reasons, group, note)

    def unmark_ssc(self, external_id: str) -> None:
        """Remove a customer's SSC mark."""
        with self.crm.transaction() as tx:
            portfolio.unmark(tx, external_id)

    def sscs(self) -> list[portfolio.SSC]:
        """Every SSC."""
        with self.crm.read() as conn:
            return portfolio.list_sscs(conn)

    # stages 3-5
    def add_network_member(self, kind: str, name: str, role: str, group: str | None = None,
                           customer: str | None = None) -> int:
        """Record a supplier, partner, employee or owner and its role towards the SSCs."""
        with self.crm.transaction() as tx:
            return network.add_member(tx, kind, name, role, group, customer)

    def network(self) -> list[dict[str, Any]]:
        """Every network member."""
        with self.crm.read() as conn:
            return network.members(conn)

    def set_proposition(self, group: str, text: str) -> None:
        """Record the value proposition of an SSC group."""
        with self.crm.transaction() as tx:
            network.set_proposition(tx, group, text)

    def propositions(self) -> dict[str, str]:
        """SSC group → value proposition."""
        with self.crm.read() as conn:
            return network.proposition_map(conn)

    def add_action(self, group: str, kind: str, description: str) -> int:
        """Record an acquisition, retention or development action for an SSC group."""
        with self.crm.transaction() as tx:
            return network.add_action(tx, group, kind, description)

    def actions(self) -> list[dict[str, Any]]:
        """Every lifecycle action."""
        with self.crm.read() as conn:
            return network.action_list(conn)

    # the chain
    def check(self, stage: int | str) -> chain.Check:
        """A stage's check on the current records."""
        with self.crm.read() as conn:
            return chain.check(conn, self.settings, chain.stage_number(stage))

    def complete(self, stage: int | str) -> chain.Check:
        """Complete a stage (refused, naming the missing stage, when the previous one is open)."""
        with self.crm.transaction() as tx:
            return chain.complete(tx, self.settings, stage)

    def reopen(self, stage: int | str) -> list[int]:
        """Reopen a stage and every later one."""
        with self.crm.transaction() as tx:
            return chain.reopen(tx, stage)

    # supporting conditions
    def rate(self, condition: str, rating: int, note: str | None = None) -> None:
        """Rate a supporting condition 1–5."""
        with self.crm.transaction() as tx:
            support.rate(tx, condition, rating, note)

    def conditions(self, as_of: dt.datetime | None = None) -> support.Conditions:
        """Latest ratings, the weakest condition, the unrated ones."""
        with self.crm.read() as conn:
            return support.latest(conn, self._as_of(as_of))

    def report(self, as_of: dt.datetime | None = None) -> dict[str, Any]:
        """The chain's progress, the blocking stage, and the weakest supporting condition."""
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:
            progress = chain.progress(conn, self.settings, as_of)
            conditions = support.latest(conn, as_of)
            sscs = portfolio.list_sscs(conn)
        groups: dict[str, int] = {}
        for s in sscs:
            groups[s.group] = groups.get(s.group, 0) + 1
        return {
            "as_of": as_of,
            "stages": progress["stages"],
            "completed": f"{progress['completed']} of 5",
            "blocking_stage": progress["blocking"] or "none: every stage is complete",
            "sscs": {"total": len(sscs), "by_group": groups},
            "supporting_conditions": {support.LABELS[c]: r for c, r in conditions.ratings.items()},
            "weakest_condition": (
                {"condition": support.LABELS[conditions.weakest],
                 "rating": conditions.ratings[conditions.weakest]}
                if conditions.weakest else "none rated yet"),
            "unrated_conditions": [support.LABELS[c] for c in conditions.unrated],
        }
