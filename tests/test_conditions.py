"""The shared condition language: checks, Python evaluation, SQL with bound parameters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crmkit import conditions, tables
from crmkit.db import json_array_contains
from crmkit.errors import ConfigError

DATA = {"kind": "complaint", "amount": 50, "tags": ["vip"], "payload": {"lang": "de"}}


@pytest.mark.parametrize("condition, expected", [
    ({"field": "kind", "op": "eq", "value": "complaint"}, True),
    ({"field": "amount", "op": "ge", "value": 50}, True),
    ({"field": "amount", "op": "lt", "value": "x"}, False),
    ({"field": "tags", "op": "contains", "value": "vip"}, True),
    ({"field": "payload.lang", "op": "in", "value": ["de", "fr"]}, True),
    ({"field": "payload.missing", "op": "exists"}, False),
    ({"all": [{"field": "kind", "op": "eq", "value": "complaint"},
              {"not": {"field": "amount", "op": "gt", "value": 100}}]}, True),
    ({"any": []}, False),
    ({"all": []}, True),
])
def test_evaluate(condition, expected):
    conditions.check(condition, {"kind", "amount", "tags", "payload.*"}, "/if")
    assert conditions.evaluate(condition, DATA) is expected


@pytest.mark.parametrize("condition, message", [
    ({"field": "colour", "op": "eq", "value": 1}, "/rules/0/if/field: unknown field 'colour'"),
    ({"field": "kind", "op": "like", "value": 1}, "/rules/0/if/op: 'like' is not an operator"),
    ({"any": [{"field": "kind", "op": "eq"}]}, "/rules/0/if/any/0/value: required"),
    ({"field": "kind", "op": "in", "value": "x"}, "needs a list"),
    ({"field": "kind", "op": "in", "value": [["x"]]}, "needs a list of texts, numbers or booleans"),
    ({"field": "kind", "op": "eq", "value": ["x"]}, "/rules/0/if/value: op 'eq' needs a text, number"),
    ({"field": "kind", "op": "eq", "value": {"a": 1}}, "not dict"),
    ({"field": "kind", "op": "lt", "value": None}, "null can only be compared with eq or ne"),
    ({"field": "kind", "op": "gt", "value": True}, "not a boolean"),
    ([], "a condition must be an object"),
])
def test_check_names_the_pointer(condition, message):
    with pytest.raises(ConfigError, match=message):
        conditions.check(condition, {"kind"}, "/rules/0/if")


def test_sql_uses_bound_parameters_only(crm):
    hostile = "x'; DROP TABLE customers; --"
    crm.customers.add("C1", hostile, tags=["vip"])
    crm.customers.add("C2", "Bob", tags=[])
    c = tables.customers.c

    def column_for(field, op):
        if field == "tags":
            return lambda value: json_array_contains(c.tags, value)
        return {"name": c.name, "external_id": c.external_id}[field]

    condition = {"any": [{"field": "name", "op": "eq", "value": hostile},
                         {"field": "tags", "op": "contains", "value": hostile}]}
    expression = conditions.to_sql(condition, column_for)
    compiled = str(select(c.id).where(expression).compile(dialect=crm.engine.dialect))
    assert "DROP" not in compiled
    with crm.read() as conn:
        assert conn.execute(select(c.external_id).where(expression)).scalars().all() == ["C1"]
        vip = conditions.to_sql({"field": "tags", "op": "contains", "value": "vip"}, column_for)
        assert conn.execute(select(c.external_id).where(vip)).scalars().all() == ["C1"]
    assert crm.customers.count() == 2


def test_days_between_is_portable(crm):
    import datetime as dt

    from crmkit.db import days_between

    crm.customers.add("C1")
    crm.interactions.record("C1", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    crm.interactions.record("C1", dt.datetime(2024, 1, 11, 12, tzinfo=dt.timezone.utc))
    i = tables.interactions.c
    from sqlalchemy import func

    with crm.read() as conn:
        span = conn.execute(select(days_between(func.max(i.occurred_at), func.min(i.occurred_at)))).scalar()
    assert span == pytest.approx(10.5)


@pytest.mark.parametrize("condition, expected", [
    ({"field": "attributes.size", "op": "ge", "value": 10}, ["N12"]),
    ({"field": "attributes.size", "op": "eq", "value": "9"}, ["T9"]),       # text is not a number
    ({"field": "attributes.size", "op": "lt", "value": 100}, ["N12"]),      # "9" never compares
    ({"field": "attributes.vip", "op": "eq", "value": True}, ["B"]),
    ({"field": "attributes.geo.city", "op": "eq", "value": "Oslo"}, ["N12"]),
    ({"field": "attributes.colours", "op": "contains", "value": "red"}, ["B"]),
    ({"field": "attributes.note", "op": "contains", "value": "50%"}, ["T9"]),
    ({"field": "attributes.size", "op": "exists"}, ["N12", "T9"]),
    ({"field": "attributes.it's; --", "op": "eq", "value": 1}, ["B"]),
    ({"field": "tags", "op": "contains", "value": "vip"}, ["B"]),
    ({"field": "type", "op": "in", "value": ["organisation"]}, ["T9"]),
    ({"not": {"field": "attributes.size", "op": "gt", "value": 0}}, ["B", "T9"]),
])
def test_customer_fields_compare_by_json_type_on_both_databases(crm, condition, expected):
    from crmkit.condition_sql import customer_condition

    crm.customers.add("N12", attributes={"size": 12, "geo": {"city": "Oslo"}})
    crm.customers.add("T9", type="organisation", attributes={"size": "9", "note": "up 50% now"})
    crm.customers.add("B", tags=["vip"], attributes={"vip": True, "colours": ["red"],
                                                     "it's; --": 1})
    c = tables.customers.c
    with crm.read() as conn:
        found = conn.execute(select(c.external_id).where(customer_condition(condition))
                             .order_by(c.external_id)).scalars().all()
    assert found == expected


@pytest.mark.parametrize("condition", [
    {"field": "attributes.size", "op": op, "value": value}
    for op in ("eq", "ne") for value in (None, 12, "12")] + [
    {"not": {"field": "attributes.size", "op": "eq", "value": None}},
    {"field": "attributes.size", "op": "exists"},
    {"field": "attributes.size", "op": "lt", "value": 20},
])
def test_python_and_sql_agree_on_missing_and_null_fields(crm, condition):
    """A rule decides the same whether it runs in Python (an event's record) or in SQL (a
    segment, an interaction trigger): ``eq null`` holds for a missing field in both."""
    from crmkit.condition_sql import customer_condition

    people = {"N12": {"size": 12}, "T12": {"size": "12"}, "NULL": {"size": None}, "NONE": {}}
    for external_id, attributes in people.items():
        crm.customers.add(external_id, attributes=attributes)
    c = tables.customers.c
    with crm.read() as conn:
        in_sql = set(conn.execute(select(c.external_id).where(customer_condition(condition)))
                     .scalars())
    in_python = {external_id for external_id, attributes in people.items()
                 if conditions.evaluate(condition, {"attributes": attributes})}
    assert in_python == in_sql


def test_a_preferred_channel_is_compared_as_kept(crm):
    """A segment naming ``Email`` (saved now or before the channels were lowered) selects the
    customers whose preferred channel is kept as ``email``; ``ne`` leaves them out."""
    crm.plugins.enable("analytical")
    crm.customers.add("C1", preferred_channel="Email")
    crm.customers.add("C2", preferred_channel="sms")
    analytical = crm.plugin("analytical")
    c1, c2 = crm.customers.get("C1").id, crm.customers.get("C2").id
    analytical.save_segment("mailable", {"field": "preferred_channel", "op": "eq",
                                         "value": "Email"})
    analytical.save_segment("not mailable", {"field": "preferred_channel", "op": "ne",
                                             "value": " EMAIL "})
    analytical.save_segment("either", {"field": "preferred_channel", "op": "in",
                                       "value": ["Email", "SMS"]})
    assert analytical.segment_members("mailable") == [c1]
    assert analytical.segment_members("not mailable") == [c2]
    assert sorted(analytical.segment_members("either")) == sorted([c1, c2])


@pytest.mark.parametrize("condition, holds", [
    ({"field": "kind", "op": "eq", "value": "Complaint"}, True),
    ({"field": "interaction.kind", "op": "in", "value": ["Visit", " COMPLAINT"]}, True),
    ({"field": "kind", "op": "ne", "value": "Complaint "}, False),
    ({"field": "payload.kind", "op": "eq", "value": "Complaint"}, False),  # a payload as typed
    ({"field": "payload.kind", "op": "eq", "value": "complaint"}, True),
])
def test_a_kind_is_compared_as_kept_in_python(condition, holds):
    data = {"kind": "complaint", "interaction": {"kind": "complaint"},
            "payload": {"kind": "complaint"}}
    assert conditions.evaluate(condition, data) is holds


def test_unknown_customer_field_is_a_config_error():
    from crmkit.condition_sql import customer_condition

    with pytest.raises(ConfigError, match="unknown customer field 'colour'.*allowed"):
        customer_condition({"field": "colour", "op": "eq", "value": 1})
    with pytest.raises(ConfigError, match="JSON key 'a\"b'"):
        customer_condition({"field": 'attributes.a"b', "op": "eq", "value": 1})
    with pytest.raises(ConfigError, match="tags support only"):
        customer_condition({"field": "tags", "op": "gt", "value": 1})


@pytest.mark.parametrize("value, exact", [
    (0.1, "0.1"), (19.99, "19.99"), (5, "5"), ("12.5000", "12.5000"), (1e-4, "0.0001"),
])
def test_a_condition_amount_is_the_exact_decimal_it_reads_as(value, exact):
    from decimal import Decimal

    from crmkit.types import condition_money

    assert condition_money(value) == Decimal(exact)


@pytest.mark.parametrize("condition, message", [
    ({"field": "amount", "op": "ge", "value": 10.00005},
     "/if/value: 10.00005 has more than 4 decimal places"),
    ({"any": [{"field": "kind", "op": "eq", "value": "x"},
              {"field": "amount", "op": "in", "value": [1, "2.123456"]}]},
     "/if/any/1/value/1: 2.123456 has more than 4 decimal places"),
    ({"field": "amount", "op": "lt", "value": "ten"},
     "/if/value: 'ten' is not a number"),
])
def test_money_fields_refuse_what_money_cannot_hold_instead_of_rounding(condition, message):
    with pytest.raises(ConfigError) as caught:
        conditions.check(condition, {"amount", "kind"}, "/if", money_fields=("amount",))
    assert str(caught.value).startswith(message)
    conditions.check(condition, {"amount", "kind"}, "/if")  # other numbers are not money


@pytest.mark.parametrize("condition, expected", [
    ({"field": "amount", "op": "le", "value": 10.1}, True),
    ({"field": "amount", "op": "eq", "value": 10.1}, True),
    ({"field": "amount", "op": "ge", "value": 10.1}, True),
    ({"field": "amount", "op": "lt", "value": 10.1}, False),
    ({"field": "amount", "op": "in", "value": [3, 10.1]}, True),
    ({"field": "amount", "op": "ne", "value": 10.1}, False),
    ({"field": "amount", "op": "gt", "value": 10.0999}, True),
])
def test_a_money_amount_compares_with_the_number_as_written_not_its_binary_float(condition,
                                                                                 expected):
    from decimal import Decimal

    # a purchase of 10.10 read from the database is Decimal("10.1000"); the float 10.1 is
    # 10.0999999999999996…, so an exact Decimal/float comparison would put 10.10 above it
    assert conditions.evaluate(condition, {"amount": Decimal("10.1000")}) is expected


def test_json_path_statements_are_cached_by_their_keys_and_answer_right(crm):
    from crmkit.condition_sql import JsonPath

    crm.customers.add("C1", "Ann", attributes={"city": "Oslo", "size": "L"})
    a = tables.customers.c.attributes

    def city_or_size(key):  # a new statement object each time, as a hook builds one per call
        return select(JsonPath(a, [key]).text()).where(tables.customers.c.external_id == "C1")

    with crm.read() as conn:
        answers = [(conn.execute(city_or_size(key)), key) for key in ("city", "size", "city")]
        assert [(result.scalar(), key) for result, key in answers] == [
            ("Oslo", "city"), ("L", "size"), ("Oslo", "city")]
        # the third statement reused the first one's compiled form (no compiling per call)
        assert answers[2][0].context.cache_hit.name == "CACHE_HIT"
