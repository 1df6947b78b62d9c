"""The funnel's stage model: lead stages, configured opportunity stages, and which moves are allowed.

Order: ``lead → mql → sal → sql → <opportunity stages> → won``.  Exits:
``disqualified`` from any lead stage, ``lost`` from any opportunity stage.
Moves go forward one or more stages; backward only with ``allow_backward``;
``won``, ``lost`` and ``disqualified`` are final.
"""

from __future__ import annotations

from typing import Any, Sequence

from crmkit.plugin import ValidationError

LEAD_STAGES = ("lead", "mql", "sal", "sql")
DISQUALIFIED = "disqualified"
WON = "won"
LOST = "lost"
FINAL = (WON, LOST, DISQUALIFIED)


class Stages:
    """The stage order and win probabilities of one configuration."""

    def __init__(self, opportunity_stages: Sequence[dict[str, Any]], allow_backward: bool):
        self.opportunity = [s["name"] for s in opportunity_stages]
        self.probability = {s["name"]: s["probability"] for s in opportunity_stages}
        self.probability.update({WON: 100, LOST: 0})
        self.allow_backward = allow_backward
        self.order = {name: i for i, name in enumerate(LEAD_STAGES + tuple(self.opportunity) + (WON,))}

    @property
    def first_opportunity_stage(self) -> str:
        """Where a new opportunity starts unless told otherwise."""
        return self.opportunity[0]

    def check_lead(self, what: str, current: str | None, to: str) -> None:
        """Raise ValidationError unless a lead may move from ``current`` to ``to``."""
        allowed = LEAD_STAGES + (DISQUALIFIED,)
        if to not in allowed:
            raise ValidationError(
                f"{what}: {to!r} is not a lead stage (allowed: {', '.join(allowed)}); "
                "opportunity stages belong to opportunities")
        self._check(what, current, to, exit_stage=DISQUALIFIED)

    def check_opportunity(self, what: str, current: str | None, to: str) -> None:
        """Raise ValidationError unless an opportunity may move from ``current`` to ``to``."""
        allowed = tuple(self.opportunity) + (WON, LOST)
        if to not in allowed:
            raise ValidationError(f"{what}: {to!r} is not an opportunity stage "
                                  f"(allowed: {', '.join(allowed)})")
        self._check(what, current, to, exit_stage=LOST)

    def _check(self, what: str, current: str | None, to: str, exit_stage: str) -> None:
        if current is None:
            return
        if current in FINAL:
            hint = ("create a new opportunity to reopen it" if current in (WON, LOST)
                    else "a disqualified lead stays disqualified")
            raise ValidationError(f"{what}: cannot leave {current!r} ({hint})")
        if to == current:
            raise ValidationError(f"{what}: already at stage {to!r}")
        if to == exit_stage:
            return
        if current not in self.order:
            return  # a stage no longer configured: any configured stage is a way forward
        if self.order[to] < self.order[current] and not self.allow_backward:
            raise ValidationError(f"{what}: moving back from {current!r} to {to!r} is not allowed "
                                  "(funnel.allow_backward is false)")
