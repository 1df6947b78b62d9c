"""Buttle's five primary stages, completed strictly in order, each with its check.

1. portfolio — at least ``min_ssc`` SSCs are marked;
2. intimacy — the SSCs' mean profile completeness ≥ ``min_intimacy``;
3. network — a member of each ``network_kinds_required`` kind is recorded;
4. proposition — every SSC group has a value proposition;
5. lifecycle — every SSC group has an action of each ``lifecycle_action_kinds`` kind.

Completing stage N needs stage N−1 completed (the error names it) and stage
N's check met.  Reopening a stage reopens every later one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import attrs
from sqlalchemy import delete, insert, select

from crmkit.plugin import ValidationError

from . import intimacy, network, portfolio
from .errors import StageError
from .settings import Settings
from .tables import actions, stages

NAMES = {1: "customer portfolio analysis", 2: "customer intimacy", 3: "network development",
         4: "value proposition", 5: "managing the customer lifecycle"}
KEYS = {"portfolio": 1, "intimacy": 2, "network": 3, "proposition": 4, "lifecycle": 5}


def stage_number(stage: int | str) -> int:
    """A stage given as 1–5 or by key (portfolio, intimacy, network, proposition, lifecycle)."""
    if isinstance(stage, str) and stage.isdigit():
        stage = int(stage)
    if isinstance(stage, int) and stage in NAMES:
        return stage
    if isinstance(stage, str) and stage in KEYS:
        return KEYS[stage]
    raise ValidationError(f"stage: {stage!r} is not a stage (1-5 or "
                          f"{', '.join(KEYS)})")


def label(stage: int) -> str:
    """``stage 2 (customer intimacy)``."""
    return f"stage {stage} ({NAMES[stage]})"


def _shown(value: Fraction, threshold: Fraction) -> str:
    """``value`` to six significant digits, or as many more as keep it on its side of
    ``threshold`` (0.6999999 below 0.7 reads 0.6999999, not 0.700000)."""
    digits = 6
    while True:
        with localcontext() as ctx:
            ctx.prec = digits
            text = str(Decimal(value.numerator) / Decimal(value.denominator))
        if (Fraction(text) >= threshold) == (value >= threshold):
            return text
        digits += 1


@attrs.frozen
class Check:
    """Whether a stage's check is met now, with what was measured."""

    stage: int
    met: bool
    detail: str
    evidence: dict[str, Any]


def check(conn, settings: Settings, stage: int) -> Check:
    """Evaluate one stage's check on the current records."""
    if stage == 1:
        sscs = portfolio.list_sscs(conn)
        by_reason = {r: sum(r in s.reasons for s in sscs) for r in portfolio.REASONS}
        met = len(sscs) >= settings.min_ssc
        detail = (f"{len(sscs)} SSC(s) marked (" + ", ".join(f"{n} {r}" for r, n in by_reason.items() if n)
                  + f"); at least {settings.min_ssc} needed") if sscs else \
            f"no SSC marked; at least {settings.min_ssc} needed"
        return Check(1, met, detail, {"sscs": len(sscs), "by_reason": by_reason})
    if stage == 2:
        measured = intimacy.measure(conn, settings)
        threshold = Fraction(str(settings.min_intimacy))     # as configured, not its binary float
        met = measured.sscs > 0 and measured.completeness >= threshold
        detail = (f"SSC profile completeness {_shown(measured.completeness, threshold)} "
                  f"{'>=' if met else 'is below'} min_intimacy {settings.min_intimacy}"
                  f" over {measured.sscs} SSC(s) (fields: {', '.join(settings.profile_fields)})")
        return Check(2, met, detail, {"completeness": float(measured.completeness),
                                      "sscs": measured.sscs,
                                      "least_complete": [(ext, float(share))
                                                         for ext, share in measured.weakest]})
    if stage == 3:
        kinds = {m["kind"] for m in network.members(conn)}
        missing = [k for k in settings.network_kinds_required if k not in kinds]
        detail = ("network members recorded for " + ", ".join(settings.network_kinds_required)
                  if not missing else "no network member of kind " + ", ".join(missing))
        return Check(3, not missing, detail, {"missing_kinds": missing})
    groups = portfolio.ssc_groups(conn)
    if stage == 4:
        have = network.proposition_map(conn)
        missing = [g for g in groups if g not in have]
        met = bool(groups) and not missing
        detail = ("no SSC group yet" if not groups else
                  f"value proposition recorded for every SSC group ({', '.join(groups)})" if met
                  else "no value proposition for SSC group " + ", ".join(missing))
        return Check(4, met, detail, {"groups": groups, "missing_groups": missing})
    pairs = {(g, k) for g, k in conn.execute(select(actions.c.ssc_group, actions.c.kind))}
    missing = [f"{g}: {k}" for g in groups for k in settings.lifecycle_action_kinds
               if (g, k) not in pairs]
    met = bool(groups) and not missing
    detail = ("no SSC group yet" if not groups else
              "lifecycle actions recorded for every SSC group" if met
              else "missing lifecycle actions: " + "; ".join(missing))
    return Check(5, met, detail, {"missing": missing})


def completed(conn) -> dict[int, dict[str, Any]]:
    """Completed stages: number → completion row."""
    return {r["stage"]: dict(r) for r in conn.execute(select(stages)).mappings()}


def complete(tx, settings: Settings, stage: int | str) -> Check:
    """Complete a stage: the previous one must be complete and this one's check met."""
    number = stage_number(stage)
    done = completed(tx.conn)
    if number in done:
        raise StageError(f"{label(number)} was already completed on "
                         f"{done[number]['completed_at']:%Y-%m-%d}")
    if number > 1 and number - 1 not in done:
        first_open = min(n for n in range(1, number) if n not in done)
        raise StageError(f"cannot complete {label(number)}: {label(number - 1)} is not complete"
                         + (f" (the chain is open from {label(first_open)})"
                            if first_open != number - 1 else ""))
    result = check(tx.conn, settings, number)
    if not result.met:
        raise StageError(f"cannot complete {label(number)}: {result.detail}")
    named = dict(result.evidence.get("least_complete", ()))
    evidence = {key: value for key, value in result.evidence.items() if key != "least_complete"}
    tx.conn.execute(insert(stages).values(stage=number, completed_at=tx.now(),
                                          completed_by=tx.actor, evidence=evidence))
    ctx = tx.context("valuechain")
    _audit_completion(ctx, number, evidence, named)
    ctx.emit("valuechain.stage_completed", None, {"stage": number, "name": NAMES[number]})
    return result


def _audit_completion(ctx, number: int, evidence: dict[str, Any],
                      named: dict[str, float]) -> None:
    """Audit a stage's completion: one entry with ``evidence`` (what the stage row keeps: the
    check's evidence but the customers it names) and one for each customer it named (stage 2's
    least complete SSCs, ``named``: external id → completeness), about that customer, so the
    audit log leaves it out for a member a row-level rule hides the customer from (the entry
    is in the customer's timeline, export and erasure too)."""
    ids = ctx.crm.customers.ids_by_external_id(named, ctx.conn) if named else {}
    ctx.audit("complete_stage", "valuechain_stages", str(number), {"evidence": evidence})
    for ref, share in named.items():
        ctx.audit("complete_stage", "valuechain_stages", str(number),
                  {"least_complete": {"customer": ref, "completeness": share}},
                  customer_id=ids[ref])


def reopen(tx, stage: int | str) -> list[int]:
    """Reopen a completed stage and every later one; returns the stages reopened."""
    number = stage_number(stage)
    done = completed(tx.conn)
    if number not in done:
        raise StageError(f"{label(number)} is not complete")
    reopened = sorted(n for n in done if n >= number)
    tx.conn.execute(delete(stages).where(stages.c.stage >= number))
    ctx = tx.context("valuechain")
    ctx.audit("reopen_stage", "valuechain_stages", str(number), {"reopened": reopened})
    ctx.emit("valuechain.stage_reopened", None, {"stages": reopened})
    return reopened


def progress(conn, settings: Settings, as_of: dt.datetime) -> dict[str, Any]:
    """Every stage (completed or not, check now), and the blocking stage."""
    done = {n: row for n, row in completed(conn).items() if row["completed_at"] <= as_of}
    rows = []
    blocking = None
    for number in NAMES:
        result = check(conn, settings, number)
        row = done.get(number)
        rows.append({"stage": number, "name": NAMES[number],
                     "completed_at": row["completed_at"] if row else None,
                     "check_met": result.met, "check": result.detail})
        if row is None and blocking is None:
            blocking = {"stage": number, "name": NAMES[number],
                        "reason": ("ready to complete: " + result.detail) if result.met
                        else result.detail}
    return {"stages": rows, "completed": len(done), "blocking": blocking}
