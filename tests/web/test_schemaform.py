"""crmkit.web.schemaform: which input each kind of schema gets, how a submitted form reads
back into a document, and where errors are placed by JSON pointer."""

from __future__ import annotations

import pytest

from crmkit.errors import ConfigError, PluginError, ValidationError
from crmkit.web import schemaform

SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["mode"],
    "properties": {
        "mode": {"enum": ["a", "b"], "title": "Mode", "description": "How it works."},
        "on": {"type": "boolean", "default": False},
        "note": {"type": ["string", "null"], "default": None},
        "name": {"type": "string", "default": "x"},
        "limits": {"type": "object", "additionalProperties": False, "required": ["max"],
                   "properties": {"max": {"type": "integer"}, "rate": {"type": "number"}}},
        "codes": {"type": "array", "items": {"type": "integer"}},
        "rule": {"$ref": "#/$defs/condition"},
        "rows": {"type": "array", "items": {"type": "object"}},
        "map": {"type": "object", "additionalProperties": {"type": "string"}},
        "weird/key~": {"type": "string"},
        "calendar": {"type": ["object", "null"], "default": None, "additionalProperties": False,
                     "properties": {"days": {"type": "array", "items": {"type": "integer"}}}},
    },
    "$defs": {"condition": {"type": "object"}},
}
STORED = {"mode": "b", "on": True, "note": None, "name": "n", "limits": {"max": 3, "rate": 0.5},
          "codes": [1, 2], "rule": {"all": []}, "rows": [{"a": 1}], "map": {"k": "v"},
          "weird/key~": "w", "calendar": None}


def flat(field):
    yield field
    for child in field.children:
        yield from flat(child)


def test_each_kind_of_schema_gets_its_input_labelled_by_title_or_name():
    form = schemaform.fields(SCHEMA, STORED)
    kinds = {f.pointer: (f.kind, f.label, f.value) for f in flat(form)}
    assert kinds["/mode"] == ("select", "Mode", '"b"')
    assert kinds["/on"] == ("checkbox", "on", "on")
    assert kinds["/note"] == ("text", "note", "")
    assert kinds["/limits"][:2] == ("fieldset", "limits")
    assert kinds["/limits/max"] == ("integer", "max", "3")
    assert kinds["/limits/rate"] == ("number", "rate", "0.5")
    assert kinds["/codes"] == ("lines", "codes", "1\n2")
    assert [kinds[p][0] for p in ("/rule", "/rows", "/map", "/calendar")] == ["json"] * 4
    assert kinds["/calendar"][2] == "null"  # may be null: edited whole, as JSON
    assert kinds["/weird~1key~0"] == ("text", "weird/key~", "w")
    field = next(f for f in flat(form) if f.pointer == "/weird~1key~0")
    assert (field.name, field.id) == ("config/weird~1key~0", "f-weird.7e.1key.7e.0")
    assert next(f for f in flat(form) if f.pointer == "/mode").help == "How it works."


def test_the_form_as_shown_reads_back_as_the_stored_document():
    form = schemaform.fields(SCHEMA, STORED)
    submitted = {f.name: f.value for f in flat(form) if f.kind != "fieldset"
                 and (f.kind != "checkbox" or f.value)}
    document, problems = schemaform.document(form, submitted)
    assert (document, problems) == (STORED, [])


def test_empty_inputs_take_defaults_nulls_or_empty_lists_and_bad_text_is_passed_on():
    form = schemaform.fields(SCHEMA, None)
    document, problems = schemaform.document(form, {
        "config/mode": "", "config/note": " ", "config/limits/max": "many",
        "config/codes": "\n 4 \nx\n", "config/rule": "{", "config/name": ""})
    assert document == {"on": False, "note": None, "limits": {"max": "many"},
                        "codes": [4, "x"], "calendar": None}
    assert problems == [("/rule", "not valid JSON: Expecting property name enclosed in "
                                  "double quotes (line 1, column 2)")]


def test_json_nested_too_deep_and_numbers_too_long_to_read_are_problems_at_their_fields():
    form = schemaform.fields(SCHEMA, None)
    long_number = "9" * 5000
    document, problems = schemaform.document(form, {
        "config/mode": "[" * 4000 + "]" * 4000, "config/rule": "[" * 4000 + "]" * 4000,
        "config/rows": f"[{long_number}]", "config/limits/max": long_number,
        "config/limits/rate": f"-{long_number}", "config/codes": f"1\n{long_number}"})
    too_long = "a number has more than 4300 digits (the limit)"
    assert problems == [("/limits/max", too_long), ("/limits/rate", too_long),
                        ("/codes", too_long), ("/rule", "nested deeper than 32 levels (the limit)"),
                        ("/rows", too_long)]
    assert document["mode"] == "[" * 4000 + "]" * 4000  # not an option: the schema says so


def test_json_naming_a_key_twice_is_a_problem_at_that_key_of_its_field():
    form = schemaform.fields(SCHEMA, None)
    _, problems = schemaform.document(form, {"config/rule": '{"a": {"b": 1, "b": 2}}'})
    assert problems == [("/rule/a/b", "the key 'b' is given more than once (allowed: each key "
                                      "once)")]


def test_errors_go_to_the_deepest_field_of_their_pointer_and_into_the_summary():
    form = schemaform.fields(SCHEMA, STORED)
    placed, summary = schemaform.place(form, [
        ("/limits/max", "too big"), ("/limits", "'max' is a required property"),
        ("/rows/0/a", "bad"), ("", "whole thing")])
    errors = {f.pointer: f.errors for f in flat(placed) if f.errors}
    assert errors == {"/limits/max": ("too big",), "/limits": ("'max' is a required property",),
                      "/rows": ("bad",)}
    assert [(f.id if f else None, p, m) for f, p, m in summary] == [
        ("f-limits-max", "/limits/max", "too big"),
        ("f-limits", "/limits", "'max' is a required property"),
        ("f-rows", "/rows/0/a", "bad"), (None, "/", "whole thing")]


@pytest.mark.parametrize("error, problems", [
    (ValidationError("x", [("body", "/a", "m")]), [("/a", "m")]),
    (ConfigError("plugin 'p' config: /a: m; /b: n", [("/a", "m"), ("/b", "n")]),
     [("/a", "m"), ("/b", "n")]),
    (ConfigError("/tiers/1/threshold: 0 is not above"), [("/tiers/1/threshold",
                                                          "0 is not above")]),
    (ConfigError("core config /roles/r/0: 'x' is not"), [("/roles/r/0", "'x' is not")]),
    (PluginError("plugin 'p' is broken: boom"), [("", "plugin 'p' is broken: boom")]),
])
def test_problems_are_read_from_each_kind_of_error(error, problems):
    assert schemaform.problems_of(error) == problems


def test_config_validation_lists_each_problem_by_pointer():
    from crmkit.config import validate

    with pytest.raises(ConfigError) as refused:
        validate(SCHEMA, {"mode": "c", "limits": {"max": "x"}, "extra": 1}, "plugin 'p' config")
    assert refused.value.problems == [
        ("/extra", "unknown key (allowed: keys calendar, codes, limits, map, mode, name, note, on, "
                   "rows, rule, weird/key~)"),
        ("/limits/max", "'x' is not of type 'integer' (allowed: type integer)"),
        ("/mode", "'c' is not one of ['a', 'b'] (allowed: \"a\", \"b\")")]
    assert str(refused.value).startswith("plugin 'p' config: /extra: unknown key")
