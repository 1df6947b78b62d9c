"""Stages 3–5 records: network members, value propositions, customer lifecycle actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from crmkit.plugin import NotFound, ValidationError, customers, text_limit

from .tables import actions, network, propositions

NETWORK_KINDS = ("supplier", "partner", "employee", "owner")
ACTION_KINDS = ("acquisition", "retention", "development")


def _text(tx, value: str | None, field: str, width: int) -> str:
    """``value`` trimmed: required text within ``width`` characters and the core config's
    ``max_field_length`` (:func:`crmkit.plugin.text_limit`)."""
    if value is None or not value.strip():
        raise ValidationError(f"{field}: required text")
    return optional_text(tx, value.strip(), field, width)


def optional_text(tx, value: str | None, field: str, width: int) -> str | None:
    """``value`` (None allowed), refused when longer than ``width`` characters or the core
    config's ``max_field_length`` (:func:`crmkit.plugin.text_limit`)."""
    if value is not None and (problem := text_limit(tx.crm, width).problem(value)):
        raise ValidationError(f"{field}: {problem}")
    return value


def add_member(tx, kind: str, name: str, role: str, group: str | None = None,
               customer: str | None = None) -> int:
    """Record a network member and its role towards the SSCs (optionally one group or SSC)."""
    if kind not in NETWORK_KINDS:
        raise ValidationError(f"kind: {kind!r} is not one of {', '.join(NETWORK_KINDS)}")
    values = {"kind": kind, "name": _text(tx, name, "name", 300),
              "role": _text(tx, role, "role", 1000),
              "ssc_group": optional_text(tx, group, "group", 100), "customer_id": None,
              "recorded_at": tx.now(), "recorded_by": tx.actor}
    if customer is not None:
        row = tx.conn.execute(select(customers.c.id).where(customers.c.external_id == customer)).first()
        if row is None:
            raise NotFound(f"no customer {customer!r}")
        values["customer_id"] = row.id
    return tx.conn.execute(insert(network).values(**values).returning(network.c.id)).scalar_one()


def members(conn) -> list[dict[str, Any]]:
    """Every network member."""
    query = (select(network.c.id, network.c.kind, network.c.name, network.c.role,
                    network.c.ssc_group.label("group"), customers.c.external_id.label("customer"),
                    network.c.recorded_at)
             .outerjoin(customers, customers.c.id == network.c.customer_id)
             .order_by(network.c.kind, network.c.id))
    return [dict(r) for r in conn.execute(query).mappings()]


def set_proposition(tx, group: str, text: str) -> None:
    """Record (or replace) the value proposition of an SSC group."""
    text = _text(tx, text, "proposition", 2000)
    group = _text(tx, group, "group", 100)
    values = {"proposition": text, "recorded_at": tx.now(), "recorded_by": tx.actor}
    old = tx.conn.execute(select(propositions.c.proposition)
                          .where(propositions.c.ssc_group == group)).scalar()
    if old is None:
        tx.conn.execute(insert(propositions).values(ssc_group=group, **values))
    else:
        tx.conn.execute(update(propositions).where(propositions.c.ssc_group == group).values(**values))
    tx.context("valuechain").audit("set_proposition", "valuechain_propositions", group,
                                   {"proposition": [old, text]})


def proposition_map(conn) -> dict[str, str]:
    """SSC group → value proposition."""
    return dict(conn.execute(select(propositions.c.ssc_group, propositions.c.proposition)).all())


def add_action(tx, group: str, kind: str, description: str) -> int:
    """Record a lifecycle action (acquisition, retention, development) for an SSC group."""
    if kind not in ACTION_KINDS:
        raise ValidationError(f"kind: {kind!r} is not one of {', '.join(ACTION_KINDS)}")
    return tx.conn.execute(insert(actions).values(
        ssc_group=_text(tx, group, "group", 100), kind=kind,
        description=_text(tx, description, "description", 2000), recorded_at=tx.now(),
        recorded_by=tx.actor).returning(actions.c.id)).scalar_one()


def action_list(conn) -> list[dict[str, Any]]:
    """Every lifecycle action."""
    query = select(actions.c.ssc_group.label("group"), actions.c.kind, actions.c.description,
                   actions.c.recorded_at).order_by(actions.c.ssc_group, actions.c.kind, actions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]
